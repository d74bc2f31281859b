package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/schedulezero/schedulezero/client"
)

// Failover timing bounds.
const (
	// newTermTimeout bounds the wait for the first dispatch of a new term.
	newTermTimeout = 60 * time.Second
	// steadyTimeout bounds the wait for dispatches of the current term
	// before a trial.
	steadyTimeout = 30 * time.Second
	// afterWindow is how long after the first new dispatch lateness and
	// gaps are still looked at.
	afterWindow = time.Second
	exitTimeout = 30 * time.Second
)

// failover runs the failover scenario: FailoverTrials kills of the leader
// with SIGKILL, then one SIGTERM (leadership transfer).
func (r *Runner) failover(ctx context.Context, dir string) *FailoverResult {
	plan := Plan{Schedules: r.cfg.FailoverSchedules, Interval: r.cfg.Interval}
	res := &FailoverResult{RaftProfile: r.cfg.RaftProfile, Schedules: plan.Schedules, SpacingMS: millis(plan.Spacing())}
	err := r.withCluster(ctx, dir, nil, func(c *benchCluster) error {
		return r.runFailover(ctx, c, plan, res)
	})
	if err != nil {
		res.Error = err.Error()
		r.log.Error("scenario failover failed", "err", err)
	}
	return res
}

func (r *Runner) runFailover(ctx context.Context, c *benchCluster, plan Plan, res *FailoverResult) error {
	if !c.governed() {
		return errNoGovernor
	}
	fl, api, err := r.prepare(ctx, c, ScenarioFailover, true, &res.Baseline)
	if err != nil {
		return err
	}
	defer func() { _ = fl.stop() }()
	now := r.clk.Now()
	prefix := r.idPrefix(ScenarioFailover)
	endAt := now.Add(time.Duration(r.cfg.FailoverTrials+1)*2*time.Minute + endAtMargin)
	if _, err := r.createSchedules(ctx, api, plan.Schedules, func(i int) *client.Schedule {
		return plan.fireSchedule(prefix, i, now.Truncate(time.Second), endAt)
	}); err != nil {
		return err
	}
	var gaps []time.Duration
	for i := range r.cfg.FailoverTrials {
		t := r.killTrial(ctx, c, fl)
		r.log.Info(fmt.Sprintf("failover trial %d: kill -9 %s → first dispatch of term %d after %.0f ms", i+1, t.Killed, t.NewTerm, t.GapMS),
			"err", t.Error)
		res.Trials = append(res.Trials, t)
		if t.Error == "" {
			gaps = append(gaps, time.Duration(t.GapMS*float64(time.Millisecond)))
			res.GapsMS = append(res.GapsMS, t.GapMS)
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
	}
	if len(gaps) > 0 {
		s := Summarize(gaps)
		res.GapMedianMS, res.GapMinMS, res.GapMaxMS = ptr(s.P50), ptr(s.Min), ptr(s.Max)
	}
	for i := range gracefulTrials {
		g := r.gracefulTrial(ctx, c, fl)
		r.log.Info(fmt.Sprintf("graceful trial %d: SIGTERM %s → handover %.0f ms, longest gap %.0f ms, max lateness %.0f ms",
			i+1, g.Stopped, g.HandoverMS, g.GapMS, g.MaxFireLatenessMS), "err", g.Error)
		res.GracefulTrials = append(res.GracefulTrials, g)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
	}
	res.Graceful = medianGraceful(res.GracefulTrials)
	if len(gaps) == 0 {
		return errors.New("bench: no kill -9 trial succeeded")
	}
	return nil
}

// steady waits for the current leader and for a handler to accept a job
// it dispatched after now; it returns the leader and its term.
func (r *Runner) steady(ctx context.Context, c *benchCluster, fl *fleet) (string, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, steadyTimeout)
	defer cancel()
	for {
		id, self, err := c.leader(ctx)
		if err != nil {
			return "", 0, err
		}
		since := r.clk.Now()
		wctx, wcancel := context.WithTimeout(ctx, 3*time.Second)
		_, err = fl.rec.waitEvent(wctx, func(e acceptEvent) bool { return e.Term == self.Term && e.At.After(since) })
		wcancel()
		if err == nil {
			return id, self.Term, nil
		}
		if ctx.Err() != nil {
			return "", 0, fmt.Errorf("bench: no dispatches from leader %s (term %d) within %s", id, self.Term, steadyTimeout)
		}
	}
}

