package handlerclient

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/schedulezero/schedulezero/wire"
)

// maxErrorBytes bounds the error text of a result.
const maxErrorBytes = 16 << 10

// frameHeadroom is kept free in a result frame for the attempt and term
// filled in when it is sent.
const frameHeadroom = 64

// jobEvent is what a job goroutine reports to the loop.
type jobEvent struct {
	run     *run
	kind    jobEventKind
	err     error        // jobRejected
	result  wire.Message // jobFinished
	outcome string       // jobFinished
}

type jobEventKind int

const (
	jobRejected jobEventKind = iota // BeforeRunFunc failed
	jobStarted                      // BeforeRunFunc passed; HandlerFunc starts
	jobFinished
)

// start records a new run and starts its goroutine. Without a
// BeforeRunFunc the run is accepted right here, once recorded; with one,
// when the hook has passed (jobStarted).
func (s *session) start(c *conn, m wire.Message, fn HandlerFunc, now time.Time) {
	job := jobFromDispatch(m, now)
	ctx, cancel := context.WithCancelCause(s.jobsCtx)
	r := &run{id: m.RunID, job: job, attempt: m.Attempt, term: m.Term, state: runStarting, conn: c, cancel: cancel}
	s.ledger.put(r)
	s.active++
	s.metrics.inFlight.Set(float64(s.active))
	if s.cfg.BeforeRunFunc == nil {
		r.state = runRunning
		s.accept(r)
	}
	s.jobsWG.Add(1)
	go s.execute(ctx, r, job, fn, cancel)
	if !job.Deadline.IsZero() {
		s.jobsWG.Add(1)
		go s.watchDeadline(ctx, cancel, job.Deadline)
	}
}

// execute is a job goroutine. It reads only job; r is passed back to the
// loop as a key.
func (s *session) execute(ctx context.Context, r *run, job *Job, fn HandlerFunc, cancel context.CancelCauseFunc) {
	defer s.jobsWG.Done()
	defer cancel(nil)
	if s.cfg.BeforeRunFunc != nil {
		if err := s.beforeRun(job); err != nil {
			s.report(jobEvent{run: r, kind: jobRejected, err: err})
			return
		}
		s.report(jobEvent{run: r, kind: jobStarted})
	}
	started := s.clock.Now()
	v, err := s.call(ctx, fn, job)
	finished := s.clock.Now()
	res := buildResult(job.RunID, v, err, started, finished)
	outcome := outcomeSucceeded
	switch {
	case res.OK:
	case ctx.Err() != nil:
		outcome = outcomeCancelled
	default:
		outcome = outcomeFailed
	}
	s.report(jobEvent{run: r, kind: jobFinished, result: res, outcome: outcome})
}

func (s *session) beforeRun(job *Job) (err error) {
	hook := s.cfg.BeforeRunFunc
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return hook(job)
}

// call runs fn, turning a panic into an error.
func (s *session) call(ctx context.Context, fn HandlerFunc, job *Job) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("handler panicked", slog.String(logKeyRunID, job.RunID), slog.String(logKeyMethod, job.Method),
				slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			v, err = nil, fmt.Errorf("panic: %v", p)
		}
	}()
	return fn(ctx, job)
}

// report hands ev to the loop, or drops it if Run has returned (the job
// was abandoned).
func (s *session) report(ev jobEvent) {
	select {
	case s.jobEvents <- ev:
	case <-s.exited:
	}
}

// watchDeadline cancels a job at its deadline, read on the session clock.
func (s *session) watchDeadline(ctx context.Context, cancel context.CancelCauseFunc, deadline time.Time) {
	defer s.jobsWG.Done()
	t := s.clock.NewTimer(deadline.Sub(s.clock.Now()))
	defer t.Stop()
	select {
	case <-t.C():
		cancel(ErrDeadline)
	case <-ctx.Done():
	}
}

// buildResult makes the result message of a finished job; attempt and
// term are filled in when it is sent. A result that would not fit in a
// frame becomes an error result.
func buildResult(runID string, v any, err error, started, finished time.Time) wire.Message {
	started, finished = started.UTC(), finished.UTC()
	m := wire.Message{Type: wire.TypeResult, RunID: runID, OK: err == nil, StartedAt: &started, FinishedAt: &finished}
	if err == nil {
		m.Result, err = encodeResult(v)
	}
	if err != nil {
		m.OK, m.Result, m.Error = false, nil, truncate(err.Error(), maxErrorBytes)
		if m.Error == "" {
			m.Error = "error"
		}
	}
	if resultSizeBound(&m)+frameHeadroom > wire.MaxFrameBytes {
		// Near the limit: measure exactly (the bound is cheap, this is not).
		b, _ := wire.Encode(m)
		if len(b) == 0 || len(b)+frameHeadroom > wire.MaxFrameBytes {
			m.OK, m.Result = false, nil
			m.Error = fmt.Sprintf("result too large: %d bytes encoded (frame limit %d)", max(len(b), len(m.Result)), wire.MaxFrameBytes)
		}
	}
	return m
}

// jsonNull is the result of a HandlerFunc returning nil. Shared: nothing
// modifies a result after it is built.
var jsonNull = json.RawMessage("null")

// encodeResult JSON-encodes a HandlerFunc's value, without a copy for the
// common nil and json.RawMessage values.
func encodeResult(v any) (json.RawMessage, error) {
	switch r := v.(type) {
	case nil:
		return jsonNull, nil
	case json.RawMessage:
		if r == nil {
			return jsonNull, nil
		}
		if json.Valid(r) {
			return r, nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	return b, nil
}

// resultSizeBound bounds the encoded size of a result message from above:
// strings may grow sixfold by escaping, the raw result not at all (the
// encoder compacts it), and the rest is a few hundred bytes.
func resultSizeBound(m *wire.Message) int {
	return 512 + 6*(len(m.RunID)+len(m.Error)) + len(m.Result)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 { // do not split a UTF-8 sequence
		n--
	}
	return s[:n] + "…"
}

// onJobEvent updates the ledger and answers the node.
func (s *session) onJobEvent(ev jobEvent) {
	r := ev.run
	switch ev.kind {
	case jobRejected:
		s.active--
		s.ledger.remove(r)
		s.log.Warn("BeforeRunFunc failed", slog.String(logKeyRunID, r.id), slog.Any(logKeyErr, ev.err))
		s.reject(s.replyConn(r), r.id, r.attempt, r.term, ReasonBeforeRunFailed)
	case jobStarted:
		r.state = runRunning
		s.accept(r)
	case jobFinished:
		s.active--
		s.ledger.finish(r, ev.result)
		s.metrics.job(ev.outcome).Inc()
		s.metrics.pending.Set(float64(len(s.ledger.pending)))
		if s.log.Enabled(s.baseCtx, slog.LevelDebug) { // the attributes cost even when discarded
			s.log.LogAttrs(s.baseCtx, slog.LevelDebug, "job finished", slog.String(logKeyRunID, r.id),
				slog.String(logKeyMethod, r.job.Method), slog.String("outcome", ev.outcome))
		}
		s.sendResult(r, s.clock.Now())
	}
	s.metrics.inFlight.Set(float64(s.active))
}
