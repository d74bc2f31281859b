package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/api"
	"github.com/schedulezero/schedulezero/cluster"
	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/trigger"
)

// *cluster.Node is what the HTTP API programs against.
var _ api.Cluster = (*cluster.Node)(nil)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	waitTimeout = 15 * time.Second
	waitTick    = 10 * time.Millisecond
)

// testHTTPClient keeps no idle connections, so no transport goroutine
// outlives a test.
var testHTTPClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// testLog sends log lines to t.Log until the test is over.
type testLog struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (l *testLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
}

// testNode is one cluster node plus a minimal HTTP API in front of it. The
// HTTP server and data dir outlive restarts of the node.
type testNode struct {
	t        testing.TB
	id       string
	dir      string
	raftAddr string // "127.0.0.1:0" until first started, then the real address
	httpAddr string
	srv      *httptest.Server
	cur      atomic.Pointer[cluster.Node]
	reg      *prometheus.Registry
	opts     []func(*cluster.Config)
	hideSelf atomic.Bool // GET /v1/cluster/self answers 503 (node unreachable over HTTP)
}

func newTestNode(t testing.TB, id string, opts ...func(*cluster.Config)) *testNode {
	t.Helper()
	tn := &testNode{t: t, id: id, dir: t.TempDir(), raftAddr: "127.0.0.1:0", reg: prometheus.NewRegistry(), opts: opts}
	logw := &testLog{t: t}
	t.Cleanup(logw.close) // registered first, runs last
	tn.srv = httptest.NewServer(tn.handler())
	t.Cleanup(tn.srv.Close)
	tn.httpAddr = tn.srv.Listener.Addr().String()
	t.Cleanup(tn.stop)
	tn.opts = append([]func(*cluster.Config){func(c *cluster.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}}, opts...)
	return tn
}

func (tn *testNode) config(bootstrap bool) cluster.Config {
	cfg := cluster.Config{
		NodeID:        tn.id,
		DataDir:       tn.dir,
		RaftBind:      tn.raftAddr,
		HTTPAdvertise: tn.httpAddr,
		ZMQAdvertise:  "tcp://127.0.0.1:4242",
		Bootstrap:     bootstrap,
		Profile:       cluster.ProfileTest,
		Registerer:    tn.reg,
		HTTPClient:    testHTTPClient,
	}
	for _, o := range tn.opts {
		o(&cfg)
	}
	return cfg
}

// start creates and starts a new Node on the test node's data dir.
func (tn *testNode) start(bootstrap bool) *cluster.Node {
	tn.t.Helper()
	n, err := cluster.New(tn.config(bootstrap))
	require.NoError(tn.t, err)
	require.NoError(tn.t, n.Start(context.Background()))
	tn.raftAddr = n.Self().RaftAddr
	tn.cur.Store(n)
	return n
}

func (tn *testNode) node() *cluster.Node { return tn.cur.Load() }

func (tn *testNode) running() bool {
	n := tn.node()
	return n != nil && n.Self().State != "shutdown"
}

// stop stops the node gracefully (idempotent).
func (tn *testNode) stop() {
	if n := tn.node(); n != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(tn.t, n.Stop(ctx))
	}
}

// crash stops the node without leadership transfer.
func (tn *testNode) crash() {
	require.NoError(tn.t, tn.node().Crash())
}

// handler serves the three cluster endpoints the package itself calls,
// forwarding to the leader on ErrNotLeader as the real API does.
func (tn *testNode) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/cluster/self", func(w http.ResponseWriter, r *http.Request) {
		n := tn.node()
		if n == nil || tn.hideSelf.Load() {
			writeResult(w, cluster.ErrStopped)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(n.Self())
	})
	mux.HandleFunc("POST /v1/cluster/join", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req cluster.JoinRequest
		if err := json.Unmarshal(body, &req); err != nil {
			writeResult(w, fmt.Errorf("%w: %w", cluster.ErrInvalidRequest, err))
			return
		}
		tn.serve(w, r, body, func(n *cluster.Node) error { return n.AddMember(r.Context(), req) })
	})
	mux.HandleFunc("DELETE /v1/cluster/members/{id}", func(w http.ResponseWriter, r *http.Request) {
		tn.serve(w, r, nil, func(n *cluster.Node) error { return n.RemoveMember(r.Context(), r.PathValue("id")) })
	})
	return mux
}

