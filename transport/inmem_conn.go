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
	in       chan []byte // frames, decoded by Recv as a socket reader would

	closed    chan struct{}
	closeOnce sync.Once
	lost      chan struct{}
	lostOnce  sync.Once
}

var _ Conn = (*inmemConn)(nil)

func newInmemConn(n *InmemNetwork, l *InmemListener, identity string, cfg DialerConfig) *inmemConn {
	return &inmemConn{
		net:      n,
		l:        l,
		identity: identity,
		cfg:      cfg,
		in:       make(chan []byte, cfg.RecvQueue),
		closed:   make(chan struct{}),
		lost:     make(chan struct{}),
	}
}

// Send delivers m to the listener's Recv buffer; errors as ZMQConn.Send.
func (c *inmemConn) Send(ctx context.Context, m wire.Message) error {
	frame, err := wire.Encode(m)
	if err != nil {
		return err
	}
	return c.sendFrame(ctx, frame)
}

func (c *inmemConn) sendFrame(ctx context.Context, frame []byte) error {
	if err := openErr(ctx, c.closed); err != nil {
		return err
	}
	if isDone(c.lost) {
		return ErrConnLost
	}
	if c.net.partitioned(c.l.endpoint, c.identity) {
		c.st.sent.Add(1)
		return nil
	}
	if err := c.l.receive(ctx, c, frame); err != nil {
		if errors.Is(err, ErrClosed) || errors.Is(err, ctx.Err()) {
			return err
		}
		c.st.sendErrors.Add(1)
		return fmt.Errorf("%w: %w", ErrConnLost, err)
	}
	c.st.sent.Add(1)
	return nil
}

// Recv returns the next well-formed message; errors as ZMQConn.Recv.
func (c *inmemConn) Recv(ctx context.Context) (wire.Message, error) {
	for {
		frame, err := recvFrom(ctx, c.in, c.closed, c.lost)
		if err != nil {
			return wire.Message{}, err
		}
		if m, ok := decodeFrame(frame, &c.st); ok {
			return m, nil
		}
	}
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
