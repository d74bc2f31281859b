package handlerclient

// Attribute keys of the client's log records.
const (
	logKeyAttempt  = "attempt"
	logKeyEndpoint = "endpoint"
	logKeyErr      = "err"
	logKeyIdentity = "identity"
	logKeyMethod   = "method"
	logKeyNode     = "node_id"
	logKeyReason   = "reason"
	logKeyRunID    = "run_id"
	logKeyTerm     = "term"
	logKeyType     = "type"
)
