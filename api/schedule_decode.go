package api

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/trigger"
)

// maxHistoryLimit bounds policy.history_limit (finished runs kept per schedule).
const maxHistoryLimit = 10000

// maxRetries bounds policy.max_retries.
const maxRetries = 100

// scheduleBody is the request body of create and update. Fields whose errors
// must name a nested path (trigger.*, policy.*) or that need custom parsing
// are kept raw and decoded in a second step.
type scheduleBody struct {
	ID      string          `json:"id"`
	Handler string          `json:"handler"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
	Trigger json.RawMessage `json:"trigger"`
	Policy  json.RawMessage `json:"policy"`
	StartAt json.RawMessage `json:"start_at"`
	EndAt   json.RawMessage `json:"end_at"`
	MaxRuns int             `json:"max_runs"`
	Paused  bool            `json:"paused"`
	// Version is read-only except on update, where a non-zero value makes
	// the update conditional (Event.IfVersion).
	Version uint64 `json:"version"`
	// Read-only fields, accepted so that a GET response can be sent back
	// as a PUT body, and ignored.
	NextFireAt json.RawMessage `json:"next_fire_at"`
	CreatedAt  json.RawMessage `json:"created_at"`
	UpdatedAt  json.RawMessage `json:"updated_at"`
}

// policyBody is the policy object; absent or null fields take their value
// from fsm.DefaultPolicy. Durations are raw so a bad one names its field.
type policyBody struct {
	Overlap       *string         `json:"overlap"`
	MaxRetries    *int            `json:"max_retries"`
	CatchupWindow json.RawMessage `json:"catchup_window"`
	RetryBackoff  json.RawMessage `json:"retry_backoff"`
	Timeout       json.RawMessage `json:"timeout"`
	Jitter        json.RawMessage `json:"jitter"`
	HistoryLimit  *int            `json:"history_limit"`
	HistoryMaxAge json.RawMessage `json:"history_max_age"`
}

// decodeSchedule decodes and validates a create (pathID == "") or update
// (pathID is the authoritative ID) request body. It returns the schedule to
// propose and the body's version (0 when absent). Errors are *apiError with
// the field that is wrong.
func decodeSchedule(body []byte, pathID string) (*fsm.Schedule, uint64, error) {
	var b scheduleBody
	if err := decodeStrict(body, &b, ""); err != nil {
		return nil, 0, err
	}
	id, err := scheduleID(b.ID, pathID)
	if err != nil {
		return nil, 0, err
	}
	s := &fsm.Schedule{ID: id, Handler: b.Handler, Method: b.Method, MaxRuns: b.MaxRuns, Paused: b.Paused}
	if err := validName("handler", b.Handler); err != nil {
		return nil, 0, err
	}
	if err := validName("method", b.Method); err != nil {
		return nil, 0, err
	}
	if s.Params, err = decodeParams(b.Params); err != nil {
		return nil, 0, err
	}
	if s.Trigger, err = decodeTrigger(b.Trigger); err != nil {
		return nil, 0, err
	}
	if s.Policy, err = decodePolicy(b.Policy); err != nil {
		return nil, 0, err
	}
	if err := decodeWindow(s, b.StartAt, b.EndAt); err != nil {
		return nil, 0, err
	}
	if s.MaxRuns < 0 {
		return nil, 0, invalid("max_runs", "max_runs must be 0 (unlimited) or positive")
	}
	return s, b.Version, nil
}

// scheduleID picks the schedule ID: the body's on create, the path's on
// update (where a different body ID is an error).
func scheduleID(bodyID, pathID string) (string, error) {
	if pathID == "" {
		return bodyID, validID("id", bodyID)
	}
	if bodyID != "" && bodyID != pathID {
		return "", invalid("id", fmt.Sprintf("body id %q does not match the id %q in the path", bodyID, pathID))
	}
	return pathID, validID("id", pathID)
}

// decodeParams compacts params and enforces the size limit. Absent and null
// params are stored as none.
func decodeParams(raw json.RawMessage) (json.RawMessage, error) {
	if isNull(raw) {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, invalid("params", "params must be valid JSON: "+err.Error())
	}
	if buf.Len() > maxParamsBytes {
		return nil, invalid("params", fmt.Sprintf("params is %d bytes after compaction; the limit is %d", buf.Len(), maxParamsBytes))
	}
	if !utf8.Valid(buf.Bytes()) {
		return nil, invalid("params", "params must be valid UTF-8")
	}
	return buf.Bytes(), nil
}

// decodeTrigger decodes the trigger object strictly and validates it with
// the trigger package, whose FieldError names the offending field.
func decodeTrigger(raw json.RawMessage) (trigger.Spec, error) {
	var spec trigger.Spec
	if isNull(raw) {
		return spec, invalid("trigger", `trigger is required: {"cron": …}, {"every": …} or {"at": …}`)
	}
	if err := decodeStrict(raw, &spec, "trigger"); err != nil {
		return spec, err
	}
	if err := validateTrigger(spec); err != nil {
		var fe *trigger.FieldError
		if errors.As(err, &fe) {
			return spec, invalid(fieldOr(fe.Field, "trigger"), fieldOr(fe.Message, err.Error()))
		}
		return spec, invalid("trigger", err.Error())
	}
	return spec, nil
}

// validateTrigger runs trigger.Validate, turning a panic (the cron parser
// it wraps has panicked on malformed input before) into a validation error.
func validateTrigger(spec trigger.Spec) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = invalid("trigger", fmt.Sprintf("invalid trigger: %v", p))
		}
	}()
	return trigger.Validate(spec)
}

// decodePolicy fills absent policy fields from fsm.DefaultPolicy and
// validates the result.
func decodePolicy(raw json.RawMessage) (fsm.Policy, error) {
	p := fsm.DefaultPolicy
	if isNull(raw) {
		return p, nil
	}
	var b policyBody
	if err := decodeStrict(raw, &b, "policy"); err != nil {
		return p, err
	}
	if b.Overlap != nil {
		p.Overlap = *b.Overlap
	}
	if b.MaxRetries != nil {
		p.MaxRetries = *b.MaxRetries
	}
	if b.HistoryLimit != nil {
		p.HistoryLimit = *b.HistoryLimit
	}
	durations := []struct {
		name string
		raw  json.RawMessage
		dst  *fsm.Duration
	}{
		{"catchup_window", b.CatchupWindow, &p.CatchupWindow},
		{"retry_backoff", b.RetryBackoff, &p.RetryBackoff},
		{"timeout", b.Timeout, &p.Timeout},
		{"jitter", b.Jitter, &p.Jitter},
		{"history_max_age", b.HistoryMaxAge, &p.HistoryMaxAge},
	}
	for _, d := range durations {
		if isNull(d.raw) {
			continue
		}
		if err := d.dst.UnmarshalJSON(d.raw); err != nil {
			return p, invalid("policy."+d.name, fmt.Sprintf("policy.%s: %v", d.name, err))
		}
	}
	if err := validatePolicy(p); err != nil {
		return p, err
	}
	// 0 means "the default", as in fsm.Policy.
	p.HistoryLimit = cmp.Or(p.HistoryLimit, fsm.DefaultPolicy.HistoryLimit)
	p.HistoryMaxAge = cmp.Or(p.HistoryMaxAge, fsm.DefaultPolicy.HistoryMaxAge)
	return p, nil
}

func validatePolicy(p fsm.Policy) error {
	switch p.Overlap {
	case fsm.OverlapSkip, fsm.OverlapAllow, fsm.OverlapBufferOne, fsm.OverlapCancelOther:
	default:
		return invalid("policy.overlap", fmt.Sprintf("policy.overlap %q must be one of skip, allow, buffer_one, cancel_other", p.Overlap))
	}
	if p.MaxRetries < 0 || p.MaxRetries > maxRetries {
		return invalid("policy.max_retries", fmt.Sprintf("policy.max_retries must be between 0 and %d", maxRetries))
	}
	if p.Timeout <= 0 {
		return invalid("policy.timeout", "policy.timeout must be greater than zero")
	}
	if p.HistoryLimit < 0 || p.HistoryLimit > maxHistoryLimit {
		return invalid("policy.history_limit", fmt.Sprintf("policy.history_limit must be between 1 and %d (0 = default)", maxHistoryLimit))
	}
	return nil // fsm.Duration already rejects negative durations
}

// decodeWindow sets start_at and end_at (RFC 3339 or null, stored in UTC).
func decodeWindow(s *fsm.Schedule, startRaw, endRaw json.RawMessage) error {
	var err error
	if s.StartAt, err = decodeTime("start_at", startRaw); err != nil {
		return err
	}
	if s.EndAt, err = decodeTime("end_at", endRaw); err != nil {
		return err
	}
	if s.StartAt != nil && s.EndAt != nil && !s.EndAt.After(*s.StartAt) {
		return invalid("end_at", "end_at must be after start_at")
	}
	return nil
}

func decodeTime(field string, raw json.RawMessage) (*time.Time, error) {
	if isNull(raw) {
		return nil, nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, invalid(field, field+" must be an RFC 3339 timestamp string or null")
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, invalid(field, fmt.Sprintf("%s %q is not an RFC 3339 timestamp", field, v))
	}
	t = t.UTC()
	if t.Year() < 1 || t.Year() > 9999 {
		return nil, invalid(field, fmt.Sprintf("%s %q is outside the years 0001–9999", field, v))
	}
	return &t, nil
}
