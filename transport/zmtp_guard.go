package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
	zmqtransport "github.com/go-zeromq/zmq4/transport"
)

// The guarded transport. zmq4 v0.17.0 gives its TCP connections no
// deadlines and no frame limit, which breaks three promises of this
// package (all three were reproduced against v0.17.0 on loopback):
//
//   - zmq4.WithTimeout does not bound a write: it only bounds waiting for a
//     first connection. A ROUTER Send to a peer that stopped reading blocks
//     in net.Conn.Write for ever, holding the ROUTER's writer mutex, so no
//     other peer gets anything (notes/zmq4.md row i).
//   - The ROUTER accepts connections on one goroutine and runs the ZMTP
//     handshake on it without a deadline: one TCP client that connects and
//     says nothing (a port scanner, a SIGSTOPped process) stops every later
//     handler from connecting. Dial has the same hang against a stopped node.
//   - A frame header announcing N bytes makes zmq4 allocate N bytes
//     (row k), so one bad peer can exhaust the node's memory.
//
// zmq4 lets us register our own transport, so the ZMQ listener and dialer
// bind and dial "sztcp://host:port" instead of "tcp://host:port". On the
// wire it is plain ZMTP over TCP, so peers are unaffected and the endpoints
// we report stay "tcp://". The wrapper around every connection
//
//   - sets a write deadline before each write and closes the connection
//     when it expires (after a partial write the ZMTP stream cannot be
//     resumed anyway);
//   - closes the connection unless zmq4 has adopted it within the
//     handshake timeout: adopted means the peer's first ZMTP command (READY,
//     for the NULL mechanism) has been read and zmq4 then reads again, which
//     it only does once the handshake has succeeded. This also closes
//     connections whose handshake zmq4 rejected (bad greeting, incompatible
//     socket type), which zmq4 itself leaves open;
//   - follows the ZMTP framing of the bytes zmq4 reads and closes the
//     connection when a frame header announces more than HardFrameLimit,
//     before zmq4 sees the size.
//
// It also takes two system calls out of every message, which is most of
// the transport's cost per message (measured with
// BenchmarkZMQ_RoundTrip -cpuprofile: write and read syscalls were ~40 %
// of all CPU): zmq4 writes a frame's header and body with two writes and
// reads them with two unbuffered reads. The wrapper holds back a complete
// frame header and writes it together with the body that zmq4 writes next
// (one writev), and reads through a buffer, so that one read system call
// serves every frame that has arrived.
//
// Per-socket settings reach the process-wide transport through the context
// the socket is created with (zmq4 passes it to Dial and Listen).

const (
	guardNetwork    = "sztcp"
	zmtpGreetingLen = 64
	zmtpFlagLong    = 0x02
	zmtpFlagCommand = 0x04
	// guardReadBuffer is the read buffer of a connection. Reads at least
	// this large bypass it, so big frames are not copied twice.
	guardReadBuffer = 16 << 10
)

var (
	errFrameTooLarge = errors.New("transport: ZMTP frame over HardFrameLimit")

	registerGuard = sync.OnceValue(func() error {
		return zmq4.RegisterTransport(guardNetwork, guardTransport{})
	})
)

type guardConfigKey struct{}

// guardConfig is what one socket's connections are guarded with.
type guardConfig struct {
	writeTimeout     time.Duration
	handshakeTimeout time.Duration
	maxFrame         uint64
	st               *counters
	log              *slog.Logger
}

func newGuardConfig(writeTimeout, handshakeTimeout time.Duration, st *counters, log *slog.Logger) *guardConfig {
	return &guardConfig{
		writeTimeout:     writeTimeout,
		handshakeTimeout: handshakeTimeout,
		maxFrame:         HardFrameLimit,
		st:               st,
		log:              log,
	}
}

// guardContext returns the context a guarded zmq4 socket is created with.
func guardContext(cfg *guardConfig) context.Context {
	return context.WithValue(context.Background(), guardConfigKey{}, cfg)
}

func guardFrom(ctx context.Context) *guardConfig {
	if g, ok := ctx.Value(guardConfigKey{}).(*guardConfig); ok {
		return g
	}
	return newGuardConfig(DefaultWriteTimeout, DefaultHandshakeTimeout, &counters{}, slog.New(slog.DiscardHandler))
}

// guardTransport implements zmq4's transport.Transport.
type guardTransport struct{}

var _ zmqtransport.Transport = guardTransport{}

