package jepsen

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// membershipNemesis changes the Raft configuration under load: it adds a
// node (non-voter first, promoted once caught up), waits until it votes,
// then removes a random other member — possibly the leader — so that the
// cluster keeps its size. Node IDs are never reused.
type membershipNemesis struct{ bg *background }

func (n *membershipNemesis) Name() string { return NemesisMembership }

func (n *membershipNemesis) Start(ctx context.Context, e *env) error {
	e = e.fork()
	n.bg = startBackground(context.WithoutCancel(ctx), func(ctx context.Context) error {
		added, err := n.add(ctx, e)
		if err != nil {
			return err
		}
		return n.remove(ctx, e, e.pick(e.others(added)))
	})
	return nil
}

func (n *membershipNemesis) add(ctx context.Context, e *env) (string, error) {
	var added string
	err := e.record(n.Name(), "add-node", nil, func() (string, error) {
		id, err := e.gov.AddNode(ctx)
		added = id
		if err != nil {
			return id, err
		}
		e.h.AddNode(id)
		if err := e.cl.refresh(ctx); err != nil {
			return id, err
		}
		return id + " joined", n.waitVoter(ctx, e, id)
	})
	return added, err
}

// waitVoter waits until the leader's configuration lists id as a voter.
func (n *membershipNemesis) waitVoter(ctx context.Context, e *env, id string) error {
	return e.cl.waitFor(ctx, defaultMembershipWait, func() bool {
		leader := e.cl.Leader(ctx)
		if leader == "" {
			return false
		}
		members, err := e.cl.probeClient(leader).Members(ctx)
		if err != nil {
			return false
		}
		for _, m := range members {
			if m.ID == id {
				return m.Suffrage == "voter"
			}
		}
		return false
	})
}

// remove removes victim, retrying while leadership moves.
func (n *membershipNemesis) remove(ctx context.Context, e *env, victim string) error {
	return e.record(n.Name(), "remove-node", []string{victim}, func() (string, error) {
		var errs []error
		for attempt := range 3 {
			err := e.gov.RemoveNode(ctx, victim)
			if err == nil {
				return fmt.Sprintf("%s removed (attempt %d)", victim, attempt+1), e.cl.refresh(ctx)
			}
			errs = append(errs, err)
			_, _ = e.leader(ctx)
			_ = sleepCtx(ctx, time.Second)
		}
		return "", errors.Join(errs...)
	})
}

// Stop waits for the change to complete: a half-done membership change is
// not a state to heal from.
func (n *membershipNemesis) Stop(ctx context.Context, e *env) error {
	err := n.bg.wait(false)
	return e.record(n.Name(), "stop", nil, func() (string, error) {
		return "membership change finished", errors.Join(err, e.waitRunning(ctx, restartBound))
	})
}
