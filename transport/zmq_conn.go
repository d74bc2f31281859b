package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/go-zeromq/zmq4"

	"github.com/schedulezero/schedulezero/wire"
)

// ZMQDialer opens handler-side connections over go-zeromq/zmq4: one DEALER
// per Dial, dialled to exactly one endpoint (a zmq4 DEALER dialled to
// several endpoints sends every message to all of them, notes/zmq4.md row
// a), with automatic reconnection off (rows c, f). The zero value is ready
// to use.
type ZMQDialer struct {
	// Config holds timeouts and buffer sizes; zero fields take defaults.
	Config DialerConfig
}

var _ Dialer = ZMQDialer{}

// Dial connects to endpoint ("tcp://host:port") with the ZMTP identity
// identity and completes the handshake. identity must be unique per live
// connection, e.g. "<name>/<instance>/<n>": the node's zmq4 ROUTER delivers
// a message for an identity to every connection carrying it.
//
// zmq4's Dial is synchronous (TCP connect with Config.DialRetries retries,
// then the handshake); Dial returns early with ctx's error when ctx ends,
// and the handshake is bounded by Config.HandshakeTimeout. Call it from a
// connection goroutine, not from a loop that must stay responsive.
func (d ZMQDialer) Dial(ctx context.Context, endpoint, identity string) (Conn, error) {
	cfg := d.Config.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := validateIdentity(identity); err != nil {
		return nil, err
	}
	addr, err := tcpAddr(endpoint)
	if err != nil {
		return nil, err
	}
	if err := registerGuard(); err != nil {
		return nil, fmt.Errorf("transport: register zmq4 transport: %w", err)
	}
	c := &ZMQConn{
		endpoint: endpoint,
		in:       make(chan wire.Message, cfg.RecvQueue),
		sendq:    make(chan sendReq),
		closed:   make(chan struct{}),
		lost:     make(chan struct{}),
		cfg:      cfg,
		feat:     connFeatures{offer: !cfg.DisableBatching},
	}
	gctx := guardContext(newGuardConfig(cfg.WriteTimeout, cfg.HandshakeTimeout, &c.st, cfg.Logger))
	c.sock = zmq4.NewDealer(gctx, dealerOptions(identity, cfg)...)
	if err := dialSocket(ctx, c.sock, guardNetwork+"://"+addr); err != nil {
		return nil, fmt.Errorf("transport: dial %s: %w", endpoint, err)
	}
	c.wg.Add(2)
	go c.readLoop()
	go c.writeLoop()
	return c, nil
}

func dealerOptions(identity string, cfg DialerConfig) []zmq4.Option {
	return []zmq4.Option{
		zmq4.WithID(zmq4.SocketIdentity(identity)),
		zmq4.WithDialerTimeout(cfg.DialTimeout),
		zmq4.WithDialerRetry(cfg.DialRetryInterval),
		zmq4.WithDialerMaxRetries(cfg.DialRetries),
		zmq4.WithTimeout(cfg.WriteTimeout),
		zmq4.WithAutomaticReconnect(false),
		zmq4.WithLogger(zmqLogger(cfg.Logger)),
	}
}

// dialSocket runs zmq4's blocking Dial so that ctx can cut it short;
// closing the socket makes the dial return promptly (the guarded
// transport's dial and handshake follow the socket's context). The socket
// is closed on failure.
func dialSocket(ctx context.Context, sock zmq4.Socket, ep string) error {
	errc := make(chan error, 1)
	go func() { errc <- sock.Dial(ep) }()
	select {
	case err := <-errc:
		if err != nil {
			_ = sock.Close()
		}
		return err
	case <-ctx.Done():
		_ = sock.Close()
		<-errc
		return ctx.Err()
	}
}

// ZMQConn is one handler connection over a zmq4 DEALER. One reader
// goroutine moves decoded messages into a buffer (so Recv can honour ctx and
// Close, which zmq4's Recv cannot, row h), expanding batch frames, and one
// writer goroutine performs sends (so Send can honour ctx).
type ZMQConn struct {
	endpoint string
	sock     zmq4.Socket
	st       counters
	in       chan wire.Message
	sendq    chan sendReq
	cfg      DialerConfig
	feat     connFeatures
	msgs     []wire.Message // readLoop's decoding buffer

	closed    chan struct{}
	closeOnce sync.Once
	closeErr  error
	lost      chan struct{}
	lostOnce  sync.Once
	wg        sync.WaitGroup
}

// sendReq is one frame for the writer goroutine, carrying n messages.
type sendReq struct {
	frame []byte
	n     int
	done  chan error
}

var (
	_ Conn        = (*ZMQConn)(nil)
	_ frameSender = (*ZMQConn)(nil)
)

// Send writes m. It returns wire.ErrTooLarge (wrapped) for an oversized
// message, ctx's error, ErrClosed, or ErrConnLost once the connection is
// gone. A write that does not complete within WriteTimeout closes the
// connection. nil means the frame reached the kernel, not the node. The
// Features of a hello are set here (wire.FeatureBatch unless batching is
// disabled).
func (c *ZMQConn) Send(ctx context.Context, m wire.Message) error {
	ms := [1]wire.Message{m}
	return sendMessages(ctx, &c.feat, c, ms[:])
}

