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

// outQueue bounds the messages the loop queues for one connection in one
// turn, and outBatches the turns' batches waiting for its writer. When
// either is full a message is dropped: every message the SDK sends is
// either periodic (hello, heartbeat), re-sent until acknowledged (result),
// or answered again when the node re-delivers (accepted, reject).
const (
	outQueue   = 256
	outBatches = 16
)

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
	// wake cuts a reconnect back-off short (capacity 1): a leader search
	// redials every endpoint at once, since the node that was down may be
	// the new leader.
	wake chan struct{}

	// Owned by the session loop.
	cur   *conn // the live connection, nil while down
	dials int   // connections made so far
}

// conn is one dialled transport.Conn with its identity. Its writer (the
// link goroutine) and reader share out, kill and closing with the session
// loop; the fields after them belong to the loop.
//
// The loop queues outgoing messages in pend while it handles the events
// that are ready (one turn), and hands them to the writer as one batch
// at the end of the turn (session.flushOut); the writer sends every batch
// that has queued up with one SendBatch. So the answers to a burst of
// dispatches leave together, while a lone message leaves as soon as the
// loop has handled it: nothing waits for a batch to fill.
type conn struct {
	link     *link
	tc       transport.Conn
	identity string
	out      chan []wire.Message
	free     chan []wire.Message // emptied batches back to the loop, for reuse
	killed   context.Context     // cancelled by the loop (kill): close at once
	kill     context.CancelFunc
	closing  chan struct{} // closed by the writer before tc.Close
	heard    atomic.Bool   // something was received (resets the back-off)

	dead       bool
	pend       []wire.Message // this turn's messages; see session.enqueue
	dirty      bool           // in session.dirty
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

// enqueue queues m for c's writer without blocking; false when c is dead
// or its queue is full. The message leaves at the end of the loop's turn.
func (s *session) enqueue(c *conn, m wire.Message) bool {
	if c.dead || len(c.pend) >= outQueue || len(c.out) == cap(c.out) {
		return false
	}
	if c.pend == nil {
		select {
		case c.pend = <-c.free:
		default:
			c.pend = make([]wire.Message, 0, 16)
		}
	}
	c.pend = append(c.pend, m)
	if !c.dirty {
		c.dirty = true
		s.dirty = append(s.dirty, c)
	}
	return true
}

// flushOut hands every connection's messages of this turn to its writer.
func (s *session) flushOut() {
	for i, c := range s.dirty {
		s.dirty[i] = nil
		c.dirty = false
		if c.dead || len(c.pend) == 0 {
			c.pend = c.pend[:0]
			continue
		}
		select {
		case c.out <- c.pend:
			c.pend = nil // the writer owns it now
		default:
			s.log.LogAttrs(s.baseCtx, slog.LevelDebug, "send queue full; dropping messages",
				slog.String(logKeyIdentity, c.identity), slog.Int("messages", len(c.pend)))
			c.pend = c.pend[:0]
		}
	}
	s.dirty = s.dirty[:0]
}

// runLink is the goroutine of one link.
func (s *session) runLink(l *link) {
	defer s.linksWG.Done()
	var b backoff
	failures := 0
	for first := true; ; first = false {
		if !first && !s.backoff(l, b.next()) {
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
		c := &conn{link: l, tc: tc, identity: id, out: make(chan []wire.Message, outBatches),
			free: make(chan []wire.Message, outBatches), closing: make(chan struct{})}
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
//
// Every write takes whatever has queued up since the last one (up to
// outQueue messages) and hands it to the transport in one SendBatch, which
// packs it into batch frames when the node negotiated batching. A message
// queued while the writer is idle goes out at once and alone: batching
// never waits for company.
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
	batch := make([]wire.Message, 0, outQueue)
	for {
		select {
		case ms := <-c.out:
			batch = collect(c, append(batch[:0], ms...))
			recycle(c, ms)
			s.send(c.killed, c, batch)
			clear(batch)
		case <-c.killed.Done():
			return
		case <-ctx.Done():
			s.flush(c, batch)
			return
		}
	}
}

// collect appends to batch what is queued for c, without waiting, up to
// about outQueue messages.
func collect(c *conn, batch []wire.Message) []wire.Message {
	for len(batch) < outQueue {
		select {
		case ms := <-c.out:
			batch = append(batch, ms...)
			recycle(c, ms)
		default:
			return batch
		}
	}
	return batch
}

// recycle hands an emptied batch back to the loop.
func recycle(c *conn, ms []wire.Message) {
	clear(ms)
	select {
	case c.free <- ms[:0]:
	default:
	}
}

// flush sends what is queued on c, bounded by sendTimeout in total.
func (s *session) flush(c *conn, batch []wire.Message) {
	ctx, cancel := context.WithTimeout(c.killed, s.sendTimeout)
	defer cancel()
	for {
		batch = collect(c, batch[:0])
		if len(batch) == 0 {
			return
		}
		if err := c.tc.SendBatch(ctx, batch); err != nil {
			return
		}
	}
}

// send writes batch, bounded by sendTimeout.
func (s *session) send(ctx context.Context, c *conn, batch []wire.Message) {
	ctx, cancel := context.WithTimeout(ctx, s.sendTimeout)
	defer cancel()
	if err := c.tc.SendBatch(ctx, batch); err != nil && ctx.Err() == nil {
		s.log.LogAttrs(ctx, slog.LevelDebug, "send failed", slog.String(logKeyIdentity, c.identity),
			slog.Int("messages", len(batch)), slog.String(logKeyType, string(batch[0].Type)), slog.Any(logKeyErr, err))
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

// backoff waits d before l's next dial, or less when the link is woken;
// it reports false when the link is closed.
func (s *session) backoff(l *link, d time.Duration) bool {
	t := s.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
	case <-l.wake:
	case <-l.ctx.Done():
		return false
	}
	return true
}

// wakeLinks makes every link that is down dial again now.
func (s *session) wakeLinks() {
	for _, l := range s.links {
		if l.cur == nil {
			select {
			case l.wake <- struct{}{}:
			default:
			}
		}
	}
}

// backoff is MinBackoff doubling to MaxBackoff, plus up to 20 % jitter.
type backoff struct{ d time.Duration }

func (b *backoff) next() time.Duration {
	b.d = min(max(2*b.d, MinBackoff), MaxBackoff)
	return b.d + rand.N(b.d/5+1)
}

func (b *backoff) reset() { b.d = 0 }
