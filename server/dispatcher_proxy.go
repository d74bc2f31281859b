package server

import (
	"context"
	"sync/atomic"

	"github.com/schedulezero/schedulezero/api"
	"github.com/schedulezero/schedulezero/dispatch"
	"github.com/schedulezero/schedulezero/fsm"
)

// dispatcherProxy lets the API be built before the dispatcher exists (the
// dispatcher needs the bound ZMQ listener, created in Start).
type dispatcherProxy struct {
	d atomic.Pointer[dispatch.Dispatcher]
}

var _ api.Dispatcher = (*dispatcherProxy)(nil)

func (p *dispatcherProxy) set(d *dispatch.Dispatcher) { p.d.Store(d) }

func (p *dispatcherProxy) Trigger(ctx context.Context, id, requestID string) (*fsm.Run, error) {
	d := p.d.Load()
	if d == nil {
		return nil, dispatch.ErrNotLeader
	}
	return d.Trigger(ctx, id, requestID)
}

func (p *dispatcherProxy) Handlers() []api.HandlerStatus {
	d := p.d.Load()
	if d == nil {
		return []api.HandlerStatus{}
	}
	hs := d.Handlers()
	out := make([]api.HandlerStatus, len(hs))
	for i, h := range hs {
		out[i] = api.HandlerStatus(h)
	}
	return out
}

func (p *dispatcherProxy) IsLeading() bool {
	d := p.d.Load()
	return d != nil && d.IsLeading()
}
