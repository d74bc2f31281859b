// Package transport moves wire.Messages between nodes and handlers. The
// interfaces here are the seam: zmq_listener.go and zmq_conn.go implement
// them over go-zeromq/zmq4 (a ROUTER per node, one DEALER per node on the
// handler side; zmtp_guard.go adds the write deadlines, handshake timeout
// and frame limit zmq4 v0.17.0 lacks), inmem.go in memory for tests, and
// conformance_test.go holds the suite every implementation passes.
//
// Neither side trusts the transport for delivery, ordering or reconnection
// (notes/zmq4.md): a nil error from Send means only that the message was
// handed to the socket. Delivery is proven by application acknowledgements
// (accepted, result_ack) and liveness by heartbeats.
package transport

import (
	"context"
	"errors"

	"github.com/schedulezero/schedulezero/wire"
)

// Sentinel errors.
var (
	// ErrClosed: the listener or connection has been closed.
	ErrClosed = errors.New("transport: closed")
	// ErrQueueFull: the per-peer send queue is full; the message was not sent.
	ErrQueueFull = errors.New("transport: send queue full")
	// ErrUnknownPeer: Listener.Send to a peer the listener has not heard
	// from within its idle timeout, or whose connection failed on write.
	// Peers always speak first (hello), so a node only answers.
	ErrUnknownPeer = errors.New("transport: unknown peer")
	// ErrConnLost: the Conn's only connection is gone (the node closed it,
	// restarted, or a write timed out). The Conn never reconnects: close it
	// and dial a new one. Returned by Conn.Recv once buffered messages are
	// consumed, and by Conn.Send. A half-open connection (peer host gone,
	// no RST) is not detected here: heartbeat absence is the definitive
	// signal.
	ErrConnLost = errors.New("transport: connection lost")
)

// Inbound is a message received by a Listener with the identity of the
// peer (handler connection) that sent it.
type Inbound struct {
	Peer string
	Msg  wire.Message
}

// Listener is the node side: one bound endpoint receiving from many
// handler connections.
type Listener interface {
	// Recv blocks until a message arrives, ctx ends or the listener is
	// closed. Malformed or oversized frames are dropped (and counted), never
	// returned.
	Recv(ctx context.Context) (Inbound, error)
	// Send queues m for peer and returns without waiting for the network.
	// A slow or stalled peer never blocks Send to other peers: each peer has
	// a bounded queue and Send returns ErrQueueFull when it is full.
	// It returns ErrUnknownPeer for a peer nothing has been received from
	// recently (peers speak first), and wire.ErrTooLarge (wrapped) for a
	// message over wire.MaxFrameBytes.
	Send(ctx context.Context, peer string, m wire.Message) error
	// Endpoint is the bound endpoint, e.g. "tcp://127.0.0.1:4242".
	Endpoint() string
	// Close stops the listener; it is idempotent.
	Close() error
}

// Conn is the handler side: one connection to one node endpoint. A Conn is
// never reused after a failure: the owner closes it and dials a new one.
type Conn interface {
	// Send writes m, bounded by ctx. It returns ErrConnLost once the
	// connection is gone and wire.ErrTooLarge (wrapped) for a message over
	// wire.MaxFrameBytes.
	Send(ctx context.Context, m wire.Message) error
	// Recv blocks until a message arrives, ctx ends or the conn is closed.
	// Malformed or oversized frames are dropped, never returned. It returns
	// ErrConnLost once the connection is gone and earlier messages have
	// been consumed.
	Recv(ctx context.Context) (wire.Message, error)
	// Endpoint is the node endpoint this conn was dialled to.
	Endpoint() string
	// Close releases the socket; it is idempotent and unblocks Recv.
	Close() error
}

// Dialer opens a Conn to endpoint with the given unique identity
// (handler name/instance/connection number).
type Dialer interface {
	Dial(ctx context.Context, endpoint, identity string) (Conn, error)
}
