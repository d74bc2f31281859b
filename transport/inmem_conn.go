package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/schedulezero/schedulezero/wire"
)

// inmemConn is the in-memory Conn returned by InmemDialer.Dial.
type inmemConn struct {
	net      *InmemNetwork
	l        *InmemListener
	identity string
	cfg      DialerConfig
	st       counters
	feat     connFeatures
	in       chan []byte // frames, decoded by Recv as a socket reader would

	pendMu  sync.Mutex
	pending []wire.Message // decoded from a batch frame, not yet returned

	closed    chan struct{}
	closeOnce sync.Once
	lost      chan struct{}
	lostOnce  sync.Once
}

var (
	_ Conn        = (*inmemConn)(nil)
	_ frameSender = (*inmemConn)(nil)
)

func newInmemConn(n *InmemNetwork, l *InmemListener, identity string, cfg DialerConfig) *inmemConn {
	return &inmemConn{
		net:      n,
		l:        l,
		identity: identity,
		cfg:      cfg,
		feat:     connFeatures{offer: !cfg.DisableBatching},
		in:       make(chan []byte, cfg.RecvQueue),
		closed:   make(chan struct{}),
		lost:     make(chan struct{}),
	}
}

// Send delivers m to the listener's Recv buffer; errors and features as
// ZMQConn.Send.
func (c *inmemConn) Send(ctx context.Context, m wire.Message) error {
	ms := [1]wire.Message{m}
	return sendMessages(ctx, &c.feat, c, ms[:])
}

// SendBatch delivers ms in order, batched as ZMQConn.SendBatch does.
func (c *inmemConn) SendBatch(ctx context.Context, ms []wire.Message) error {
	return sendMessages(ctx, &c.feat, c, ms)
}

func (c *inmemConn) sendFrame(ctx context.Context, frame []byte) error {
	return c.sendEncoded(ctx, frame, 1)
}

// sendEncoded delivers a frame of n messages; the listener decodes it
// before returning, so frame is not kept.
func (c *inmemConn) sendEncoded(ctx context.Context, frame []byte, n int) error {
	if err := openErr(ctx, c.closed); err != nil {
		return err
	}
	if isDone(c.lost) {
		return ErrConnLost
	}
	if c.net.partitioned(c.l.endpoint, c.identity) {
		c.st.countSent(n)
		return nil
	}
	if err := c.l.receive(ctx, c, frame); err != nil {
		if errors.Is(err, ErrClosed) || errors.Is(err, ctx.Err()) {
			return err
		}
		c.st.sendErrors.Add(uint64(n))
		return fmt.Errorf("%w: %w", ErrConnLost, err)
	}
	c.st.countSent(n)
	return nil
}

// Recv returns the next well-formed message; errors as ZMQConn.Recv.
// Messages of a batch frame are returned one by one.
func (c *inmemConn) Recv(ctx context.Context) (wire.Message, error) {
	for {
		if err := openErr(ctx, c.closed); err != nil {
			return wire.Message{}, err
		}
		if m, ok := c.popPending(); ok {
			return m, nil
		}
		frame, err := recvFrom(ctx, c.in, c.closed, c.lost)
		if err != nil {
			return wire.Message{}, err
		}
		msgs := decodeFrame(nil, frame, &c.st)
		for i := range msgs {
			c.feat.observe(&msgs[i])
		}
		c.pendMu.Lock()
		c.pending = append(c.pending, msgs...)
		c.pendMu.Unlock()
	}
}

func (c *inmemConn) popPending() (wire.Message, bool) {
	c.pendMu.Lock()
	defer c.pendMu.Unlock()
	if len(c.pending) == 0 {
		return wire.Message{}, false
	}
	m := c.pending[0]
	c.pending[0] = wire.Message{}
	c.pending = c.pending[1:]
	return m, true
}

// Endpoint is the listener endpoint this conn was dialled to.
func (c *inmemConn) Endpoint() string { return c.l.endpoint }

// Stats returns the connection's counters.
func (c *inmemConn) Stats() Stats { return c.st.snapshot() }

// Close ends the connection; it is idempotent.
func (c *inmemConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.l.detach(c)
	})
	return nil
}

// markLost ends the connection from the network's side (listener closed,
// write timeout): Recv returns ErrConnLost once the buffer is consumed.
func (c *inmemConn) markLost() {
	c.lostOnce.Do(func() {
		close(c.lost)
		c.l.detach(c)
	})
}

// deliver is the listener's write to this connection. A paused or full
// connection blocks the listener's writer for at most its WriteTimeout,
// after which the connection is closed, as the ZMQ transport does.
func (c *inmemConn) deliver(frame []byte, l *InmemListener) error {
	if c.net.partitioned(l.endpoint, c.identity) {
		return nil
	}
	if c.net.pauseGate(c.identity) == nil {
		select {
		case c.in <- frame:
			return nil
		default:
		}
	}
	t := l.cfg.Clock.NewTimer(l.cfg.WriteTimeout)
	defer t.Stop()
	for {
		gate := c.net.pauseGate(c.identity)
		in := c.in
		if gate != nil {
			in = nil // paused: consume nothing until resumed
		}
		select {
		case in <- frame:
			return nil
		case <-gate: // resumed: try again
		case <-t.C():
			l.st.killed.Add(1)
			c.markLost()
			return errWriteTimeout
		case <-c.closed:
			return nil
		case <-c.lost:
			return nil
		case <-l.closed:
			return ErrClosed
		}
	}
}