func (tn *testNode) serve(w http.ResponseWriter, r *http.Request, body []byte, op func(*cluster.Node) error) {
	n := tn.node()
	if n == nil {
		writeResult(w, cluster.ErrStopped)
		return
	}
	err := op(n)
	if errors.Is(err, cluster.ErrNotLeader) {
		forward(w, r, n.Leader().HTTPAddr, body)
		return
	}
	writeResult(w, err)
}

func forward(w http.ResponseWriter, r *http.Request, leaderHTTP string, body []byte) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+leaderHTTP+r.URL.Path, bytes.NewReader(body))
	if err != nil {
		writeResult(w, err)
		return
	}
	resp, err := testHTTPClient.Do(req)
	if err != nil {
		writeResult(w, fmt.Errorf("%w: forward: %w", cluster.ErrNoLeader, err))
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func writeResult(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err == nil {
		_, _ = w.Write([]byte("{}\n"))
		return
	}
	code, status := "internal", http.StatusInternalServerError
	switch {
	case errors.Is(err, cluster.ErrInvalidRequest):
		code, status = "invalid", http.StatusBadRequest
	case errors.Is(err, cluster.ErrUnknownMember):
		code, status = "not_found", http.StatusNotFound
	case errors.Is(err, cluster.ErrNoLeader), errors.Is(err, cluster.ErrNotLeader),
		errors.Is(err, cluster.ErrTimeout), errors.Is(err, cluster.ErrStopped):
		code, status = "unavailable", http.StatusServiceUnavailable
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": err.Error()}})
}

// clusterSlots bounds how many multi-node clusters run at once: on two
// shared cores more parallel clusters starve heartbeats (100 ms lease) and
// cause elections that the tests do not mean to provoke.
var clusterSlots = make(chan struct{}, 2)

// startCluster bootstraps the first node and joins the others through the
// first node's HTTP API, then waits until all are voters and converged.
func startCluster(t testing.TB, size int, opts ...func(*cluster.Config)) []*testNode {
	t.Helper()
	clusterSlots <- struct{}{}
	t.Cleanup(func() { <-clusterSlots })
	nodes := make([]*testNode, size)
	for i := range nodes {
		nodes[i] = newTestNode(t, fmt.Sprintf("n%d", i+1), opts...)
	}
	nodes[0].start(true)
	waitLeader(t, nodes[:1])
	for _, tn := range nodes[1:] {
		tn.start(false)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		require.NoError(t, tn.node().JoinCluster(ctx, "http://"+nodes[0].httpAddr))
		cancel()
	}
	waitVoters(t, nodes, size)
	waitConverged(t, nodes)
	return nodes
}

// waitUntil polls cond every waitTick until it returns nil, failing the
// test with cond's last error after waitTimeout.
func waitUntil(t testing.TB, cond func() error) {
	t.Helper()
	waitUntilFor(t, waitTimeout, cond)
}

// waitUntilFor is waitUntil with a timeout of d.
func waitUntilFor(t testing.TB, d time.Duration, cond func() error) {
	t.Helper()
	tick := time.NewTicker(waitTick)
	defer tick.Stop()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", d, err)
		}
		<-tick.C
	}
}

// findLeader returns the running node that is a ready leader followed by
// every running node of nodes.
func findLeader(nodes []*testNode) (*testNode, error) {
	var leader *testNode
	var ids []string
	for _, tn := range nodes {
		if !tn.running() {
			continue
		}
		s := tn.node().Self()
		if s.State == "leader" && s.Ready {
			leader = tn
		}
		ids = append(ids, s.LeaderID)
	}
	if leader == nil {
		return nil, errors.New("no ready leader")
	}
	for _, id := range ids {
		if id != leader.id {
			return nil, fmt.Errorf("leader %s, but a node follows %q", leader.id, id)
		}
	}
	return leader, nil
}

// waitLeader waits until exactly one running node of nodes is a ready
// leader and every running node follows it; it returns the leader.
func waitLeader(t testing.TB, nodes []*testNode) *testNode {
	t.Helper()
	var leader *testNode
	waitUntil(t, func() (err error) {
		leader, err = findLeader(nodes)
		return err
	})
	return leader
}

