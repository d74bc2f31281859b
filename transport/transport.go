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
//
// Batching (docs/protocol.md section 2a) is the transport's business:
// Conns announce wire.FeatureBatch in every hello they send, Listeners
// echo it in the welcome to a peer that announced it, and from then on
// each side packs messages that are already waiting into batch frames
// (the Listener's per-peer writer, Conn.SendBatch). Both sides expand
// batch frames on receipt, so Recv always yields single messages and the
// code above (dispatch/, handlerclient/) sees no difference. Costs per
// message are on the benchmarks in bench_test.go; the codec is wire's.
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
	// returned; a batch frame yields one Inbound per message it carries,
	// in order.
	Recv(ctx context.Context) (Inbound, error)
	// Send queues m for peer and returns without waiting for the network.
	// A slow or stalled peer never blocks Send to other peers: each peer has
	// a bounded queue and Send returns ErrQueueFull when it is full.
	// It returns ErrUnknownPeer for a peer nothing has been received from
	// recently (peers speak first), and wire.ErrTooLarge (wrapped) for a
	// message over wire.MaxFrameBytes. Messages queued for a peer that
	// negotiated batching may leave in one batch frame; a message queued
	// while the peer's queue is empty is written at once, never held back
	// to fill a batch. The Features of a welcome are set by the Listener to
	// those it uses with the peer, whatever the caller put.
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
	// wire.MaxFrameBytes. The Features of a hello are set by the Conn
	// (batching negotiation, docs/protocol.md), whatever the caller put.
	Send(ctx context.Context, m wire.Message) error
	// SendBatch writes ms in order, bounded by ctx: as batch frames once
	// the node's welcome has echoed wire.FeatureBatch, else one frame
	// each. It never waits for more messages; callers pass what they have
	// queued. Errors as Send; a message that does not encode is skipped
	// and its error returned after the others are sent, and after a
	// write error the rest of ms may be unsent.
	SendBatch(ctx context.Context, ms []wire.Message) error
	// Recv blocks until a message arrives, ctx ends or the conn is closed.
	// Malformed or oversized frames are dropped, never returned; a batch
	// frame yields its messages one per call. It returns ErrConnLost once
	// the connection is gone and earlier messages have been consumed. A
	// Conn has one reader: concurrent Recv calls may reorder messages.
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