// Dial connects and guards the connection. ctx is the zmq4 socket's
// lifetime: closing the socket aborts a hanging handshake.
func (guardTransport) Dial(ctx context.Context, d zmqtransport.Dialer, addr string) (net.Conn, error) {
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	g := newGuardConn(c, guardFrom(ctx), nil)
	context.AfterFunc(ctx, func() { _ = g.Close() })
	return g, nil
}

// Listen binds a TCP listener whose accepted connections are guarded.
func (guardTransport) Listen(ctx context.Context, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &guardListener{Listener: ln, cfg: guardFrom(ctx), pending: make(map[*guardConn]struct{})}, nil
}

// Addr normalises "host:port" like zmq4's tcp transport.
func (guardTransport) Addr(ep string) (string, error) {
	return zmqtransport.New("tcp").Addr(ep)
}

// guardListener tracks connections still in their handshake so Close can
// release zmq4's accept goroutine at once.
type guardListener struct {
	net.Listener
	cfg *guardConfig

	mu      sync.Mutex
	closed  bool
	pending map[*guardConn]struct{}
}

func (l *guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		if !errors.Is(err, net.ErrClosed) {
			// zmq4's accept loop retries at once; do not let it spin on
			// e.g. EMFILE.
			time.Sleep(10 * time.Millisecond)
		}
		return nil, err
	}
	g := newGuardConn(c, l.cfg, l)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		g.hsTimer.Stop()
		_ = c.Close()
		return nil, net.ErrClosed
	}
	l.pending[g] = struct{}{}
	return g, nil
}

func (l *guardListener) Close() error {
	l.mu.Lock()
	l.closed = true
	pending := l.pending
	l.pending = nil
	l.mu.Unlock()
	for g := range pending {
		_ = g.Close()
	}
	return l.Listener.Close()
}

func (l *guardListener) forget(g *guardConn) {
	l.mu.Lock()
	delete(l.pending, g)
	l.mu.Unlock()
}

// guardConn is one guarded connection. zmq4 reads a connection from one
// goroutine at a time (the handshake, then its reader), so the read side
// needs no lock; writes are serialised by wmu.
type guardConn struct {
	net.Conn
	cfg     *guardConfig
	owner   *guardListener // nil on the dial side
	hsTimer *time.Timer
	adopted atomic.Bool
	killed  atomic.Bool

	// Read side, owned by the reading goroutine.
	br     *bufio.Reader
	hsDone bool        // the peer's first command has been read
	rs     zmtpScanner // framing of the bytes handed to zmq4

	// Write side.
	wmu  sync.Mutex
	ws   zmtpScanner // framing of the bytes zmq4 wrote
	whdr [9]byte     // a frame header held back for its body
	whn  int         // length of whdr in use; 0: none held
	wv   net.Buffers // header and body for one writev
	wva  [2][]byte   // wv's backing array
}

// zmtpScanner follows ZMTP 3 framing over a byte stream: a 64-byte
// greeting, then frames of flags, a 1- or 8-byte size and a body.
type zmtpScanner struct {
	state scanState
	need  uint64
	size  uint64
	flags byte
}

type scanState uint8

const (
	scanGreeting scanState = iota
	scanFlags
	scanSize
	scanBody
)

func newGuardConn(c net.Conn, cfg *guardConfig, owner *guardListener) *guardConn {
	g := &guardConn{Conn: c, cfg: cfg, owner: owner}
	g.rs = zmtpScanner{state: scanGreeting, need: zmtpGreetingLen}
	g.ws = g.rs
	g.br = bufio.NewReaderSize(c, guardReadBuffer)
	g.hsTimer = time.AfterFunc(cfg.handshakeTimeout, func() {
		if !g.adopted.Load() {
			g.kill(slog.LevelInfo, "handshake timeout") // e.g. a port scanner
		}
	})
	return g
}

func (g *guardConn) Read(p []byte) (int, error) {
	if g.hsDone && !g.adopted.Load() {
		g.adopt()
	}
	n, err := g.br.Read(p)
	if serr := g.scan(p[:n]); serr != nil {
		g.cfg.st.tooLarge.Add(1)
		g.kill(slog.LevelWarn, serr.Error())
		// Report no bytes: io.ReadFull would ignore an error that comes
		// with a full buffer, and zmq4 would then allocate the frame.
		return 0, &net.OpError{Op: "read", Net: "tcp", Addr: g.RemoteAddr(), Err: serr}
	}
	return n, err
}

