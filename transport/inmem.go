package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrNoListener: an in-memory Dial found no listener at the endpoint (the
// ZMQ dialer reports the TCP error instead).
var ErrNoListener = errors.New("transport: no listener at endpoint")

// InmemNetwork is an in-process network of Listeners and Conns with the
// same observable semantics as the ZMQ transport (bounded per-peer queues,
// ErrQueueFull, ErrUnknownPeer, ErrConnLost, write timeouts that close a
// stalled connection, frame limits, duplicate identities receiving both),
// plus fault hooks for tests: Partition and Pause.
//
// Frames are encoded on send and decoded on delivery, so messages never
// share memory between sender and receiver and malformed or oversized
// frames are dropped and counted exactly as on the wire.
type InmemNetwork struct {
	mu         sync.Mutex
	listeners  map[string]*InmemListener
	partitions map[link]struct{}
	paused     map[string]chan struct{} // identity → closed on resume
}

// link is one (listener endpoint, connection identity) pair; an empty
// identity stands for every identity.
type link struct{ endpoint, identity string }

// NewInmemNetwork returns an empty network.
func NewInmemNetwork() *InmemNetwork {
	return &InmemNetwork{
		listeners:  make(map[string]*InmemListener),
		partitions: make(map[link]struct{}),
		paused:     make(map[string]chan struct{}),
	}
}

// Listen binds a listener at endpoint (any non-empty name, e.g.
// "inmem://node1"). Binding an endpoint that has a live listener fails.
func (n *InmemNetwork) Listen(endpoint string, cfg ListenerConfig) (*InmemListener, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if endpoint == "" {
		return nil, errors.New("transport: empty endpoint")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.listeners[endpoint]; ok {
		return nil, fmt.Errorf("transport: listen %s: address in use", endpoint)
	}
	l := newInmemListener(n, endpoint, cfg)
	n.listeners[endpoint] = l
	return l, nil
}

// Dialer returns a Dialer on this network.
func (n *InmemNetwork) Dialer(cfg DialerConfig) *InmemDialer {
	return &InmemDialer{net: n, cfg: cfg.withDefaults()}
}

// Partition cuts (on) or heals (!on) the link between the listener at
// endpoint and the connection(s) with identity; identity "" means all of
// them. Traffic on a cut link is dropped silently in both directions and
// Send still returns nil, as on a real network; Dial across it fails.
func (n *InmemNetwork) Partition(endpoint, identity string, on bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if on {
		n.partitions[link{endpoint, identity}] = struct{}{}
	} else {
		delete(n.partitions, link{endpoint, identity})
	}
}

// Pause stops (on) or resumes (!on) consumption by the connection(s) with
// identity, as if the handler process were stopped with its receive buffer
// full: the listener's writer blocks on it, its queue fills (ErrQueueFull),
// and after WriteTimeout the listener closes the connection. Frames sent by
// a paused identity are not affected (a stopped process sends nothing).
func (n *InmemNetwork) Pause(identity string, on bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	gate, paused := n.paused[identity]
	switch {
	case on && !paused:
		n.paused[identity] = make(chan struct{})
	case !on && paused:
		close(gate)
		delete(n.paused, identity)
	}
}

func (n *InmemNetwork) partitioned(endpoint, identity string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, one := n.partitions[link{endpoint, identity}]
	_, all := n.partitions[link{endpoint, ""}]
	return one || all
}

// pauseGate returns a channel closed when identity is resumed, or nil when
// it is not paused.
func (n *InmemNetwork) pauseGate(identity string) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.paused[identity]
}

func (n *InmemNetwork) listener(endpoint string) *InmemListener {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.listeners[endpoint]
}

func (n *InmemNetwork) unbind(l *InmemListener) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.listeners[l.endpoint] == l {
		delete(n.listeners, l.endpoint)
	}
}

// InmemDialer dials listeners of one InmemNetwork.
type InmemDialer struct {
	net *InmemNetwork
	cfg DialerConfig
}

var _ Dialer = (*InmemDialer)(nil)

// Dial connects to the listener at endpoint. It fails with ErrNoListener
// when none is bound and when the link is partitioned.
func (d *InmemDialer) Dial(ctx context.Context, endpoint, identity string) (Conn, error) {
	if err := d.cfg.validate(); err != nil {
		return nil, err
	}
	if err := validateIdentity(identity); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l := d.net.listener(endpoint)
	if l == nil || d.net.partitioned(endpoint, identity) {
		return nil, fmt.Errorf("transport: dial %s: %w", endpoint, ErrNoListener)
	}
	c := newInmemConn(d.net, l, identity, d.cfg)
	if !l.attach(c) {
		return nil, fmt.Errorf("transport: dial %s: %w", endpoint, ErrNoListener)
	}
	return c, nil
}
