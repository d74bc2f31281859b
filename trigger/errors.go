package trigger

// FieldError reports invalid trigger input. Field names the offending JSON
// field of the schedule ("trigger.cron", "trigger.timezone", "trigger.every",
// "trigger.at", or "trigger" for the spec as a whole) and Message says what
// is wrong in words fit for an API response. Compile and Validate return it
// directly; callers that wrap it should use errors.As to get it back.
type FieldError struct {
	Field   string
	Message string
}

// Error implements error as "<field>: <message>".
func (e *FieldError) Error() string {
	return e.Field + ": " + e.Message
}

// Field names used in FieldError.Field.
const (
	fieldTrigger  = "trigger"
	fieldCron     = "trigger.cron"
	fieldTimezone = "trigger.timezone"
	fieldEvery    = "trigger.every"
	fieldAt       = "trigger.at"
)

func fieldErr(field, msg string) *FieldError {
	return &FieldError{Field: field, Message: msg}
}