// adopt marks the handshake as accepted by zmq4: it reads again after the
// peer's READY only once Open has succeeded.
func (g *guardConn) adopt() {
	g.adopted.Store(true)
	g.hsTimer.Stop()
	if g.owner != nil {
		g.owner.forget(g)
	}
}

// Write writes p with the write deadline. A complete frame header with a
// non-empty body is held back and written with the next Write (zmq4
// writes the body right after the header, under the socket's writer lock).
func (g *guardConn) Write(p []byte) (int, error) {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	if g.whn == 0 && g.ws.atHeader(p) {
		g.whn = copy(g.whdr[:], p)
		g.ws.scan(p, math.MaxUint64)
		return len(p), nil
	}
	_ = g.Conn.SetWriteDeadline(time.Now().Add(g.cfg.writeTimeout))
	var n int
	var err error
	if g.whn > 0 {
		n, err = g.writeHeld(p)
	} else {
		n, err = g.Conn.Write(p)
	}
	g.ws.scan(p[:n], math.MaxUint64)
	if err != nil && isTimeout(err) {
		g.kill(slog.LevelWarn, "write timeout")
	}
	return n, err
}

// writeHeld writes the held header and p with one writev and returns how
// much of p was written.
func (g *guardConn) writeHeld(p []byte) (int, error) {
	hn := g.whn
	g.whn = 0
	g.wva = [2][]byte{g.whdr[:hn], p}
	g.wv = g.wva[:]
	written, err := g.wv.WriteTo(g.Conn)
	g.wva = [2][]byte{}
	return max(int(written)-hn, 0), err
}

func (g *guardConn) Close() error {
	g.hsTimer.Stop()
	return g.close()
}

// close is Close without touching hsTimer, which the timer's own callback
// may not read (it can run before newGuardConn has stored it).
func (g *guardConn) close() error {
	if g.owner != nil {
		g.owner.forget(g)
	}
	return g.Conn.Close()
}

// kill closes the connection on the transport's own initiative. zmq4 then
// sees read errors, drops the connection from its socket and, on a DEALER,
// reports it through Recv (ErrConnLost for our Conn).
func (g *guardConn) kill(level slog.Level, reason string) {
	if !g.killed.CompareAndSwap(false, true) {
		return
	}
	g.cfg.st.killed.Add(1)
	g.cfg.log.LogAttrs(context.Background(), level, "transport: closing connection",
		slog.String(logKeyReason, reason), slog.String(logKeyRemote, g.RemoteAddr().String()))
	_ = g.close()
}

// scan advances the read-side framing over the bytes just read, noting
// the peer's first command.
func (g *guardConn) scan(p []byte) error {
	cmd, err := g.rs.scan(p, g.cfg.maxFrame)
	if cmd {
		g.hsDone = true
	}
	return err
}

// scan advances the framing over p. cmd reports that a command frame
// ended within p; a frame header announcing more than maxFrame is
// errFrameTooLarge.
func (s *zmtpScanner) scan(p []byte, maxFrame uint64) (cmd bool, err error) {
	for len(p) > 0 {
		switch s.state {
		case scanGreeting, scanBody:
			k := min(uint64(len(p)), s.need)
			s.need -= k
			p = p[k:]
			if s.need == 0 {
				cmd = s.frameDone() || cmd
			}
		case scanFlags:
			s.flags, p = p[0], p[1:]
			s.size, s.need, s.state = 0, 1, scanSize
			if s.flags&zmtpFlagLong != 0 {
				s.need = 8
			}
		case scanSize:
			s.size, p = s.size<<8|uint64(p[0]), p[1:]
			if s.need--; s.need > 0 {
				continue
			}
			if s.size > maxFrame {
				return cmd, errFrameTooLarge
			}
			s.need, s.state = s.size, scanBody
			if s.need == 0 {
				cmd = s.frameDone() || cmd
			}
		}
	}
	return cmd, nil
}

// frameDone ends the greeting or a frame and reports whether it was a
// command frame.
func (s *zmtpScanner) frameDone() bool {
	cmd := s.state == scanBody && s.flags&zmtpFlagCommand != 0
	s.state = scanFlags
	return cmd
}

// atHeader reports whether p, written at the current position, is exactly
// one complete frame header announcing a non-empty body.
func (s *zmtpScanner) atHeader(p []byte) bool {
	if s.state != scanFlags || len(p) == 0 {
		return false
	}
	if p[0]&zmtpFlagLong != 0 {
		return len(p) == 9 && binary.BigEndian.Uint64(p[1:]) > 0
	}
	return len(p) == 2 && p[1] > 0
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