// SendBatch writes ms in order: packed into batch frames once the node's
// welcome announced batching, else one frame each. Errors as Send; after
// an error the messages from the failed one on may not have been sent.
//
// Allocation budget: one send request per frame (its reply channel);
// the frame buffers are pooled.
func (c *ZMQConn) SendBatch(ctx context.Context, ms []wire.Message) error {
	return sendMessages(ctx, &c.feat, c, ms)
}

// sendFrame writes an encoded frame without checking it.
func (c *ZMQConn) sendFrame(ctx context.Context, frame []byte) error {
	return c.sendEncoded(ctx, frame, 1)
}

// sendEncoded hands a frame of n messages to the writer and waits for the
// write. On error the writer may still hold frame.
func (c *ZMQConn) sendEncoded(ctx context.Context, frame []byte, n int) error {
	if err := c.stateErr(ctx); err != nil {
		return err
	}
	req := sendReq{frame: frame, n: n, done: make(chan error, 1)}
	select {
	case c.sendq <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closed:
		return ErrClosed
	case <-c.lost:
		return ErrConnLost
	}
	select {
	case err := <-req.done:
		if err != nil && !errors.Is(err, ErrConnLost) {
			return fmt.Errorf("%w: %w", ErrConnLost, err)
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closed:
		return ErrClosed
	}
}

// Recv returns the next well-formed message from the node, ctx's error,
// ErrClosed, or ErrConnLost once the connection is gone and every message
// received before is consumed.
func (c *ZMQConn) Recv(ctx context.Context) (wire.Message, error) {
	return recvFrom(ctx, c.in, c.closed, c.lost)
}

// Endpoint is the node endpoint this conn was dialled to.
func (c *ZMQConn) Endpoint() string { return c.endpoint }

// Stats returns the connection's counters.
func (c *ZMQConn) Stats() Stats { return c.st.snapshot() }

// Close closes the socket, unblocks Recv and Send and waits for the
// connection's goroutines. It is idempotent.
func (c *ZMQConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.closeErr = ignoreClosed(c.sock.Close())
		c.wg.Wait()
	})
	return c.closeErr
}

func (c *ZMQConn) stateErr(ctx context.Context) error {
	if err := openErr(ctx, c.closed); err != nil {
		return err
	}
	if isDone(c.lost) {
		return ErrConnLost
	}
	return nil
}

func (c *ZMQConn) markLost(reason error) {
	c.lostOnce.Do(func() {
		c.cfg.Logger.LogAttrs(context.Background(), slog.LevelDebug, "transport: connection lost",
			slog.String(logKeyEndpoint, c.endpoint), slog.String(logKeyReason, reason.Error()))
		close(c.lost)
	})
}

// readLoop moves messages from the DEALER into c.in. A Recv error means
// the DEALER's only connection has ended (row g) and, without automatic
// reconnection, it will not come back.
func (c *ZMQConn) readLoop() {
	defer c.wg.Done()
	for {
		msg, err := c.sock.Recv()
		if err != nil {
			if isDone(c.closed) {
				drainSocket(c.sock)
				return
			}
			c.markLost(err)
			continue // blocks until Close: the socket has no connection left
		}
		if msg.Type == zmq4.CmdMsg {
			continue
		}
		frame, ok := payload(msg.Frames)
		if !ok {
			c.st.malformed.Add(1)
			continue
		}
		c.msgs = decodeFrame(c.msgs[:0], frame, &c.st)
		for i := range c.msgs {
			c.feat.observe(&c.msgs[i])
			select {
			case c.in <- c.msgs[i]:
			case <-c.closed:
				drainSocket(c.sock)
				return
			}
		}
		clear(c.msgs)
	}
}

func (c *ZMQConn) writeLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.closed:
			return
		case req := <-c.sendq:
			if isDone(c.lost) {
				// zmq4's DEALER Send returns at WithTimeout while its
				// write goroutine goes on until the guard's deadline; a
				// new write now could interleave with it on the stream.
				req.done <- ErrConnLost
				continue
			}
			err := c.sock.Send(zmq4.NewMsg(req.frame))
			if err != nil {
				c.st.sendErrors.Add(uint64(req.n))
				c.markLost(err)
			} else {
				c.st.countSent(req.n)
			}
			req.done <- err
		}
	}
}

// recvFrom is the Recv of every implementation: it takes the next item of
// in, ctx's error, ErrClosed once closed (always, even with items
// buffered), or ErrConnLost once lost is closed and in is empty. lost may
// be nil.
func recvFrom[T any](ctx context.Context, in <-chan T, closed, lost <-chan struct{}) (T, error) {
	var zero T
	if err := openErr(ctx, closed); err != nil {
		return zero, err
	}
	select {
	case m := <-in:
		return m, nil
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-closed:
		return zero, ErrClosed
	case <-lost:
		// Everything read before the loss is already in the buffer.
		select {
		case m := <-in:
			return m, nil
		default:
			return zero, ErrConnLost
		}
	}
}
