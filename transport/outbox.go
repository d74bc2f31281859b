package transport

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/internal/clock"
	"github.com/schedulezero/schedulezero/wire"
)

// outbox holds a Listener's per-peer send queues and runs the single writer
// that drains them round-robin, one turn per peer. Both Listener
// implementations use it with their own writeFunc.
//
// Batching: a turn writes one frame. For a peer whose latest hello listed
// wire.FeatureBatch (observe), and unless the listener disables batching,
// that frame is a batch of everything queued for the peer, up to
// wire.MaxFrameBytes and wire.MaxBatchMessages; otherwise it is the next
// message. The writer never waits for a batch to fill: a message queued
// for an idle peer goes out at once, alone, and whatever queues up while
// the socket is busy goes out together in the peer's next turn. The outbox
// also stamps the features it will use into welcome messages (stamp), which
// is how the peer learns that it may batch too.
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
	batching  bool
	// writeFunc writes one frame to peer. It must not keep frame after
	// returning: the buffer is reused.
	writeFunc func(peer string, frame []byte) error

	mu    sync.Mutex
	peers map[string]*peerQueue
	ready []*peerQueue // peers with queued frames, in service order
	wake  chan struct{}

	// Scratch space of the writer goroutine.
	take []outFrame
	wbuf []byte
}

type peerQueue struct {
	id       string
	frames   []outFrame
	lastSeen time.Time
	inReady  bool
	gone     bool // removed from peers; ignore when met in ready
	batch    bool // the peer's latest hello listed wire.FeatureBatch
}

func newOutbox(cfg ListenerConfig, st *counters, writeFunc func(peer string, frame []byte) error) *outbox {
	return &outbox{
		queueSize: cfg.QueueSize,
		idle:      cfg.IdleTimeout,
		clock:     cfg.Clock,
		st:        st,
		log:       cfg.Logger,
		batching:  !cfg.DisableBatching,
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

// observe notes the features of a hello from peer (after touch).
func (o *outbox) observe(peer string, m *wire.Message) {
	if m.Type != wire.TypeHello {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if p := o.peers[peer]; p != nil {
		p.batch = o.batching && hasBatch(m.Features)
	}
}

// stamp sets the features of a welcome for peer: those of its hello that
// this outbox uses. Features of other messages are left alone.
func (o *outbox) stamp(peer string, m *wire.Message) {
	if m.Type != wire.TypeWelcome {
		return
	}
	m.Features = nil
	o.mu.Lock()
	defer o.mu.Unlock()
	if p := o.peers[peer]; p != nil && p.batch {
		m.Features = batchFeatures
	}
}

// enqueue appends f to peer's queue without blocking. On error the caller
// still owns f.
func (o *outbox) enqueue(peer string, f outFrame) error {
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
	p.frames = append(p.frames, f)
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

// next pops, in round-robin order, the frames of the next turn into dst:
// one, or for a batching peer as many as fit into one batch.
func (o *outbox) next(dst []outFrame) (*peerQueue, []outFrame) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for len(o.ready) > 0 {
		p := o.ready[0]
		last := copy(o.ready, o.ready[1:]) // shift, keeping the array: no reallocation
		o.ready[last] = nil
		o.ready = o.ready[:last]
		if p.gone || len(p.frames) == 0 {
			p.inReady = false
			continue
		}
		n := 1
		if p.batch {
			n = fitBatch(p.frames)
		}
		dst = append(dst, p.frames[:n]...)
		clear(p.frames[:n])
		if n < len(p.frames) {
			p.frames = p.frames[n:]
			o.ready = append(o.ready, p)
		} else {
			p.frames = p.frames[:0] // drained: reuse the array from its start
			p.inReady = false
		}
		return p, dst
	}
	return nil, dst
}

// removeLocked forgets p, counting its discarded frames as send errors.
func (o *outbox) removeLocked(p *peerQueue) {
	if o.peers[p.id] == p {
		delete(o.peers, p.id)
	}
	p.gone = true
	o.st.sendErrors.Add(uint64(len(p.frames)))
	releaseAll(p.frames)
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
		p, fs := o.next(o.take[:0])
		if p == nil {
			return
		}
		if o.write(p, fs) {
			releaseAll(fs)
		} else {
			clear(fs) // the socket may still hold them: leave them to the GC
		}
		o.take = fs[:0]
	}
}

// write writes one turn's frames to p as one frame and reports success.
func (o *outbox) write(p *peerQueue, fs []outFrame) bool {
	frame := fs[0].b
	if len(fs) > 1 {
		o.wbuf = appendWire(o.wbuf[:0], fs)
		frame = o.wbuf
	}
	if err := o.writeFunc(p.id, frame); err != nil {
		o.log.LogAttrs(context.Background(), slog.LevelInfo, "transport: write failed, dropping peer",
			slog.String(logKeyPeer, p.id), slog.String(logKeyReason, err.Error()))
		o.st.sendErrors.Add(uint64(len(fs)))
		o.wbuf = nil
		o.mu.Lock()
		o.removeLocked(p)
		o.mu.Unlock()
		return false
	}
	o.st.countSent(len(fs))
	return true
}
