package transport

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/schedulezero/schedulezero/internal/clock"
)

// Defaults of ListenerConfig and DialerConfig.
const (
	// DefaultQueueSize is the per-peer send queue of a Listener.
	DefaultQueueSize = 256
	// DefaultRecvQueue is the number of decoded inbound messages buffered
	// before the transport stops reading from the network.
	DefaultRecvQueue = 256
	// DefaultWriteTimeout bounds one socket write. A peer that does not
	// drain its connection within it is disconnected. It is below the
	// protocol's default liveness (3 × 1 s) on purpose.
	DefaultWriteTimeout = 2 * time.Second
	// DefaultHandshakeTimeout bounds the ZMTP greeting and handshake of a
	// new connection.
	DefaultHandshakeTimeout = 5 * time.Second
	// DefaultIdleTimeout is how long a Listener keeps the queue of a peer
	// it has not heard from.
	DefaultIdleTimeout = 5 * time.Minute
	// DefaultDialTimeout bounds one TCP connect attempt of a Dialer.
	DefaultDialTimeout = 2 * time.Second
	// DefaultDialRetries is how often a Dialer retries a failed TCP connect
	// within one Dial; reconnection with back-off is the caller's job.
	DefaultDialRetries = 1
	// DefaultDialRetryInterval is the pause between two connect attempts
	// within one Dial.
	DefaultDialRetryInterval = 100 * time.Millisecond
)

// ListenerConfig configures a Listener (ZMQ or in-memory). The zero value
// is valid: every zero field takes its default.
type ListenerConfig struct {
	// QueueSize is the capacity of each peer's send queue (DefaultQueueSize).
	// Send returns ErrQueueFull when it is reached. The dispatcher's credit
	// flow control, not this queue, is what keeps a paused handler from
	// filling it in normal operation.
	QueueSize int
	// RecvQueue is the number of decoded inbound messages buffered for Recv
	// (DefaultRecvQueue). When it is full the transport stops reading and
	// TCP back-pressure reaches the handlers.
	RecvQueue int
	// WriteTimeout bounds one write to one peer (DefaultWriteTimeout). All
	// peers share one writer (zmq4's ROUTER serialises sends), so this is
	// the longest a stalled peer can delay the others; the stalled peer's
	// connection is then closed.
	WriteTimeout time.Duration
	// HandshakeTimeout bounds the ZMTP handshake of an accepted connection
	// (DefaultHandshakeTimeout). zmq4 accepts connections on one goroutine,
	// so this is also the longest a silent TCP client can hold up new
	// handler connections.
	HandshakeTimeout time.Duration
	// IdleTimeout drops a peer's queue when nothing has been received from
	// it for this long (DefaultIdleTimeout); Send to it then returns
	// ErrUnknownPeer until it speaks again.
	IdleTimeout time.Duration
	// DisableBatching keeps the listener from batching: it does not echo
	// wire.FeatureBatch in welcome and sends one message per frame. It
	// still accepts batch frames. For comparisons and interoperability
	// tests; batching never delays a message.
	DisableBatching bool
	// Clock drives idle expiry and in-memory write timeouts (clock.Real).
	// Socket deadlines are wall-clock by nature and ignore it.
	Clock clock.Clock
	// Logger receives connection-level events (discarded when nil).
	Logger *slog.Logger
}

func (c ListenerConfig) withDefaults() ListenerConfig {
	c.QueueSize = cmp.Or(c.QueueSize, DefaultQueueSize)
	c.RecvQueue = cmp.Or(c.RecvQueue, DefaultRecvQueue)
	c.WriteTimeout = cmp.Or(c.WriteTimeout, DefaultWriteTimeout)
	c.HandshakeTimeout = cmp.Or(c.HandshakeTimeout, DefaultHandshakeTimeout)
	c.IdleTimeout = cmp.Or(c.IdleTimeout, DefaultIdleTimeout)
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c ListenerConfig) validate() error {
	return errors.Join(
		positive("QueueSize", c.QueueSize),
		positive("RecvQueue", c.RecvQueue),
		positive("WriteTimeout", c.WriteTimeout),
		positive("HandshakeTimeout", c.HandshakeTimeout),
		positive("IdleTimeout", c.IdleTimeout),
	)
}

// DialerConfig configures the handler side (ZMQDialer, InmemDialer). The
// zero value is valid.
type DialerConfig struct {
	// RecvQueue is the number of decoded inbound messages buffered for
	// Conn.Recv (DefaultRecvQueue).
	RecvQueue int
	// WriteTimeout bounds one socket write (DefaultWriteTimeout); a node
	// that does not drain the connection within it is disconnected and the
	// Conn reports ErrConnLost.
	WriteTimeout time.Duration
	// HandshakeTimeout bounds the ZMTP handshake (DefaultHandshakeTimeout),
	// so dialling a stopped (SIGSTOP) node whose kernel still accepts TCP
	// does not hang.
	HandshakeTimeout time.Duration
	// DialTimeout bounds one TCP connect attempt (DefaultDialTimeout).
	DialTimeout time.Duration
	// DialRetries is the number of connect retries within one Dial
	// (DefaultDialRetries; a negative value means none).
	DialRetries int
	// DialRetryInterval is the pause between connect attempts
	// (DefaultDialRetryInterval).
	DialRetryInterval time.Duration
	// DisableBatching keeps the connection from announcing
	// wire.FeatureBatch in hello, so the node never sends it batch frames,
	// and from sending batch frames itself. Batch frames are still
	// accepted. For comparisons and interoperability tests.
	DisableBatching bool
	// Clock drives in-memory write timeouts (clock.Real).
	Clock clock.Clock
	// Logger receives connection-level events (discarded when nil).
	Logger *slog.Logger
}

func (c DialerConfig) withDefaults() DialerConfig {
	c.RecvQueue = cmp.Or(c.RecvQueue, DefaultRecvQueue)
	c.WriteTimeout = cmp.Or(c.WriteTimeout, DefaultWriteTimeout)
	c.HandshakeTimeout = cmp.Or(c.HandshakeTimeout, DefaultHandshakeTimeout)
	c.DialTimeout = cmp.Or(c.DialTimeout, DefaultDialTimeout)
	c.DialRetryInterval = cmp.Or(c.DialRetryInterval, DefaultDialRetryInterval)
	switch {
	case c.DialRetries == 0:
		c.DialRetries = DefaultDialRetries
	case c.DialRetries < 0:
		c.DialRetries = 0
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c DialerConfig) validate() error {
	return errors.Join(
		positive("RecvQueue", c.RecvQueue),
		positive("WriteTimeout", c.WriteTimeout),
		positive("HandshakeTimeout", c.HandshakeTimeout),
		positive("DialTimeout", c.DialTimeout),
		positive("DialRetryInterval", c.DialRetryInterval),
	)
}

func positive[T int | time.Duration](name string, v T) error {
	if v <= 0 {
		return fmt.Errorf("transport: %s must be positive, got %v", name, v)
	}
	return nil
}

// validateIdentity checks a connection identity: ZMTP carries it in a
// property of at most 255 bytes, and an empty one would make zmq4 invent a
// random identity per connection.
func validateIdentity(identity string) error {
	if identity == "" || len(identity) > 255 {
		return fmt.Errorf("transport: identity must be 1 to 255 bytes, got %d", len(identity))
	}
	return nil
}

// Log attribute keys.
const (
	logKeyReason   = "reason"
	logKeyRemote   = "remote"
	logKeyEndpoint = "endpoint"
	logKeyPeer     = "peer"
)
