// Package transport moves wire.Messages between nodes and handlers. The
// interfaces here are the seam: zmq.go implements them over
// go-zeromq/zmq4 (a ROUTER per node, one DEALER per node on the handler
// side), inmem.go in memory for tests, and conformance_test.go holds the
// suite every implementation passes.
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
	Send(ctx context.Context, peer string, m wire.Message) error
	// Endpoint is the bound endpoint, e.g. "tcp://127.0.0.1:4242".
	Endpoint() string
	// Close stops the listener; it is idempotent.
	Close() error
}

// Conn is the handler side: one connection to one node endpoint. A Conn is
// never reused after a failure: the owner closes it and dials a new one.
type Conn interface {
	// Send writes m, bounded by ctx.
	Send(ctx context.Context, m wire.Message) error
	// Recv blocks until a message arrives, ctx ends or the conn is closed.
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