// killTrial kills the leader with SIGKILL, measures the time until a
// handler accepts the first job of a later term, then restarts the node.
func (r *Runner) killTrial(ctx context.Context, c *benchCluster, fl *fleet) FailoverTrial {
	var t FailoverTrial
	leader, term, err := r.steady(ctx, c, fl)
	if err != nil {
		t.Error = err.Error()
		return t
	}
	t.Killed, t.OldTerm = leader, term
	t0 := r.clk.Now()
	if err := c.kill(ctx, leader); err != nil {
		t.Error = err.Error()
		return t
	}
	first, err := r.firstOfNewTerm(ctx, fl, term, t0)
	if err == nil {
		t.GapMS, t.NewTerm = millis(first.At.Sub(t0)), first.Term
		t.NewLeader, _, _ = c.leader(ctx)
		_ = r.clk.sleep(ctx, afterWindow)
		t.MaxFireLatenessMS = millis(maxLateness(fl.rec.between(t0, first.At.Add(afterWindow))))
	}
	if rerr := r.bringBack(ctx, c, leader); rerr != nil {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		t.Error = err.Error()
	}
	return t
}

// gracefulTrials is how many SIGTERM trials the failover scenario runs;
// the one with the median gap is reported as the graceful figure.
const gracefulTrials = 3

// medianGraceful returns the successful trial with the median gap (the
// lower middle one of an even count), or the first trial when none
// succeeded, or nil when there are none.
func medianGraceful(ts []GracefulTrial) *GracefulTrial {
	var ok []GracefulTrial
	for _, t := range ts {
		if t.Error == "" {
			ok = append(ok, t)
		}
	}
	if len(ok) == 0 {
		if len(ts) == 0 {
			return nil
		}
		return &ts[0]
	}
	slices.SortFunc(ok, func(a, b GracefulTrial) int { return cmp.Compare(a.GapMS, b.GapMS) })
	m := ok[(len(ok)-1)/2]
	return &m
}

// gracefulTrial stops the leader with SIGTERM (it transfers leadership
// and drains), measures the handover, the longest pause between accepted
// jobs and the worst lateness around it, then restarts the node.
func (r *Runner) gracefulTrial(ctx context.Context, c *benchCluster, fl *fleet) GracefulTrial {
	var g GracefulTrial
	leader, term, err := r.steady(ctx, c, fl)
	if err != nil {
		g.Error = err.Error()
		return g
	}
	g.Stopped, g.OldTerm = leader, term
	t0 := r.clk.Now()
	if err := c.term(ctx, leader); err != nil {
		g.Error = err.Error()
		return g
	}
	first, err := r.firstOfNewTerm(ctx, fl, term, t0)
	if err == nil {
		g.HandoverMS, g.NewTerm = millis(first.At.Sub(t0)), first.Term
		g.NewLeader, _, _ = c.leader(ctx)
		_ = r.clk.sleep(ctx, afterWindow)
		end := first.At.Add(afterWindow)
		evs := fl.rec.between(t0.Add(-time.Second), end)
		g.GapMS = millis(longestGap(evs, t0, end))
		g.MaxFireLatenessMS = millis(maxLateness(fl.rec.between(t0, end)))
	}
	if rerr := r.bringBack(ctx, c, leader); rerr != nil {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		g.Error = err.Error()
	}
	return g
}

// firstOfNewTerm waits for the first job of a term above term accepted
// at or after t0.
func (r *Runner) firstOfNewTerm(ctx context.Context, fl *fleet, term uint64, t0 time.Time) (acceptEvent, error) {
	wctx, cancel := context.WithTimeout(ctx, newTermTimeout)
	defer cancel()
	e, err := fl.rec.waitEvent(wctx, func(e acceptEvent) bool { return e.Term > term && !e.At.Before(t0) })
	if err != nil {
		return e, fmt.Errorf("bench: no dispatch of a term above %d within %s: %w", term, newTermTimeout, err)
	}
	return e, nil
}

// bringBack waits for the stopped node's process to exit and restarts it.
func (r *Runner) bringBack(ctx context.Context, c *benchCluster, id string) error {
	if err := c.waitExited(ctx, id, exitTimeout); err != nil {
		return err
	}
	if err := c.restart(ctx, id); err != nil {
		return fmt.Errorf("bench: restart %s: %w", id, err)
	}
	return nil
}

// maxLateness is the largest accept − nominal among evs.
func maxLateness(evs []acceptEvent) time.Duration {
	var m time.Duration
	for _, e := range evs {
		m = max(m, e.lateness())
	}
	return m
}

// longestGap is the longest time without an accepted job within [from,
// to], counting from the last accept before from (evs may start earlier).
func longestGap(evs []acceptEvent, from, to time.Time) time.Duration {
	ats := make([]time.Time, 0, len(evs)+1)
	for _, e := range evs {
		ats = append(ats, e.At)
	}
	slices.SortFunc(ats, func(a, b time.Time) int { return a.Compare(b) })
	var gap time.Duration
	prev := from
	for _, at := range ats {
		if at.Before(from) {
			prev = at
			continue
		}
		if at.After(to) {
			break
		}
		gap = max(gap, at.Sub(prev))
		prev = at
	}
	return max(gap, to.Sub(prev))
}
