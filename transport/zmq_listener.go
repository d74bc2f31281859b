package transport

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/go-zeromq/zmq4"

	"github.com/schedulezero/schedulezero/wire"
)

// ZMQListener is the node side over go-zeromq/zmq4: one ROUTER bound at
// the endpoint, one reader goroutine and one writer goroutine.
//
// Reading: every inbound ZeroMQ message must be [identity, frame] or
// [identity, "", frame]; the frame is checked against wire.MaxFrameBytes and
// decoded, a batch frame into its messages, each of which Recv returns on
// its own; anything else is dropped and counted (Stats). Recv errors from
// zmq4 other than "closed" are connection-level noise (notes/zmq4.md row g)
// and reading goes on.
//
// Writing: Send encodes the message and appends it to the peer's bounded
// queue; the writer drains the queues round-robin, sending what is queued
// for a peer that announced batching as one batch frame (outbox.go). zmq4's ROUTER sends under
// one mutex, so a peer that stops reading delays the others by at most
// WriteTimeout, after which its connection is closed and its queue dropped
// (see zmtp_guard.go for why zmq4.WithTimeout alone does not give that
// bound). The dispatcher's credit flow control (at most capacity runs
// outstanding per handler) is the primary protection: it keeps a paused
// handler from ever filling its TCP buffer, so the write timeout is the
// backstop, not the mechanism.
//
// Peers are ZMTP identities. The listener knows a peer once a frame has
// arrived from it and forgets it after IdleTimeout of silence or a failed
// write; Send to an unknown peer returns ErrUnknownPeer. A nil Send error
// means only that the frame was queued: zmq4 drops frames for identities
// whose connection has gone without an error (row b). If two live
// connections use the same identity, zmq4 delivers to both.
type ZMQListener struct {
	cfg      ListenerConfig
	sock     zmq4.Socket
	endpoint string
	st       counters
	box      *outbox
	in       chan Inbound
	msgs     []wire.Message // readLoop's decoding buffer

	closed    chan struct{}
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup
}

var _ Listener = (*ZMQListener)(nil)

// ListenZMQ binds a ROUTER at endpoint ("tcp://host:port"; port 0 picks a
// free port, reported by Endpoint). ctx bounds only the bind; the listener
// lives until Close.
func ListenZMQ(ctx context.Context, endpoint string, cfg ListenerConfig) (*ZMQListener, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	addr, err := tcpAddr(endpoint)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := registerGuard(); err != nil {
		return nil, fmt.Errorf("transport: register zmq4 transport: %w", err)
	}
	l := &ZMQListener{
		cfg:    cfg,
		in:     make(chan Inbound, cfg.RecvQueue),
		closed: make(chan struct{}),
	}
	gctx := guardContext(newGuardConfig(cfg.WriteTimeout, cfg.HandshakeTimeout, &l.st, cfg.Logger))
	l.sock = zmq4.NewRouter(gctx, zmq4.WithTimeout(cfg.WriteTimeout), zmq4.WithLogger(zmqLogger(cfg.Logger)))
	if err := l.sock.Listen(guardNetwork + "://" + addr); err != nil {
		_ = l.sock.Close()
		return nil, fmt.Errorf("transport: listen %s: %w", endpoint, err)
	}
	l.endpoint = "tcp://" + l.sock.Addr().String()
	l.box = newOutbox(cfg, &l.st, l.write)
	l.wg.Add(2)
	go l.readLoop()
	go func() {
		defer l.wg.Done()
		l.box.run(l.closed)
	}()
	return l, nil
}

// Recv returns the next well-formed message from any peer.
func (l *ZMQListener) Recv(ctx context.Context) (Inbound, error) {
	return recvFrom(ctx, l.in, l.closed, nil)
}

// Send queues m for peer. It returns wire.ErrTooLarge (wrapped) for an
// oversized message, ErrQueueFull, ErrUnknownPeer or ErrClosed; nil means
// queued, not delivered. The Features of a welcome are set here to those
// of the peer's hello that the listener uses.
//
// Allocation budget: 0 allocations in steady state (the frame buffer is
// pooled).
func (l *ZMQListener) Send(ctx context.Context, peer string, m wire.Message) error {
	return sendVia(ctx, l.box, l.closed, peer, &m)
}

// sendFrame queues an encoded frame; it does not check the frame, which
// lets tests send malformed and oversized frames.
func (l *ZMQListener) sendFrame(ctx context.Context, peer string, frame []byte) error {
	if err := openErr(ctx, l.closed); err != nil {
		return err
	}
	return l.box.enqueue(peer, outFrame{b: frame, raw: true})
}

