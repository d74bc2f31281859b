package jepsen

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/schedulezero/schedulezero/governor"
)

// Handler nemesis names.
const (
	NemesisKillHandler      = "kill-handler"
	NemesisPauseHandler     = "pause-handler"
	NemesisPartitionHandler = "partition-handler"
)

// HandlerNemeses lists the nemeses that target a handler process.
func HandlerNemeses() []string {
	return []string{NemesisKillHandler, NemesisPauseHandler, NemesisPartitionHandler}
}

// handlerPauseMin/Max bound a handler SIGSTOP.
const (
	handlerPauseMin = 3 * time.Second
	handlerPauseMax = 6 * time.Second
)

// handlerNemesis faults one random handler process (h1 or h2):
//
//   - kill-handler: SIGKILL; the supervisor restarts it (new instance).
//     Stop waits until it runs again.
//   - pause-handler: SIGSTOP for 3–6 s, then SIGCONT (in the background;
//     Stop waits for the SIGCONT).
//   - partition-handler: the handler cannot talk to the current leader
//     (governor Partition of the handler and the leader); Stop heals.
type handlerNemesis struct {
	name   string
	victim string
	bg     *background
}

func (n *handlerNemesis) Name() string { return n.name }

func (n *handlerNemesis) Start(ctx context.Context, e *env) error {
	n.victim = fmt.Sprintf("h%d", 1+e.rng.IntN(FireHandlers))
	switch n.name {
	case NemesisKillHandler:
		return e.record(n.name, "start", []string{n.victim}, func() (string, error) {
			return "SIGKILL", e.gov.Kill(ctx, n.victim)
		})
	case NemesisPauseHandler:
		d := e.uniform(handlerPauseMin, handlerPauseMax)
		if err := e.record(n.name, "start", []string{n.victim}, func() (string, error) {
			return "SIGSTOP for " + d.Round(time.Millisecond).String(), e.gov.Pause(ctx, n.victim)
		}); err != nil {
			return err
		}
		victim := n.victim
		n.bg = startBackground(context.WithoutCancel(ctx), func(bctx context.Context) error {
			_ = sleepCtx(ctx, d)
			return e.record(n.name, "resume", []string{victim}, func() (string, error) {
				return "SIGCONT", e.gov.Resume(bctx, victim)
			})
		})
		return nil
	default: // NemesisPartitionHandler
		leader, err := e.leader(ctx)
		if err != nil {
			return e.record(n.name, "start", nil, func() (string, error) { return "", err })
		}
		return e.record(n.name, "start", []string{n.victim, leader}, func() (string, error) {
			return fmt.Sprintf("%s cannot reach leader %s", n.victim, leader),
				e.gov.Partition(ctx, [][]string{{n.victim}, {leader}})
		})
	}
}

func (n *handlerNemesis) Stop(ctx context.Context, e *env) error {
	err := n.bg.wait(false)
	n.bg = nil
	switch n.name {
	case NemesisPartitionHandler:
		return errors.Join(err, e.record(n.name, "stop", []string{n.victim}, func() (string, error) { return "heal", e.gov.Heal(ctx) }))
	default:
		return errors.Join(err, e.record(n.name, "stop", []string{n.victim}, func() (string, error) {
			return "handler running", waitHandlerRunning(ctx, e.gov, n.victim, restartBound)
		}))
	}
}

// waitHandlerRunning waits until handler id runs (resuming it if paused).
func waitHandlerRunning(ctx context.Context, gov *governor.ProcessGovernor, id string, bound time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	for {
		st, err := gov.Status(ctx)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(st.Handlers, func(p governor.ProcessStatus) bool { return p.ID == id })
		if i < 0 {
			return fmt.Errorf("no handler %s", id)
		}
		switch st.Handlers[i].State {
		case governor.StateRunning:
			return nil
		case governor.StatePaused:
			_ = gov.Resume(ctx, id)
		case governor.StateFailed:
			return fmt.Errorf("handler %s was given up by the supervisor", id)
		}
		if sleepCtx(ctx, 100*time.Millisecond) != nil {
			return fmt.Errorf("handler %s not running within %s (%s)", id, bound, st.Handlers[i].State)
		}
	}
}

var _ Nemesis = (*handlerNemesis)(nil)
