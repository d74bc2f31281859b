package jepsen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/governor"
	"github.com/schedulezero/schedulezero/trigger"
)

// opMix is the workload's operation mix, in percent (testing.md §5).
var opMix = []struct {
	kind   OpKind
	weight int
}{{OpCreate, 20}, {OpUpdate, 30}, {OpDelete, 15}, {OpGet, 35}}

// farFuture keeps the workload's schedules from ever firing: the CRUD
// workload checks the schedule set, not dispatch.
const farFuture = "2099-01-01T00:00:00Z"

// workload runs the CRUD clients: each has one operation in flight against
// a random member's direct address, paced so that all clients together stay
// under the configured rate.
type workload struct {
	seed    int64
	clients int
	keys    []string
	cl      *cluster
	h       *History
	pace    *pacer
}

// Keys returns the schedule IDs of a run with k keys.
func Keys(k int) []string {
	out := make([]string, k)
	for i := range out {
		out[i] = fmt.Sprintf("jk-%02d", i)
	}
	return out
}

// run drives the clients until ctx ends, then lets every in-flight
// operation finish (each is bounded by the client timeout).
func (w *workload) run(ctx context.Context) {
	var wg sync.WaitGroup
	for id := range w.clients {
		wg.Go(func() { w.client(ctx, id) })
	}
	wg.Wait()
}

func (w *workload) client(ctx context.Context, id int) {
	rng := rand.New(rand.NewPCG(uint64(w.seed), uint64(id)+1))
	opCtx := context.WithoutCancel(ctx) // in-flight operations complete on their own
	for seq := 0; ; seq++ {
		if w.pace.wait(ctx) != nil {
			return
		}
		op := w.next(rng, id, seq)
		if op.Node == "" {
			continue // no member known (cannot happen after start)
		}
		w.do(opCtx, &op)
		w.h.AddOp(op)
	}
}

// next draws the client's next operation.
func (w *workload) next(rng *rand.Rand, id, seq int) Op {
	op := Op{Client: id, Kind: pickKind(rng), Key: w.keys[rng.IntN(len(w.keys))]}
	if members := w.cl.Members(); len(members) > 0 {
		op.Node = members[rng.IntN(len(members))]
	}
	if op.Kind == OpCreate || op.Kind == OpUpdate {
		op.Value = fmt.Sprintf("v-%d-%d", id, seq)
	}
	return op
}

func pickKind(rng *rand.Rand) OpKind {
	n := rng.IntN(100)
	for _, m := range opMix {
		if n < m.weight {
			return m.kind
		}
		n -= m.weight
	}
	return OpGet
}

// do performs op and fills in its times and outcome.
func (w *workload) do(ctx context.Context, op *Op) {
	api := w.cl.API(op.Node)
	var err error
	op.InvokeNS = governor.MonotonicNS()
	switch op.Kind {
	case OpCreate:
		_, err = api.CreateSchedule(ctx, scheduleFor(op.Key, op.Value))
	case OpUpdate:
		_, err = api.UpdateSchedule(ctx, scheduleFor(op.Key, op.Value), 0)
	case OpDelete:
		err = api.DeleteSchedule(ctx, op.Key)
	case OpGet:
		var s *client.Schedule
		if s, err = api.GetSchedule(ctx, op.Key); err == nil {
			op.Read = s.Method
		}
	}
	op.CompleteNS = governor.MonotonicNS()
	op.Outcome, op.Result, op.Status = classify(err)
	if err != nil {
		op.Error = err.Error()
	}
}

// scheduleFor is the schedule a write sends: the value goes in Method, the
// trigger never fires.
func scheduleFor(key, value string) *client.Schedule {
	return &client.Schedule{Schedule: fsm.Schedule{
		ID: key, Handler: "jepsen", Method: value,
		Trigger: trigger.Spec{At: farFuture},
		Policy:  fsm.DefaultPolicy,
	}}
}

// pacer spaces operations at least interval apart, across all clients.
type pacer struct {
	interval time.Duration
	mu       sync.Mutex
	next     time.Time
}

func newPacer(perSecond int) *pacer {
	return &pacer{interval: time.Second / time.Duration(perSecond)}
}

// wait blocks until the caller's slot, or until ctx ends.
func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := time.Now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.interval)
	p.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	return sleepCtx(ctx, time.Until(at))
}