// sendVia is the Send of both listeners.
func sendVia(ctx context.Context, box *outbox, closed <-chan struct{}, peer string, m *wire.Message) error {
	if err := openErr(ctx, closed); err != nil {
		return err
	}
	box.stamp(peer, m)
	f, err := encodeFrame(m)
	if err != nil {
		return err
	}
	if err := box.enqueue(peer, f); err != nil {
		f.release()
		return err
	}
	return nil
}

// Endpoint is the bound endpoint with the real port, e.g.
// "tcp://127.0.0.1:4242".
func (l *ZMQListener) Endpoint() string { return l.endpoint }

// Stats returns the listener's counters.
func (l *ZMQListener) Stats() Stats {
	s := l.st.snapshot()
	s.Peers = l.box.peerCount()
	return s
}

// Close closes the socket and every connection, unblocks Recv and waits
// for the listener's goroutines. It is idempotent.
func (l *ZMQListener) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		l.closeErr = ignoreClosed(l.sock.Close())
		l.wg.Wait()
	})
	return l.closeErr
}

func (l *ZMQListener) write(peer string, frame []byte) error {
	return l.sock.Send(zmq4.NewMsgFrom([]byte(peer), frame))
}

func (l *ZMQListener) readLoop() {
	defer l.wg.Done()
	for {
		msg, err := l.sock.Recv()
		if err != nil {
			if isDone(l.closed) {
				drainSocket(l.sock)
				return
			}
			l.cfg.Logger.LogAttrs(context.Background(), slog.LevelDebug, "transport: zmq4 recv",
				slog.String(logKeyEndpoint, l.endpoint), slog.String(logKeyReason, err.Error()))
			continue
		}
		peer, msgs := l.inbound(msg)
		for i := range msgs {
			select {
			case l.in <- Inbound{Peer: peer, Msg: msgs[i]}:
			case <-l.closed:
				drainSocket(l.sock)
				return
			}
		}
		clear(msgs) // do not pin the messages until the next frame
	}
}

// inbound turns one ROUTER message into the messages it carries (a batch
// frame carries several), counting what it drops, and notes the features
// of a hello. msgs is valid until the next call.
func (l *ZMQListener) inbound(msg zmq4.Msg) (peer string, msgs []wire.Message) {
	if msg.Type == zmq4.CmdMsg || len(msg.Frames) == 0 {
		return "", nil // a ZMTP command (e.g. PING), not a message
	}
	peer = string(msg.Frames[0])
	l.box.touch(peer)
	frame, ok := payload(msg.Frames[1:])
	if !ok {
		l.st.malformed.Add(1)
		return "", nil
	}
	l.msgs = decodeFrame(l.msgs[:0], frame, &l.st)
	for i := range l.msgs {
		l.box.observe(peer, &l.msgs[i])
	}
	return peer, l.msgs
}

// drainSocket empties zmq4's internal receive channel after the socket has
// been closed. zmq4's per-connection readers send to that channel without
// watching the socket's context, so one blocked on a full channel would
// leak. Recv on a closed socket chooses at random between the context error
// and a queued message: many errors in a row mean the channel is empty.
func drainSocket(sock zmq4.Socket) {
	for errs := 0; errs < 64; {
		if _, err := sock.Recv(); err != nil {
			errs++
		} else {
			errs = 0
		}
	}
}

// tcpAddr checks a "tcp://host:port" endpoint and returns "host:port".
func tcpAddr(endpoint string) (string, error) {
	addr, ok := strings.CutPrefix(endpoint, "tcp://")
	if !ok {
		return "", fmt.Errorf("transport: endpoint %q: only tcp://host:port is supported", endpoint)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", fmt.Errorf("transport: endpoint %q: %w", endpoint, err)
	}
	return addr, nil
}

// zmqLogger routes zmq4's own log lines (handshake failures and the like)
// to the component's slog logger at debug level.
func zmqLogger(l *slog.Logger) *log.Logger {
	return slog.NewLogLogger(l.Handler(), slog.LevelDebug)
}

func openErr(ctx context.Context, closed <-chan struct{}) error {
	if isDone(closed) {
		return ErrClosed
	}
	return ctx.Err()
}

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// ignoreClosed drops the "already closed" errors zmq4's Close reports for
// connections the guard or the peer closed first.
func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
