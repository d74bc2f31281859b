package jepsen

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// restartBound bounds the wait for the supervisor to bring a killed or
// terminated node back (initial back-off 500 ms plus start and catch-up).
const restartBound = 60 * time.Second

// signalNemesis kills (SIGKILL) or terminates (SIGTERM: leadership
// transfer, drain) a node; the governor's supervisor restarts it after its
// back-off, with the same data directory. Stop waits until it runs again.
type signalNemesis struct {
	name   string
	leader bool // the leader, else a random running member
	kill   bool // SIGKILL, else SIGTERM
	victim string
}

func (n *signalNemesis) Name() string { return n.name }

func (n *signalNemesis) Start(ctx context.Context, e *env) error {
	victim, err := n.pickVictim(ctx, e)
	if err != nil {
		return e.record(n.name, "start", nil, func() (string, error) { return "", err })
	}
	n.victim = victim
	return e.record(n.name, "start", []string{victim}, func() (string, error) {
		if n.kill {
			return "SIGKILL", e.gov.Kill(ctx, victim)
		}
		return "SIGTERM", e.gov.Term(ctx, victim)
	})
}

func (n *signalNemesis) pickVictim(ctx context.Context, e *env) (string, error) {
	if n.leader {
		return e.leader(ctx)
	}
	running := e.running(ctx)
	if len(running) == 0 {
		return "", errors.New("no running member")
	}
	return e.pick(running), nil
}

func (n *signalNemesis) Stop(ctx context.Context, e *env) error {
	return e.record(n.name, "stop", []string{n.victim}, func() (string, error) {
		return "wait for the supervisor's restart", e.waitRunning(ctx, restartBound)
	})
}

// pauseNemesis repeatedly stops the current leader with SIGSTOP for 2–5×
// the election timeout, then resumes it (a GC or VM stall: the classic
// deposed-but-unaware leader), until Stop.
type pauseNemesis struct{ bg *background }

func (n *pauseNemesis) Name() string { return NemesisPauseLeader }

func (n *pauseNemesis) Start(ctx context.Context, e *env) error {
	e = e.fork() // the number of pauses depends on timing: keep the schedule's RNG out of it
	n.bg = startBackground(ctx, func(ctx context.Context) error {
		for ctx.Err() == nil {
			if err := n.pauseOnce(ctx, e); err != nil {
				return err
			}
			_ = sleepCtx(ctx, e.uniform(e.cfg.ElectionTimeout, 4*e.cfg.ElectionTimeout))
		}
		return nil
	})
	return nil
}

// pauseOnce pauses the leader and resumes it even when ctx ends meanwhile.
func (n *pauseNemesis) pauseOnce(ctx context.Context, e *env) error {
	leader, err := e.leader(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return e.record(n.Name(), "pause", nil, func() (string, error) { return "", err })
	}
	d := time.Duration(2+e.rng.IntN(4)) * e.cfg.ElectionTimeout
	if err := e.record(n.Name(), "pause", []string{leader}, func() (string, error) {
		return "SIGSTOP for " + d.String(), e.gov.Pause(ctx, leader)
	}); err != nil {
		return err
	}
	_ = sleepCtx(ctx, d)
	return e.record(n.Name(), "resume", []string{leader}, func() (string, error) {
		return "SIGCONT", e.gov.Resume(context.WithoutCancel(ctx), leader)
	})
}

func (n *pauseNemesis) Stop(ctx context.Context, e *env) error {
	err := n.bg.wait(true)
	return errors.Join(err, e.record(n.Name(), "stop", nil, func() (string, error) {
		return "every member running", e.waitRunning(ctx, restartBound)
	}))
}

// rollingRestartNemesis restarts every member in turn (graceful stop, start
// with the same data directory, wait until ready), as an upgrade would.
type rollingRestartNemesis struct{ bg *background }

func (n *rollingRestartNemesis) Name() string { return NemesisRollingRestart }

func (n *rollingRestartNemesis) Start(ctx context.Context, e *env) error {
	members := e.cl.Members()
	n.bg = startBackground(context.WithoutCancel(ctx), func(ctx context.Context) error {
		for _, id := range members {
			if err := e.record(n.Name(), "restart", []string{id}, func() (string, error) {
				return "SIGTERM, start, wait for /readyz", e.gov.Restart(ctx, id)
			}); err != nil {
				return err
			}
			if _, err := e.leader(ctx); err != nil {
				return fmt.Errorf("after restarting %s: %w", id, err)
			}
		}
		return nil
	})
	return nil
}

// Stop waits for the whole rotation: a half-done rolling restart is not a
// state to heal from.
func (n *rollingRestartNemesis) Stop(ctx context.Context, e *env) error {
	err := n.bg.wait(false)
	return e.record(n.Name(), "stop", nil, func() (string, error) {
		return "rotation finished", errors.Join(err, e.waitRunning(ctx, restartBound))
	})
}
