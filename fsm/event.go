package fsm

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// EnvelopeVersion is the version byte that prefixes every encoded log entry.
// Decoders reject versions they do not know instead of guessing.
const EnvelopeVersion byte = 1

// MaxEntryBytes bounds one encoded log entry; larger entries are rejected by
// Decode (the API bounds params at 64 KiB, batches stay well below this).
const MaxEntryBytes = 64 << 20

// EventType names an event kind. Names are part of the on-disk format.
type EventType string

// Event types. Schedule events now; run and handler events join them later
// without a format change (unknown types are rejected per event, not per
// entry, so a mixed-version cluster fails loudly rather than diverging).
const (
	ScheduleCreated EventType = "schedule.created"
	ScheduleUpdated EventType = "schedule.updated"
	SchedulePaused  EventType = "schedule.paused"
	ScheduleResumed EventType = "schedule.resumed"
	ScheduleDeleted EventType = "schedule.deleted"
	// Run events. run.fired, run.skipped and run.missed carry Event.Run
	// and, for automatic triggers, must move the schedule's high-water
	// mark strictly forward: at most one decision per (schedule, nominal).
	// The others name Event.RunID and Event.Attempt and apply only to the
	// run's current attempt (fencing).
	RunFired     EventType = "run.fired"
	RunSkipped   EventType = "run.skipped"
	RunMissed    EventType = "run.missed"
	RunAccepted  EventType = "run.accepted"
	RunSucceeded EventType = "run.succeeded"
	RunFailed    EventType = "run.failed"
	RunRetried   EventType = "run.retried"
	RunLost      EventType = "run.lost"
	RunCancelled EventType = "run.cancelled"
	// Handler events: registration and expiry of a handler instance.
	HandlerRegistered EventType = "handler.registered"
	HandlerExpired    EventType = "handler.expired"
	NodeUpserted      EventType = "node.upserted"
	NodeRemoved       EventType = "node.removed"
	Noop              EventType = "noop"
)

// Event is one state change. At is stamped by the leader before the event is
// proposed; Apply never reads a clock.
type Event struct {
	Type EventType `json:"type"`
	At   time.Time `json:"at"`
	// ID names the schedule (pause, resume, delete) or node (node.removed).
	ID string `json:"id,omitempty"`
	// IfVersion, when non-zero, makes an update, pause, resume or delete
	// conditional on the schedule's current version (optimistic concurrency).
	IfVersion uint64 `json:"if_version,omitempty"`
	// Schedule carries the full schedule for created and updated.
	Schedule *Schedule `json:"schedule,omitempty"`
	// Node carries the member record for node.upserted.
	Node *NodeInfo `json:"node,omitempty"`
	// Run carries the new run for run.fired, run.skipped and run.missed.
	Run *Run `json:"run,omitempty"`
	// RunID and Attempt name the run attempt the other run events apply to.
	RunID   string `json:"run_id,omitempty"`
	Attempt int    `json:"attempt,omitempty"`
	// Instance is the handler instance (run.accepted, handler.expired).
	Instance string `json:"instance,omitempty"`
	// Result and Error report a run's outcome (succeeded, failed, lost,
	// cancelled, retried).
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
	// NotBefore delays the next attempt (run.retried).
	NotBefore *time.Time `json:"not_before,omitempty"`
	// Handler carries the instance for handler.registered.
	Handler *HandlerInfo `json:"handler,omitempty"`
}

// Result is the outcome of applying one event.
type Result struct {
	// Err is nil or one of ErrExists, ErrNotFound, ErrVersionMismatch,
	// ErrInvalidEvent (possibly wrapped).
	Err error
	// Schedule is the schedule after the event (nil for deletes and node events).
	Schedule *Schedule
	// Run is the run after a run event.
	Run *Run
	// Index is the log index the event was applied at.
	Index uint64
}

// Sentinel errors returned in Result.Err and by Decode.
var (
	// ErrExists: a schedule or run with that ID already exists.
	ErrExists = errors.New("fsm: already exists")
	// ErrNotFound: no schedule (or node) with that ID.
	ErrNotFound = errors.New("fsm: not found")
	// ErrVersionMismatch: IfVersion did not match the current version.
	ErrVersionMismatch = errors.New("fsm: version mismatch")
	// ErrStale: a run event names an attempt that is no longer current, a
	// run that already finished, or a fire at or before the schedule's
	// high-water mark. Dispatch treats it as "someone else decided".
	ErrStale = errors.New("fsm: stale run event")
	// ErrInvalidEvent: the event is malformed (missing fields, unknown type).
	ErrInvalidEvent = errors.New("fsm: invalid event")
	// ErrUnsupportedVersion: the entry's envelope version is unknown.
	ErrUnsupportedVersion = errors.New("fsm: unsupported envelope version")
	// ErrCorrupt: the entry or snapshot could not be decoded.
	ErrCorrupt = errors.New("fsm: corrupt data")
)

type envelope struct {
	Events []Event `json:"events"`
}

// Encode serialises a batch of events into one log entry: a version byte
// followed by JSON. Several events in one entry is how the cluster amortises
// one fsync over many writes.
//
// The bytes are exactly json.Marshal's; a hand-written encoder (encode.go)
// writes them without reflection and leaves the rare values it does not
// reproduce by construction to json.Marshal.
func Encode(events []Event) ([]byte, error) {
	out := make([]byte, 1, 1+estimateEntryBytes(events))
	out[0] = EnvelopeVersion
	if fast, ok := appendEnvelope(out, events); ok {
		return fast, nil
	}
	body, err := json.Marshal(envelope{Events: events})
	if err != nil {
		return nil, fmt.Errorf("fsm: encode: %w", err)
	}
	return append(out[:1], body...), nil
}

// estimateEntryBytes sizes Encode's buffer: a typical schedule event is
// ~450 bytes, a run event ~150, plus what their strings and raw values add.
func estimateEntryBytes(events []Event) int {
	n := 16
	for i := range events {
		ev := &events[i]
		n += 96 + len(ev.RunID) + len(ev.Result) + len(ev.Error)
		if s := ev.Schedule; s != nil {
			n += 400 + len(s.ID) + len(s.Params)
		}
		if r := ev.Run; r != nil {
			n += 256 + len(r.ID) + len(r.Result) + len(r.Error)
		}
	}
	return n
}

// Decode parses a log entry produced by Encode.
func Decode(data []byte) ([]Event, error) { return decodeEntry(data, nil) }

// decodeEntry is Decode with interning of repeated strings (Apply passes
// the FSM's interner). Entries written by Encode take the fast path
// (decode.go); anything else is decoded by encoding/json, whose result the
// fast path is built to match exactly.
func decodeEntry(data []byte, in *interner) ([]Event, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty entry", ErrCorrupt)
	}
	if len(data) > MaxEntryBytes {
		return nil, fmt.Errorf("%w: entry of %d bytes exceeds %d", ErrCorrupt, len(data), MaxEntryBytes)
	}
	if data[0] != EnvelopeVersion {
		return nil, fmt.Errorf("%w: %d", ErrUnsupportedVersion, data[0])
	}
	if events, ok := decodeFast(data[1:], in); ok {
		return events, nil
	}
	var env envelope
	if err := json.Unmarshal(data[1:], &env); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	internEvents(env.Events, in)
	return env.Events, nil
}
