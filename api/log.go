package api

// Log attribute keys, kept in one place so every record uses the same names.
const (
	logKeyDuration    = "duration"
	logKeyError       = "error"
	logKeyForwardedBy = "forwarded_by"
	logKeyLeader      = "leader"
	logKeyMethod      = "method"
	logKeyPanic       = "panic"
	logKeyPath        = "path"
	logKeyRoute       = "route"
	logKeySchedule    = "schedule"
	logKeyStack       = "stack"
	logKeyStatus      = "status"
)
