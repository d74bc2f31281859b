package handlerclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/schedulezero/schedulezero/transport"
	"github.com/schedulezero/schedulezero/wire"
)

// outQueue bounds the messages waiting for one connection's writer. When
// it is full a message is dropped: every message the SDK sends is either
// periodic (hello, heartbeat), re-sent until acknowledged (result), or
// answered again when the node re-delivers (accepted, reject).
const outQueue = 256

// recvErrorPause spaces out Recv calls after a transient Recv error.
const recvErrorPause = 100 * time.Millisecond

// link is one server endpoint and the goroutine that keeps a connection
// to it: dial, serve until the session kills the connection, back off,
// dial again with a new identity, until ctx ends.
type link struct {
	endpoint string
	// extra: learned from a redirect rather than configured; dropped
	// instead of redialled when its connection ends.
	extra  bool
	ctx    context.Context
	cancel context.CancelFunc

	// Owned by the session loop.
	cur   *conn // the live connection, nil while down
	dials int   // connections made so far
}

// conn is one dialled transport.Conn with its identity. Its writer (the
// link goroutine) and reader share out, kill and closing with the session
// loop; the fields after them belong to the loop.
type conn struct {
	link     *link
	tc       transport.Conn
	identity string
	out      chan wire.Message
	killed   context.Context // cancelled by the loop (kill): close at once
	kill     context.CancelFunc
	closing  chan struct{} // closed by the writer before tc.Close
	heard    atomic.Bool   // something was received (resets the back-off)

	dead       bool
	lastRecv   time.Time
	lastHello  time.Time
	welcomed   bool
	term       uint64 // term of the latest welcome
	welcomeSeq uint64 // orders welcomes across connections
	nodeID     string
	hb         time.Duration // announced by welcome; 0 = session default
	liveness   int           // announced by welcome; 0 = session default
}

// inbound is a message read from a connection, or lost: the transport
// reports the connection closed for good.
type inbound struct {
	conn *conn
	msg  wire.Message
	lost bool
}

// enqueue hands m to the writer without blocking; false when the queue is
// full or the connection is dead.
func (c *conn) enqueue(m wire.Message) bool {
	if c.dead {
		return false
	}
	select {
	case c.out <- m:
		return true
	default:
		return false
	}
}

// runLink is the goroutine of one link.
func (s *session) runLink(l *link) {
	defer s.linksWG.Done()
	var b backoff
	failures := 0
	for first := true; ; first = false {
		if !first && !s.pause(l.ctx, nil, b.next()) {
			return
		}
		id := fmt.Sprintf("%s/%s/%d", s.cfg.Name, s.cfg.Instance, connSeq.Add(1))
		tc, err := s.cfg.Dialer.Dial(l.ctx, l.endpoint, id)
		if err != nil {
			if l.ctx.Err() != nil {
				return
			}
			failures++
			level := slog.LevelDebug // a node down for long must not flood the log
			if failures == 1 || failures%20 == 0 {
				level = slog.LevelWarn
			}
			s.log.LogAttrs(l.ctx, level, "dial failed", slog.String(logKeyEndpoint, l.endpoint),
				slog.String(logKeyIdentity, id), slog.Int("failures", failures), slog.Any(logKeyErr, err))
			continue
		}
		failures = 0
		c := &conn{link: l, tc: tc, identity: id, out: make(chan wire.Message, outQueue), closing: make(chan struct{})}
		c.killed, c.kill = context.WithCancel(context.Background())
		select {
		case s.connUp <- c:
		case <-l.ctx.Done():
			c.kill()
			_ = tc.Close()
			return
		}
		s.serve(l.ctx, c)
		if c.heard.Load() {
			b.reset()
		}
	}
}

// serve writes c's queue until the loop kills c or ctx ends (then the
// queue is flushed first, so goodbye goes out), and closes c. Writes are
// bounded by sendTimeout and cut short by kill, not by ctx.
func (s *session) serve(ctx context.Context, c *conn) {
	defer c.kill()
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		s.read(ctx, c)
	}()
	defer func() {
		close(c.closing)
		_ = c.tc.Close()
		<-readerDone
	}()
	for {
		select {
		case m := <-c.out:
			s.send(c.killed, c, m)
		case <-c.killed.Done():
			return
		case <-ctx.Done():
			s.flush(c)
			return
		}
	}
}

// flush sends what is queued on c, bounded by sendTimeout in total.
func (s *session) flush(c *conn) {
	ctx, cancel := context.WithTimeout(c.killed, s.sendTimeout)
	defer cancel()
	for {
		select {
		case m := <-c.out:
			s.send(ctx, c, m)
		default:
			return
		}
	}
}

// send writes m, bounded by sendTimeout.
func (s *session) send(ctx context.Context, c *conn, m wire.Message) {
	ctx, cancel := context.WithTimeout(ctx, s.sendTimeout)
	defer cancel()
	if err := c.tc.Send(ctx, m); err != nil && ctx.Err() == nil {
		s.log.LogAttrs(ctx, slog.LevelDebug, "send failed", slog.String(logKeyIdentity, c.identity),
			slog.String(logKeyType, string(m.Type)), slog.Any(logKeyErr, err))
	}
}

// read forwards c's messages to the loop. transport.ErrConnLost or
// ErrClosed ends the connection at once; any other Recv error does not
// (zmq4 reports a peer's disconnect as EOF while the socket stays usable):
// heartbeats decide.
func (s *session) read(ctx context.Context, c *conn) {
	for {
		m, err := c.tc.Recv(ctx)
		in := inbound{conn: c, msg: m}
		switch {
		case err == nil:
			c.heard.Store(true)
		case errors.Is(err, transport.ErrClosed), errors.Is(err, transport.ErrConnLost):
			in.lost = true
		default:
			if !s.pause(ctx, c.closing, recvErrorPause) {
				return
			}
			continue
		}
		select {
		case s.inbox <- in:
		case <-c.closing:
			return
		case <-ctx.Done():
			return
		}
		if in.lost {
			return
		}
	}
}

// pause waits d on the session clock; false if ctx ended or stop closed
// first.
func (s *session) pause(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	t := s.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-stop:
		return false
	case <-ctx.Done():
		return false
	}
}

// backoff is MinBackoff doubling to MaxBackoff, plus up to 20 % jitter.
type backoff struct{ d time.Duration }

func (b *backoff) next() time.Duration {
	b.d = min(max(2*b.d, MinBackoff), MaxBackoff)
	return b.d + rand.N(b.d/5+1)
}

func (b *backoff) reset() { b.d = 0 }
