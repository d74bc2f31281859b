package governor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// Status implements Controller. It never fails on a ProcessGovernor.
func (g *ProcessGovernor) Status(context.Context) (Status, error) { return g.status(), nil }

func (g *ProcessGovernor) status() Status {
	g.mu.Lock()
	nodes, handlers := slices.Clone(g.nodes), slices.Clone(g.handlers)
	st := Status{Governor: GovernorInfo{PID: os.Getpid(), State: g.phase, Dir: g.cfg.Dir,
		BasePort: g.cfg.BasePort, StartedAt: g.startedAt}}
	if g.ctl != nil {
		st.Governor.ControlAddr = g.ctl.addr()
	}
	g.mu.Unlock()
	st.Nodes, st.Handlers = []ProcessStatus{}, []ProcessStatus{}
	for _, nd := range nodes {
		ps := nd.proc.status()
		a := nd.addrs
		ps.HTTPAddr, ps.RaftAddr, ps.ZMQAddr = a.bindHTTP(), a.bindRaft(), zmqURL(a.bindZMQ())
		ps.AdvertiseHTTP, ps.AdvertiseRaft, ps.AdvertiseZMQ = a.advHTTP(), a.advRaft(), zmqURL(a.advZMQ())
		ps.DataDir = filepath.Join(g.cfg.Dir, "nodes", ps.ID, "data")
		ps.PeerConns = g.net.peerConns(ps.ID)
		st.Nodes = append(st.Nodes, ps)
	}
	for i, p := range handlers {
		ps := p.status()
		ps.Servers = g.handlerServers(i + 1)
		st.Handlers = append(st.Handlers, ps)
	}
	st.Blocked = g.net.blocked()
	return st
}

// Kill implements Controller.
func (g *ProcessGovernor) Kill(ctx context.Context, id string) error {
	return g.signalOp(ctx, "kill", id, syscall.SIGKILL, true)
}

// Term implements Controller.
func (g *ProcessGovernor) Term(ctx context.Context, id string) error {
	return g.signalOp(ctx, "term", id, syscall.SIGTERM, true)
}

// Pause implements Controller.
func (g *ProcessGovernor) Pause(ctx context.Context, id string) error {
	return g.signalOp(ctx, "stop", id, syscall.SIGSTOP, false)
}

// Resume implements Controller.
func (g *ProcessGovernor) Resume(ctx context.Context, id string) error {
	return g.signalOp(ctx, "cont", id, syscall.SIGCONT, false)
}

func (g *ProcessGovernor) signalOp(ctx context.Context, op, id string, sig syscall.Signal, faulted bool) error {
	return g.op(ctx, TimelineEvent{Op: op, Target: id}, func(_ context.Context, ev *TimelineEvent) error {
		p, _, err := g.lookup(id)
		if err != nil {
			return err
		}
		ev.PID, err = p.signal(sig, faulted)
		return err
	})
}

// Restart implements Controller.
func (g *ProcessGovernor) Restart(ctx context.Context, id string) error {
	return g.op(ctx, TimelineEvent{Op: "restart", Target: id}, func(ctx context.Context, ev *TimelineEvent) error {
		p, nd, err := g.lookup(id)
		if err != nil {
			return err
		}
		if nd != nil && g.isRemoved(nd) {
			return fmt.Errorf("%w: %s was removed from the cluster", ErrNotRunning, id)
		}
		p.stop(ctx)
		p.revive()
		p.start()
		if nd == nil {
			return nil
		}
		err = g.waitReady(ctx, p)
		ev.PID = p.status().PID
		return err
	})
}

// Partition implements Controller.
func (g *ProcessGovernor) Partition(ctx context.Context, groups [][]string) error {
	return g.op(ctx, TimelineEvent{Op: "partition", Groups: groups}, func(context.Context, *TimelineEvent) error {
		rs, err := partitionRules(groups)
		if err != nil {
			return err
		}
		return g.installRules(rs, slices.Concat(groups...))
	})
}

// PartitionOneWay implements Controller.
func (g *ProcessGovernor) PartitionOneWay(ctx context.Context, from, to []string) error {
	return g.op(ctx, TimelineEvent{Op: "partition-one-way", From: from, To: to}, func(context.Context, *TimelineEvent) error {
		rs, err := oneWayRules(from, to)
		if err != nil {
			return err
		}
		return g.installRules(rs, slices.Concat(from, to))
	})
}

// Heal implements Controller.
func (g *ProcessGovernor) Heal(ctx context.Context) error {
	return g.op(ctx, TimelineEvent{Op: "heal"}, func(context.Context, *TimelineEvent) error {
		g.net.setRules(ruleSet{})
		return nil
	})
}

func (g *ProcessGovernor) installRules(rs ruleSet, ids []string) error {
	if g.cfg.Direct {
		return fmt.Errorf("%w: partitions need the proxies; this governor runs with Direct", ErrUnsupported)
	}
	for _, id := range ids {
		if _, _, err := g.lookup(id); err != nil {
			return err
		}
	}
	g.net.setRules(rs)
	g.warnUnattributed()
	return nil
}

