package handlerclient_test

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/handlerclient"
	"github.com/schedulezero/schedulezero/handlerclient/handlerclienttest"
	"github.com/schedulezero/schedulezero/transport"
	"github.com/schedulezero/schedulezero/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitTimeout bounds every wait. Inside a synctest bubble it is fake time:
// a test that would hang fails after it instead.
const waitTimeout = time.Minute

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func endpoint(id string) string { return "tcp://" + id + ":4242" }

// startNode serves a fake node id on net at endpoint(id).
func startNode(t *testing.T, net *transport.InmemNetwork, id string) *handlerclienttest.Node {
	t.Helper()
	return startNodeAt(t, net, id, endpoint(id))
}

// startNodeAt serves a fake node id on net at ep.
func startNodeAt(t *testing.T, net *transport.InmemNetwork, id, ep string) *handlerclienttest.Node {
	t.Helper()
	ln, err := net.Listen(ep, transport.ListenerConfig{})
	require.NoError(t, err)
	n := handlerclienttest.NewNode(id, ln)
	t.Cleanup(n.Close)
	return n
}

// runner is a Client running in the background.
type runner struct {
	*handlerclient.Client
	cancel context.CancelFunc
	errc   chan error
	once   sync.Once
	err    error
}

// stop cancels Run's context and returns Run's error.
func (r *runner) stop() error {
	r.cancel()
	return r.wait()
}

// wait returns Run's error once it has returned.
func (r *runner) wait() error {
	r.once.Do(func() { r.err = <-r.errc })
	return r.err
}

// start runs a client with cfg on net (Name defaults to "h"), after
// register has registered its methods. It is stopped at cleanup.
func start(t *testing.T, net *transport.InmemNetwork, cfg handlerclient.Config, register func(*handlerclient.Client)) *runner {
	t.Helper()
	cfg.Name = cmp.Or(cfg.Name, "h")
	if cfg.Dialer == nil {
		cfg.Dialer = net.Dialer(transport.DialerConfig{})
	}
	cfg.Logger = testLogger(t)
	c, err := handlerclient.New(cfg)
	require.NoError(t, err)
	register(c)
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{Client: c, cancel: cancel, errc: make(chan error, 1)}
	go func() { r.errc <- c.Run(ctx) }()
	t.Cleanup(func() { _ = r.stop() })
	return r
}

// next returns the next message of one of types that n received.
func next(t *testing.T, n *handlerclienttest.Node, types ...wire.Type) transport.Inbound {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	in, err := n.Next(ctx, types...)
	require.NoError(t, err)
	return in
}

// none asserts that n receives no message of one of types within d.
func none(t *testing.T, n *handlerclienttest.Node, d time.Duration, types ...wire.Type) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	in, err := n.Next(ctx, types...)
	require.Error(t, err, "unexpected %s: %+v", in.Msg.Type, in.Msg)
}

// registered waits for the client's hello at n and returns its identity.
func registered(t *testing.T, n *handlerclienttest.Node) string {
	t.Helper()
	return next(t, n, wire.TypeHello).Peer
}

// dispatch sends a dispatch of method with params to peer.
func dispatch(t *testing.T, n *handlerclienttest.Node, peer, runID, method string, params any, opts ...func(*wire.Message)) {
	t.Helper()
	d := wire.Message{RunID: runID, ScheduleID: "s-" + runID, Method: method}
	if params != nil {
		b, err := json.Marshal(params)
		require.NoError(t, err)
		d.Params = b
	}
	for _, o := range opts {
		o(&d)
	}
	require.NoError(t, n.Dispatch(context.Background(), peer, d))
}

func withAttempt(a int) func(*wire.Message)    { return func(m *wire.Message) { m.Attempt = a } }
func withTerm(term uint64) func(*wire.Message) { return func(m *wire.Message) { m.Term = term } }

// ack sends result_ack for runID and attempt to peer.
func ack(t *testing.T, n *handlerclienttest.Node, peer, runID string, attempt int) {
	t.Helper()
	require.NoError(t, n.Send(context.Background(), peer, wire.Message{Type: wire.TypeResultAck, RunID: runID, Attempt: attempt}))
}

// gate is a method that blocks every job until released (one job per
// token on release) or until its context ends, and counts executions.
type gate struct {
	started chan *handlerclient.Job
	release chan struct{}
	causes  chan error

	mu         sync.Mutex
	runs       map[string]int
	running    int
	maxRunning int
}

func newGate() *gate {
	return &gate{started: make(chan *handlerclient.Job, 100), release: make(chan struct{}),
		causes: make(chan error, 100), runs: make(map[string]int)}
}

func (g *gate) fn(ctx context.Context, job *handlerclient.Job) (any, error) {
	g.mu.Lock()
	g.runs[job.RunID]++
	g.running++
	g.maxRunning = max(g.maxRunning, g.running)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.running--
		g.mu.Unlock()
	}()
	g.started <- job
	select {
	case <-g.release:
		return map[string]string{"run": job.RunID}, nil
	case <-ctx.Done():
		g.causes <- context.Cause(ctx)
		return nil, context.Cause(ctx)
	}
}

// executions returns how often runID was executed.
func (g *gate) executions(runID string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.runs[runID]
}

func (g *gate) max() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.maxRunning
}

// waitStarted returns the next job that started.
func (g *gate) waitStarted(t *testing.T) *handlerclient.Job {
	t.Helper()
	select {
	case j := <-g.started:
		return j
	case <-time.After(waitTimeout):
		t.Fatal("no job started")
		return nil
	}
}

func echo(_ context.Context, job *handlerclient.Job) (any, error) { return job.Params, nil }
