package fsm

import (
	"encoding/json"
	"time"
)

// RunStatus is the lifecycle state of a run (DESIGN.md run object).
type RunStatus string

// Run statuses. fired and running are active; the others are terminal.
const (
	StatusFired     RunStatus = "fired"
	StatusRunning   RunStatus = "running"
	StatusSucceeded RunStatus = "succeeded"
	StatusFailed    RunStatus = "failed"
	StatusLost      RunStatus = "lost"
	StatusSkipped   RunStatus = "skipped"
	StatusMissed    RunStatus = "missed"
	StatusCancelled RunStatus = "cancelled"
)

// Terminal reports whether no further event can change a run in status s.
func (s RunStatus) Terminal() bool { return s != StatusFired && s != StatusRunning }

// Run triggers: why a run exists.
const (
	TriggerScheduled = "scheduled" // an occurrence fired on time
	TriggerCatchup   = "catchup"   // an occurrence caught up after it fell due with no leader
	TriggerManual    = "manual"    // POST /v1/schedules/{id}/trigger
)

// Default retention bounds, applied deterministically to each schedule's
// finished runs whenever one of its run events is applied: the newest
// history_limit finished runs younger than history_max_age (measured against
// the event's leader-stamped time) are kept. A schedule's policy overrides
// them.
const (
	RunHistoryLimit  = 100
	RunHistoryMaxAge = 7 * 24 * time.Hour
)

// Run is one fire decision and its attempts. Stored runs are immutable like
// schedules: every event installs a new value.
type Run struct {
	ID         string    `json:"id"`
	ScheduleID string    `json:"schedule_id"`
	NominalAt  time.Time `json:"nominal_at"`
	// DueAt is when the run should be dispatched: the nominal time plus the
	// schedule's deterministic jitter (equal to NominalAt without jitter).
	DueAt   time.Time `json:"due_at"`
	FiredAt time.Time `json:"fired_at"`
	Trigger string    `json:"trigger"`
	// Attempt counts dispatch attempts, from 1. With the leader's term it is
	// the fencing token: events for an older attempt are rejected.
	Attempt         int        `json:"attempt"`
	Status          RunStatus  `json:"status"`
	HandlerInstance string     `json:"handler_instance,omitempty"`
	StartedAt       *time.Time `json:"started_at,omitempty"`
	FinishedAt      *time.Time `json:"finished_at,omitempty"`
	// NotBefore delays the next attempt (retry back-off).
	NotBefore *time.Time      `json:"not_before,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     string          `json:"error,omitempty"`
}

// RunID is the deterministic ID of an automatic run: one per (schedule,
// nominal time), so a fire decision replayed by a new leader carries the
// same idempotency key.
func RunID(scheduleID string, nominal time.Time) string {
	return scheduleID + "@" + nominal.UTC().Format(time.RFC3339Nano)
}

// ManualRunID is the ID of a run-now request; retrying the same request ID
// yields the same run.
func ManualRunID(scheduleID, requestID string) string {
	return scheduleID + "@manual:" + requestID
}

// HandlerInfo is a registered handler instance. Only registration and
// expiry are replicated; heartbeats stay in the leader's memory.
type HandlerInfo struct {
	Name         string    `json:"name"`
	Instance     string    `json:"instance"`
	Methods      []string  `json:"methods"`
	Capacity     int       `json:"capacity"`
	RegisteredAt time.Time `json:"registered_at"`
}

// RunFilter selects runs in FSM.Runs.
type RunFilter struct {
	ScheduleID string
	Status     RunStatus
}
