package handlerclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/schedulezero/schedulezero/wire"
)

// HandlerFunc runs one job. The returned value is encoded with
// encoding/json as the run's result (nil encodes as null); a non-nil error
// makes the run fail with err.Error() as its error text. ctx is cancelled
// when the cluster cancels the run, at the job's Deadline, and when Run
// gives up draining at shutdown; context.Cause(ctx) is then ErrCancelled,
// ErrDeadline or ErrShutdown. A panic is recovered and fails the run.
type HandlerFunc func(ctx context.Context, job *Job) (any, error)

// Causes of a job context's cancellation, as returned by context.Cause.
var (
	// ErrCancelled: the cluster sent cancel for the run.
	ErrCancelled = fmt.Errorf("handlerclient: run cancelled by the cluster: %w", context.Canceled)
	// ErrDeadline: the job's Deadline passed.
	ErrDeadline = fmt.Errorf("handlerclient: run deadline exceeded: %w", context.DeadlineExceeded)
	// ErrShutdown: Run's context ended and DrainTimeout passed.
	ErrShutdown = fmt.Errorf("handlerclient: shutting down: %w", context.Canceled)
)

// ErrBadParams is returned (wrapped) by Job.Bind when the params do not
// decode into the given value.
var ErrBadParams = errors.New("handlerclient: bad params")

// Job is one dispatched run as a HandlerFunc sees it. The same run (RunID)
// is executed at most once per process, even when the cluster delivers it
// again; a re-delivery with a higher Attempt while the run is still going
// or its result is not yet acknowledged is answered with the existing
// execution's outcome, so Attempt is the attempt that started it.
type Job struct {
	RunID      string
	ScheduleID string
	Method     string
	// Params is the schedule's params, raw JSON (may be empty).
	Params json.RawMessage
	// NominalAt is the scheduled fire time; FiredAt when the leader fired it.
	NominalAt time.Time
	FiredAt   time.Time
	// Attempt is 1 for the first attempt and grows with retries.
	Attempt int
	// Term is the Raft term of the leader that dispatched the run.
	Term uint64
	// Deadline, when not zero, is when the job's context is cancelled.
	Deadline time.Time
	// ReceivedAt is when this process received the dispatch (Config.Clock).
	ReceivedAt time.Time
}

// Bind decodes the job's params into v (a pointer), as json.Unmarshal does.
// Empty params leave v untouched.
func (j *Job) Bind(v any) error {
	if len(j.Params) == 0 {
		return nil
	}
	if err := json.Unmarshal(j.Params, v); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadParams, j.Method, err)
	}
	return nil
}

// jobFromDispatch builds the Job of a dispatch message.
func jobFromDispatch(m wire.Message, received time.Time) *Job {
	return &Job{
		RunID:      m.RunID,
		ScheduleID: m.ScheduleID,
		Method:     m.Method,
		Params:     m.Params,
		NominalAt:  deref(m.NominalAt),
		FiredAt:    deref(m.FiredAt),
		Attempt:    m.Attempt,
		Term:       m.Term,
		Deadline:   deref(m.Deadline),
		ReceivedAt: received,
	}
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
