package jepsen

import "time"

// FireHistory is what the timed-schedule (fire) workload recorded: the
// schedules with their acknowledgement times, the handlers' journals, the
// run records polled during the run and read from every node at the end.
// Times named …NS are CLOCK_MONOTONIC (the history's axis); journal and run
// times are wall clock, converted with WallMinusMonoNS.
type FireHistory struct {
	// WallMinusMonoNS converts a monotonic time of the history to wall
	// clock (UnixNano), measured once when the workload started.
	WallMinusMonoNS int64 `json:"wall_minus_mono_ns"`
	// GraceNS is the every-slot grace: slots later than FireEnd − grace
	// are not required to have run.
	GraceNS   int64          `json:"grace_ns"`
	Schedules []FireSchedule `json:"schedules"`
	// FireEndNS is when the run stopped requiring fires: the invocation
	// of the first final pause (0: the pause was never attempted).
	FireEndNS int64 `json:"fire_end_ns"`
	// Journal holds every execution line of every handler process.
	Journal []JournalLine `json:"journal"`
	// JournalErrors lists unreadable journals and unparsable lines (a
	// SIGKILL during the append can leave a torn last line).
	JournalErrors []string `json:"journal_errors,omitempty"`
	// Polled is the union of the periodic linearizable listings of the
	// timed schedules' runs during the run (run ID → latest record seen):
	// retention prunes old runs and a delete drops them, so the final
	// listings alone cannot prove a slot was recorded as missed.
	Polled map[string]RunRecord `json:"polled"`
	// NodeRuns is every member's local (?stale=true) listing after
	// quiescence, LeaderRuns the linearizable one.
	NodeRuns   map[string][]RunRecord `json:"node_runs"`
	LeaderRuns []RunRecord            `json:"leader_runs"`
	Errors     []string               `json:"errors,omitempty"`
}

// FireSchedule is one timed schedule of the fire workload.
type FireSchedule struct {
	ID      string    `json:"id"`
	Every   string    `json:"every"`
	Method  string    `json:"method"`
	Params  string    `json:"params,omitempty"`
	Anchor  time.Time `json:"anchor"`
	Created bool      `json:"created"`
	// CreateAckNS is when the create was acknowledged (or first seen to
	// exist after an ambiguous create).
	CreateAckNS int64 `json:"create_ack_ns"`
	// DeleteInvokeNS/DeleteAckNS bound the mid-run delete (0: not deleted).
	DeleteInvokeNS int64  `json:"delete_invoke_ns,omitempty"`
	DeleteAckNS    int64  `json:"delete_ack_ns,omitempty"`
	DeleteError    string `json:"delete_error,omitempty"`
}

// Interval is the schedule's period.
func (s FireSchedule) Interval() time.Duration {
	d, _ := time.ParseDuration(s.Every)
	return d
}

// JournalLine is one execution appended (and fsynced) by szhandler
// --journal before it ran the job; Handler and Line locate it.
type JournalLine struct {
	RunID      string    `json:"run_id"`
	ScheduleID string    `json:"schedule_id"`
	NominalAt  time.Time `json:"nominal_at"`
	Attempt    int       `json:"attempt"`
	Instance   string    `json:"instance"`
	ReceivedAt time.Time `json:"received_at"`
	Handler    string    `json:"handler"` // governor process id: h1, h2
	Line       int       `json:"line"`
}

// RunRecord is the part of a run object the fire checkers use.
type RunRecord struct {
	ID              string    `json:"id"`
	ScheduleID      string    `json:"schedule_id"`
	NominalAt       time.Time `json:"nominal_at"`
	Status          string    `json:"status"`
	Attempt         int       `json:"attempt"`
	HandlerInstance string    `json:"handler_instance,omitempty"`
	Trigger         string    `json:"trigger,omitempty"`
	Error           string    `json:"error,omitempty"`
}

// wall converts a monotonic time of the history to wall clock.
func (f *FireHistory) wall(ns int64) time.Time { return time.Unix(0, ns+f.WallMinusMonoNS) }

// mono converts a wall-clock time to the history's monotonic axis.
func (f *FireHistory) mono(t time.Time) int64 { return t.UnixNano() - f.WallMinusMonoNS }