// waitVoters waits until the leader's configuration has want voters and no
// non-voter.
func waitVoters(t testing.TB, nodes []*testNode, want int) {
	t.Helper()
	waitUntil(t, func() error {
		leader, err := findLeader(nodes)
		if err != nil {
			return err
		}
		members, err := leader.node().Members(context.Background())
		if err != nil {
			return err
		}
		for _, m := range members {
			if m.Suffrage != cluster.SuffrageVoter {
				return fmt.Errorf("%s is a %s", m.ID, m.Suffrage)
			}
		}
		if len(members) != want {
			return fmt.Errorf("%d voters, want %d", len(members), want)
		}
		return nil
	})
}

// waitConverged waits until every running node has applied the leader's
// commit index and all report the same applied index and digest.
func waitConverged(t testing.TB, nodes []*testNode) {
	t.Helper()
	waitConvergedFor(t, waitTimeout, nodes)
}

// waitConvergedFor is waitConverged with a timeout of d.
func waitConvergedFor(t testing.TB, d time.Duration, nodes []*testNode) {
	t.Helper()
	waitUntilFor(t, d, func() error {
		var selves []cluster.Self
		var commit uint64
		for _, tn := range nodes {
			if tn.running() {
				s := tn.node().Self()
				selves = append(selves, s)
				if s.State == "leader" {
					commit = s.CommitIndex
				}
			}
		}
		if commit == 0 {
			return errors.New("no leader")
		}
		for _, s := range selves {
			if s.AppliedIndex != selves[0].AppliedIndex || s.Digest != selves[0].Digest {
				return fmt.Errorf("%s at %d/%s, %s at %d/%s", selves[0].ID, selves[0].AppliedIndex, selves[0].Digest,
					s.ID, s.AppliedIndex, s.Digest)
			}
		}
		if selves[0].AppliedIndex < commit {
			return fmt.Errorf("applied %d < leader commit %d", selves[0].AppliedIndex, commit)
		}
		return nil
	})
}

func createEvent(id string) fsm.Event {
	return fsm.Event{Type: fsm.ScheduleCreated, Schedule: &fsm.Schedule{
		ID: id, Handler: "reports", Method: "generate",
		Trigger: trigger.Spec{Every: "1m"}, Policy: fsm.DefaultPolicy,
	}}
}

// propose commits ev through whichever node leads, retrying (as a client
// would) when leadership moves. It reports whether a retry happened after
// an ErrTimeout, in which case the first attempt may have committed.
func propose(t testing.TB, nodes []*testNode, ev fsm.Event) (fsm.Result, bool, error) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	ambiguous := false
	for {
		var leader *cluster.Node
		for _, tn := range nodes {
			if tn.running() && tn.node().IsLeader() {
				leader = tn.node()
			}
		}
		if leader != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := leader.Propose(ctx, ev)
			cancel()
			switch {
			case err == nil:
				return res[0], ambiguous, nil
			case errors.Is(err, cluster.ErrTimeout):
				ambiguous = true
			case !errors.Is(err, cluster.ErrNotLeader) && !errors.Is(err, cluster.ErrNoLeader):
				return fsm.Result{}, ambiguous, err
			}
			t.Logf("retrying proposal: %v", err)
		}
		if time.Now().After(deadline) {
			return fsm.Result{}, ambiguous, errors.New("no leader accepted the proposal")
		}
		<-time.After(waitTick) // client back-off between retries
	}
}

// proposeCreates creates count schedules prefix-0 … prefix-(count-1), one
// Propose each, from workers goroutines, through the current leader.
func proposeCreates(t testing.TB, nodes []*testNode, prefix string, count, workers int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, count)
	next := atomic.Int64{}
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(count) {
					return
				}
				res, ambiguous, err := propose(t, nodes, createEvent(fmt.Sprintf("%s-%d", prefix, i)))
				if err == nil && !(ambiguous && errors.Is(res.Err, fsm.ErrExists)) {
					err = res.Err
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// recv receives from a leadership channel or fails after waitTimeout.
func recv(t testing.TB, ch <-chan bool) bool {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatal("no leadership notification")
		return false
	}
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