// AddNode implements Controller.
func (g *ProcessGovernor) AddNode(ctx context.Context) (string, error) {
	var id string
	err := g.op(ctx, TimelineEvent{Op: "add-node"}, func(ctx context.Context, ev *TimelineEvent) error {
		g.mu.Lock()
		i := len(g.nodes) + 1 // IDs are never reused, removed nodes included
		g.mu.Unlock()
		if i > MaxNodes {
			return fmt.Errorf("%w: at most %d nodes", ErrInvalidArgument, MaxNodes)
		}
		var join []string
		for _, a := range g.liveNodeAddrs() {
			join = append(join, a.advHTTP())
		}
		id = nodeID(i)
		ev.Target = id
		err := g.startNode(ctx, i, join)
		g.notify()
		return err
	})
	return id, err
}

// RemoveNode implements Controller.
func (g *ProcessGovernor) RemoveNode(ctx context.Context, id string) error {
	return g.op(ctx, TimelineEvent{Op: "remove-node", Target: id}, func(ctx context.Context, _ *TimelineEvent) error {
		_, nd, err := g.lookup(id)
		if err != nil {
			return err
		}
		if nd == nil {
			return fmt.Errorf("%w: %s is not a node", ErrInvalidArgument, id)
		}
		if g.isRemoved(nd) {
			return fmt.Errorf("%w: %s was already removed", ErrNotRunning, id)
		}
		if err := g.removeMember(ctx, id); err != nil {
			return err
		}
		g.mu.Lock()
		nd.removed = true
		g.mu.Unlock()
		nd.proc.stop(ctx)
		nd.proc.markRemoved()
		g.net.closeTarget(id)
		return nil
	})
}

// removeMember asks the other live nodes, in turn, to remove id; any node
// forwards the request to the leader.
func (g *ProcessGovernor) removeMember(ctx context.Context, id string) error {
	g.mu.Lock()
	nodes := slices.Clone(g.nodes)
	g.mu.Unlock()
	var errs []error
	for _, other := range nodes {
		if other.proc.spec.id == id || g.isRemoved(other) || other.proc.status().PID == 0 {
			continue
		}
		err := other.api.RemoveMember(ctx, id)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("via %s: %w", other.proc.spec.id, err))
	}
	if len(errs) == 0 {
		return fmt.Errorf("%w: no other live node to remove %s through", ErrNotRunning, id)
	}
	return fmt.Errorf("remove %s from the cluster: %w", id, errors.Join(errs...))
}

func (g *ProcessGovernor) isRemoved(nd *nodeProc) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return nd.removed
}

// lookup finds a process by ID; nd is set for nodes.
func (g *ProcessGovernor) lookup(id string) (p *proc, nd *nodeProc, err error) {
	kind, i, ok := parseID(id)
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case ok && kind == KindNode && i <= len(g.nodes):
		return g.nodes[i-1].proc, g.nodes[i-1], nil
	case ok && kind == KindHandler && i <= len(g.handlers):
		return g.handlers[i-1], nil, nil
	}
	handlers := "no handlers"
	if len(g.handlers) > 0 {
		handlers = fmt.Sprintf("handlers h1..h%d", len(g.handlers))
	}
	return nil, nil, fmt.Errorf("%w: %q (nodes n1..n%d, %s)", ErrUnknownProcess, id, len(g.nodes), handlers)
}

// op runs one Controller operation: serialised, only while the governor
// runs, aborted when it stops, and recorded in the timeline.
func (g *ProcessGovernor) op(ctx context.Context, ev TimelineEvent, fn func(context.Context, *TimelineEvent) error) error {
	ctx, cancel := g.opCtx(ctx)
	defer cancel()
	if err := g.acquire(ctx); err != nil {
		return err
	}
	defer g.release()
	g.mu.Lock()
	phase, tl := g.phase, g.tl
	g.mu.Unlock()
	if phase != phaseRunning {
		return fmt.Errorf("%w (governor is %s)", ErrNotStarted, phase)
	}
	begun := tl.begin()
	ev.Kind, ev.StartMonoNS, ev.Start = "fault", begun.StartMonoNS, begun.Start
	err := fn(ctx, &ev)
	attrs := []any{"op", ev.Op}
	for _, kv := range []struct {
		k string
		v any
	}{{"target", ev.Target}, {"groups", ev.Groups}, {"from", ev.From}, {"to", ev.To}} {
		if s := fmt.Sprint(kv.v); s != "" && s != "[]" {
			attrs = append(attrs, kv.k, kv.v)
		}
	}
	if err != nil {
		ev.Error = err.Error()
		g.log.Warn("operation failed", append(attrs, "err", err)...)
	} else {
		g.log.Info("operation done", attrs...)
	}
	tl.record(ev)
	g.notify()
	return err
}
