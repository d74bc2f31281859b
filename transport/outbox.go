package transport

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/internal/clock"
)

// outbox holds a Listener's per-peer send queues and runs the single writer
// that drains them round-robin, one frame per peer per turn. Both Listener
// implementations use it with their own writeFunc.
//
// A peer gets a queue when a frame arrives from it (touch) and loses it when
// it has been silent for IdleTimeout or when a write to it fails; enqueue
// for a peer without a queue returns ErrUnknownPeer. Queues are bounded, so
// memory per peer is bounded; the writer is single because zmq4's ROUTER
// serialises all sends under one mutex anyway (notes/zmq4.md row i), and the
// write timeout bounds how long one peer can hold it.
type outbox struct {
	queueSize int
	idle      time.Duration
	clock     clock.Clock
	st        *counters
	log       *slog.Logger
	writeFunc func(peer string, frame []byte) error

	mu    sync.Mutex
	peers map[string]*peerQueue
	ready []*peerQueue // peers with queued frames, in service order
	wake  chan struct{}
}

type peerQueue struct {
	id       string
	frames   [][]byte
	lastSeen time.Time
	inReady  bool
	gone     bool // removed from peers; ignore when met in ready
}

func newOutbox(cfg ListenerConfig, st *counters, writeFunc func(peer string, frame []byte) error) *outbox {
	return &outbox{
		queueSize: cfg.QueueSize,
		idle:      cfg.IdleTimeout,
		clock:     cfg.Clock,
		st:        st,
		log:       cfg.Logger,
		writeFunc: writeFunc,
		peers:     make(map[string]*peerQueue),
		wake:      make(chan struct{}, 1),
	}
}

// touch records inbound traffic from peer, creating its queue if needed.
func (o *outbox) touch(peer string) {
	now := o.clock.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	p := o.peers[peer]
	if p == nil {
		p = &peerQueue{id: peer}
		o.peers[peer] = p
	}
	p.lastSeen = now
}

// enqueue appends frame to peer's queue without blocking.
func (o *outbox) enqueue(peer string, frame []byte) error {
	o.mu.Lock()
	p := o.peers[peer]
	switch {
	case p == nil:
		o.mu.Unlock()
		return ErrUnknownPeer
	case len(p.frames) >= o.queueSize:
		o.mu.Unlock()
		o.st.queueFull.Add(1)
		return ErrQueueFull
	}
	p.frames = append(p.frames, frame)
	if !p.inReady {
		p.inReady = true
		o.ready = append(o.ready, p)
	}
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// next pops the next frame in round-robin order.
func (o *outbox) next() (*peerQueue, []byte, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for len(o.ready) > 0 {
		p := o.ready[0]
		o.ready[0] = nil
		o.ready = o.ready[1:]
		if p.gone || len(p.frames) == 0 {
			p.inReady = false
			continue
		}
		f := p.frames[0]
		p.frames[0] = nil
		p.frames = p.frames[1:]
		if len(p.frames) > 0 {
			o.ready = append(o.ready, p)
		} else {
			p.inReady = false
		}
		return p, f, true
	}
	return nil, nil, false
}

// removeLocked forgets p, counting its discarded frames as send errors.
func (o *outbox) removeLocked(p *peerQueue) {
	if o.peers[p.id] == p {
		delete(o.peers, p.id)
	}
	p.gone = true
	o.st.sendErrors.Add(uint64(len(p.frames)))
	p.frames = nil
}

// expire drops the queues of peers silent for longer than the idle timeout.
func (o *outbox) expire() {
	now := o.clock.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range o.peers {
		if now.Sub(p.lastSeen) >= o.idle {
			o.removeLocked(p)
		}
	}
}

func (o *outbox) peerCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.peers)
}

// run is the writer goroutine; it returns when done is closed.
func (o *outbox) run(done <-chan struct{}) {
	sweep := max(o.idle/4, time.Millisecond)
	t := o.clock.NewTimer(sweep)
	defer t.Stop()
	for {
		o.drain(done)
		select {
		case <-done:
			return
		case <-o.wake:
		case <-t.C():
			o.expire()
			t.Reset(sweep)
		}
	}
}

func (o *outbox) drain(done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		default:
		}
		p, f, ok := o.next()
		if !ok {
			return
		}
		if err := o.writeFunc(p.id, f); err != nil {
			o.log.LogAttrs(context.Background(), slog.LevelInfo, "transport: write failed, dropping peer",
				slog.String(logKeyPeer, p.id), slog.String(logKeyReason, err.Error()))
			o.st.sendErrors.Add(1)
			o.mu.Lock()
			o.removeLocked(p)
			o.mu.Unlock()
			continue
		}
		o.st.sent.Add(1)
	}
}
