package jepsen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/governor"
)

// Nemesis names accepted in Config.Nemeses.
const (
	NemesisKillRandom     = "kill-random"
	NemesisKillLeader     = "kill-leader"
	NemesisTermLeader     = "term-leader"
	NemesisPauseLeader    = "pause-leader"
	NemesisIsolateLeader  = "partition-leader"
	NemesisPartitionHalf  = "partition-half"
	NemesisBridge         = "partition-bridge"
	NemesisOneWay         = "partition-one-way"
	NemesisMembership     = "membership"
	NemesisRollingRestart = "rolling-restart"
	// NemesisNone runs the workload without faults.
	NemesisNone = "none"
)

// NemesisNames lists every nemesis, in a stable order.
func NemesisNames() []string {
	return []string{
		NemesisKillRandom, NemesisKillLeader, NemesisTermLeader, NemesisPauseLeader,
		NemesisIsolateLeader, NemesisPartitionHalf, NemesisBridge, NemesisOneWay,
		NemesisMembership, NemesisRollingRestart,
		NemesisKillHandler, NemesisPauseHandler, NemesisPartitionHandler,
	}
}

// A Nemesis injects one kind of fault. Start puts the fault in place (it may
// leave background work running, such as repeated pauses) and Stop removes
// it and returns once the cluster is out of the fault's hands: processes
// resumed and running, rules healed, background work finished. Both record
// their actions in the history through the env. A Nemesis is used by one
// goroutine at a time.
type Nemesis interface {
	Name() string
	Start(ctx context.Context, e *env) error
	Stop(ctx context.Context, e *env) error
}

// newNemesis builds the nemesis called name.
func newNemesis(name string) (Nemesis, error) {
	switch name {
	case NemesisKillRandom:
		return &signalNemesis{name: name, leader: false, kill: true}, nil
	case NemesisKillLeader:
		return &signalNemesis{name: name, leader: true, kill: true}, nil
	case NemesisTermLeader:
		return &signalNemesis{name: name, leader: true, kill: false}, nil
	case NemesisPauseLeader:
		return &pauseNemesis{}, nil
	case NemesisIsolateLeader, NemesisPartitionHalf, NemesisBridge, NemesisOneWay:
		return &partitionNemesis{name: name}, nil
	case NemesisMembership:
		return &membershipNemesis{}, nil
	case NemesisRollingRestart:
		return &rollingRestartNemesis{}, nil
	case NemesisKillHandler, NemesisPauseHandler, NemesisPartitionHandler:
		return &handlerNemesis{name: name}, nil
	}
	return nil, fmt.Errorf("%w: unknown nemesis %q", ErrInvalidConfig, name)
}

// env is what nemeses act through.
type env struct {
	gov  *governor.ProcessGovernor
	cl   *cluster
	h    *History
	rng  *rand.Rand // the schedule's RNG: used by one goroutine at a time
	cfg  Config
	logf func(string, ...any)
}

// record runs fn and records it as one nemesis event.
func (e *env) record(nemesis, phase string, targets []string, fn func() (string, error)) error {
	ev := NemesisEvent{Nemesis: nemesis, Phase: phase, Targets: targets, StartNS: governor.MonotonicNS()}
	detail, err := fn()
	ev.EndNS, ev.Detail = governor.MonotonicNS(), detail
	if err != nil {
		ev.Error = err.Error()
		e.logf("nemesis %s %s %v: %v", nemesis, phase, targets, err)
	}
	e.h.AddNemesis(ev)
	return err
}

// leader finds the current ready leader (waiting for one briefly).
func (e *env) leader(ctx context.Context) (string, error) {
	return e.cl.WaitLeader(ctx, e.cfg.LeaderBound)
}

// running returns the members the governor reports as running.
func (e *env) running(ctx context.Context) []string {
	st, err := e.gov.Status(ctx)
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range st.Nodes {
		if n.State == governor.StateRunning && slices.Contains(e.cl.Members(), n.ID) {
			out = append(out, n.ID)
		}
	}
	return out
}

// fork returns a copy of e with its own RNG, seeded from e's, for a
// nemesis's background work.
func (e *env) fork() *env {
	c := *e
	c.rng = rand.New(rand.NewPCG(e.rng.Uint64(), e.rng.Uint64()))
	return &c
}

func (e *env) pick(ids []string) string { return ids[e.rng.IntN(len(ids))] }

// others returns the members other than ids.
func (e *env) others(ids ...string) []string {
	return slices.DeleteFunc(e.cl.Members(), func(m string) bool { return slices.Contains(ids, m) })
}

