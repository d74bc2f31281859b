package trigger

import (
	"fmt"
	"time"
)

// At fires once, at a fixed instant.
type At struct {
	at time.Time // UTC
}

func compileAt(s string) (*At, error) {
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, fieldErr(fieldAt, fmt.Sprintf("invalid time %q: want RFC 3339 such as \"2025-06-01T09:00:00Z\"", s))
	}
	if !at.After(minTime) {
		return nil, fieldErr(fieldAt, "time must be after 0001-01-01T00:00:00Z")
	}
	return &At{at: at.UTC()}, nil
}

// Next returns the trigger's instant if it is after t, else ok=false.
func (a *At) Next(t time.Time) (time.Time, bool) {
	if a.at.After(t) {
		return a.at, true
	}
	return time.Time{}, false
}
