// Package handlerclienttest provides a fake ScheduleZero node for testing
// handlers and the handlerclient SDK without a cluster: it speaks the node
// side of the handler protocol (docs/protocol.md) on any
// transport.Listener, answering hello with welcome or redirect and
// heartbeats with heartbeats by itself, and leaves dispatch, cancel and
// result_ack to the test.
package handlerclienttest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/schedulezero/schedulezero/transport"
	"github.com/schedulezero/schedulezero/wire"
)

// Default timing a leading Node announces in welcome.
const (
	DefaultHeartbeatMS = 1000
	DefaultLiveness    = 3
)

// Node is a fake cluster node. Its zero value is not usable; see NewNode.
// All methods are safe for concurrent use.
type Node struct {
	id string
	ln transport.Listener

	mu          sync.Mutex
	term        uint64
	leading     bool
	leaderID    string
	leaderEP    string
	mute        bool
	autoAck     bool
	heartbeatMS int
	liveness    int
	peers       map[string]string // handler name → identity of its latest hello
	welcomes    map[string]int    // handler name → welcomes sent

	msgs   chan transport.Inbound
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewNode serves ln as node id. It starts as a follower that knows no
// leader; call Lead or Follow. Close it (or the test's Cleanup does).
func NewNode(id string, ln transport.Listener) *Node {
	n := &Node{id: id, ln: ln, heartbeatMS: DefaultHeartbeatMS, liveness: DefaultLiveness,
		peers: make(map[string]string), welcomes: make(map[string]int), msgs: make(chan transport.Inbound, 4096)}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.wg.Add(1)
	go n.serve()
	return n
}

// ID is the node id announced in welcome.
func (n *Node) ID() string { return n.id }

// Endpoint is the listener's endpoint.
func (n *Node) Endpoint() string { return n.ln.Endpoint() }

// Lead makes the node a leader of term: it answers hello with welcome.
func (n *Node) Lead(term uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.leading, n.term = true, term
}

// Follow makes the node a follower in term that redirects hello to the
// given leader (empty values: leader unknown).
func (n *Node) Follow(leaderID, leaderEndpoint string, term uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.leading, n.term, n.leaderID, n.leaderEP = false, term, leaderID, leaderEndpoint
}

// Mute makes the node drop everything it receives without answering (a
// hung node) or, with false, behave again.
func (n *Node) Mute(mute bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mute = mute
}

// AutoAck makes the node answer every result with result_ack.
func (n *Node) AutoAck(on bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.autoAck = on
}

// SetTiming sets the heartbeat_ms and liveness announced in welcome.
func (n *Node) SetTiming(heartbeatMS, liveness int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.heartbeatMS, n.liveness = heartbeatMS, liveness
}

// Term is the node's current term.
func (n *Node) Term() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.term
}

// Peer returns the identity of the latest hello from handler name.
func (n *Node) Peer(name string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p, ok := n.peers[name]
	return p, ok
}

// Welcomes returns how many hellos from handler name the node has answered
// with welcome.
func (n *Node) Welcomes(name string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.welcomes[name]
}

// Send sends m to peer.
func (n *Node) Send(ctx context.Context, peer string, m wire.Message) error {
	return n.ln.Send(ctx, peer, m)
}

// Dispatch sends a dispatch to peer, with the node's term when d.Term is
// zero and attempt 1 when d.Attempt is zero.
func (n *Node) Dispatch(ctx context.Context, peer string, d wire.Message) error {
	d.Type = wire.TypeDispatch
	if d.Term == 0 {
		d.Term = n.Term()
	}
	if d.Attempt == 0 {
		d.Attempt = 1
	}
	return n.ln.Send(ctx, peer, d)
}

// Next returns the next received message of one of types (any type when
// none is given), discarding the others, or ctx's error.
func (n *Node) Next(ctx context.Context, types ...wire.Type) (transport.Inbound, error) {
	for {
		select {
		case in := <-n.msgs:
			if len(types) == 0 || slices.Contains(types, in.Msg.Type) {
				return in, nil
			}
		case <-ctx.Done():
			return transport.Inbound{}, fmt.Errorf("waiting for %v: %w", types, ctx.Err())
		}
	}
}

// Drain discards the messages received so far, so that Next returns only
// later ones.
func (n *Node) Drain() {
	for {
		select {
		case <-n.msgs:
		default:
			return
		}
	}
}

// Close stops the node and closes its listener; it is idempotent.
func (n *Node) Close() {
	n.cancel()
	_ = n.ln.Close()
	n.wg.Wait()
}

func (n *Node) serve() {
	defer n.wg.Done()
	ctx := n.ctx
	for {
		in, err := n.ln.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, transport.ErrClosed) {
				return
			}
			continue
		}
		reply, ok := n.handle(in)
		if !ok {
			continue
		}
		if reply.Type != "" {
			_ = n.ln.Send(ctx, in.Peer, reply)
		}
		select {
		case n.msgs <- in:
		default: // nobody is reading: drop, the test only looks at what it waits for
		}
	}
}

// handle answers hello, heartbeat and (with AutoAck) result; ok is false
// when the node is muted.
func (n *Node) handle(in transport.Inbound) (reply wire.Message, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mute {
		return reply, false
	}
	m := in.Msg
	switch m.Type {
	case wire.TypeHello:
		n.peers[m.Name] = in.Peer
		if n.leading {
			n.welcomes[m.Name]++
			return wire.Message{Type: wire.TypeWelcome, NodeID: n.id, Term: n.term,
				HeartbeatMS: n.heartbeatMS, Liveness: n.liveness}, true
		}
		return wire.Message{Type: wire.TypeRedirect, LeaderID: n.leaderID, LeaderEndpoint: n.leaderEP,
			Term: n.term}, true
	case wire.TypeHeartbeat:
		return wire.Message{Type: wire.TypeHeartbeat, Term: n.term}, true
	case wire.TypeResult:
		if n.autoAck {
			return wire.Message{Type: wire.TypeResultAck, RunID: m.RunID, Attempt: m.Attempt}, true
		}
	}
	return reply, true
}