// waitRunning waits until every member runs again (the supervisor restarts
// killed nodes after its back-off) and revives a node left "failed".
func (e *env) waitRunning(ctx context.Context, bound time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	for {
		st, err := e.gov.Status(ctx)
		if err != nil {
			return err
		}
		var waiting []string
		for _, n := range st.Nodes {
			if !slices.Contains(e.cl.Members(), n.ID) {
				continue
			}
			switch n.State {
			case governor.StateRunning:
			case governor.StatePaused:
				_ = e.gov.Resume(ctx, n.ID)
				waiting = append(waiting, n.ID+"(paused)")
			case governor.StateFailed:
				return fmt.Errorf("%s crashed too often and was given up by the supervisor (last exit: %s)", n.ID, n.LastExit)
			default:
				waiting = append(waiting, n.ID+"("+string(n.State)+")")
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		if sleepCtx(ctx, 100*time.Millisecond) != nil {
			return fmt.Errorf("nodes not running within %s: %s", bound, strings.Join(waiting, ", "))
		}
	}
}

// background runs fn in a goroutine that Stop waits for.
type background struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func startBackground(ctx context.Context, fn func(ctx context.Context) error) *background {
	ctx, cancel := context.WithCancel(ctx)
	b := &background{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		b.err = fn(ctx)
	}()
	return b
}

// wait cancels (when stop) and waits for the goroutine; a nil background
// is finished.
func (b *background) wait(stop bool) error {
	if b == nil {
		return nil
	}
	if stop {
		b.cancel()
	}
	<-b.done
	b.cancel()
	if errors.Is(b.err, context.Canceled) {
		return nil
	}
	return b.err
}

// runSchedule alternates healthy and fault windows until duration has
// passed, cycling through the nemeses in a seeded order.
func runSchedule(ctx context.Context, e *env, nemeses []Nemesis, duration time.Duration) {
	deadline := time.Now().Add(duration)
	order := slices.Clone(nemeses)
	e.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for i := 0; ctx.Err() == nil; i++ {
		healthy := e.uniform(e.cfg.HealthyMin, e.cfg.HealthyMax)
		left := time.Until(deadline)
		if len(order) == 0 || healthy+e.cfg.FaultMin > left {
			e.window(ctx, WindowHealthy, "", left)
			return
		}
		e.window(ctx, WindowHealthy, "", healthy)
		n := order[i%len(order)]
		fault := min(e.uniform(e.cfg.FaultMin, e.cfg.FaultMax), time.Until(deadline))
		e.fault(ctx, n, fault)
	}
}

// window records a healthy window of length d (slept through).
func (e *env) window(ctx context.Context, kind, nemesis string, d time.Duration) {
	w := Window{Kind: kind, Nemesis: nemesis, StartNS: governor.MonotonicNS()}
	_ = sleepCtx(ctx, d)
	w.EndNS = governor.MonotonicNS()
	e.h.AddWindow(w)
}

// fault runs one nemesis for about d: Start, wait, Stop.
func (e *env) fault(ctx context.Context, n Nemesis, d time.Duration) {
	w := Window{Kind: WindowFault, Nemesis: n.Name(), StartNS: governor.MonotonicNS()}
	e.cfg.printf("  %s fault %-18s for %s", clockStamp(), n.Name(), d.Round(100*time.Millisecond))
	end := time.Now().Add(d)
	_ = n.Start(ctx, e)
	_ = sleepCtx(ctx, time.Until(end))
	stopCtx := context.WithoutCancel(ctx)
	_ = n.Stop(stopCtx, e)
	w.EndNS = governor.MonotonicNS()
	e.h.AddWindow(w)
}

func (e *env) uniform(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(e.rng.Int64N(int64(hi-lo)))
}

// healAll removes every fault the nemeses may have left: partition rules,
// paused processes, stopped nodes.
func healAll(ctx context.Context, e *env) error {
	return e.record("final", "heal", nil, func() (string, error) {
		err := e.gov.Heal(ctx)
		return "heal partitions, resume paused nodes, wait for all members to run", errors.Join(err, e.waitRunning(ctx, 60*time.Second))
	})
}

var (
	_ Nemesis = (*signalNemesis)(nil)
	_ Nemesis = (*pauseNemesis)(nil)
	_ Nemesis = (*partitionNemesis)(nil)
	_ Nemesis = (*membershipNemesis)(nil)
	_ Nemesis = (*rollingRestartNemesis)(nil)
)
