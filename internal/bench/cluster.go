package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/governor"
)

// Timeouts of the cluster helpers.
const (
	probeTimeout   = time.Second
	apiTimeout     = 30 * time.Second
	leaderTimeout  = 60 * time.Second
	stopTimeout    = 45 * time.Second
	governorGrace  = 10 * time.Second
	pollInterval   = 50 * time.Millisecond
	readyTimeout   = 90 * time.Second
	neverRestarted = 365 * 24 * time.Hour
)

// errNoGovernor is returned by the fault operations on a --target cluster.
var errNoGovernor = errors.New("bench: this operation needs the cluster szbench starts (not --target)")

// benchNode is one member as szbench reaches it.
type benchNode struct {
	ID   string
	HTTP string // direct HTTP address
	ZMQ  string // direct ZeroMQ endpoint (tcp://…)
}

// benchCluster is the cluster a scenario runs against: one started
// through the governor (gov != nil) or an existing one (--target).
type benchCluster struct {
	clk   sleeper
	gov   *governor.ProcessGovernor
	hc    *http.Client
	nodes []benchNode
	api   map[string]*client.Client // apiTimeout
	probe map[string]*client.Client // probeTimeout
	// govLog is the governor's log file (closed by stop).
	govLog io.Closer
}

// startCluster starts cfg.Nodes nodes through a ProcessGovernor in dir,
// with nodeArgs appended to every node's command line. A node that exits
// is not restarted by the supervisor (szbench restarts killed nodes
// itself, when it wants them back).
func startCluster(ctx context.Context, cfg Config, dir string, nodeArgs []string) (*benchCluster, error) {
	bin, err := filepath.Abs(filepath.Join(cfg.BinDir, "schedulezero"))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("bench: node binary: %w (build it with `make build`, or point --bin-dir at it)", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "governor.log"))
	if err != nil {
		return nil, err
	}
	gov, err := governor.New(governor.Config{
		Dir: dir, NodeBinary: bin, BinDir: cfg.BinDir, Nodes: cfg.Nodes, BasePort: cfg.BasePort,
		RaftProfile: cfg.RaftProfile, NodeArgs: append([]string{"--pprof"}, nodeArgs...), GracePeriod: governorGrace, ReadyTimeout: readyTimeout,
		Restart: governor.RestartPolicy{Initial: neverRestarted, Max: neverRestarted},
		// No fault-injection proxies: szbench kills and stops processes but
		// never partitions, and the proxies would take CPU from the cluster.
		Direct: true,
		Logger: slog.New(slog.NewTextHandler(logf, nil)),
	})
	if err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("bench: governor: %w", err)
	}
	c := newBenchCluster(cfg)
	c.gov, c.govLog = gov, logf
	if err := gov.Start(ctx); err != nil {
		c.stop()
		return nil, fmt.Errorf("bench: start cluster (logs under %s): %w", dir, err)
	}
	st, err := gov.Status(ctx)
	if err != nil {
		c.stop()
		return nil, err
	}
	for _, n := range st.Nodes {
		c.nodes = append(c.nodes, benchNode{ID: n.ID, HTTP: n.HTTPAddr, ZMQ: n.ZMQAddr})
	}
	return c, c.initClients()
}

// connectTarget describes the existing cluster cfg.Target belongs to.
func connectTarget(ctx context.Context, cfg Config) (*benchCluster, error) {
	c := newBenchCluster(cfg)
	api, err := client.New(cfg.Target, client.WithHTTPClient(c.hc), client.WithTimeout(apiTimeout))
	if err != nil {
		return nil, err
	}
	members, err := api.Members(ctx)
	if err != nil {
		return nil, fmt.Errorf("bench: members of %s: %w", cfg.Target, err)
	}
	for _, m := range members {
		c.nodes = append(c.nodes, benchNode{ID: m.ID, HTTP: m.HTTPAddr, ZMQ: m.ZMQAddr})
	}
	if len(c.nodes) == 0 {
		return nil, fmt.Errorf("bench: %s reports no members", cfg.Target)
	}
	return c, c.initClients()
}

func newBenchCluster(cfg Config) *benchCluster {
	return &benchCluster{
		clk: sleeper{cfg.Clock},
		hc: &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 2 * DefaultCreateClients,
			IdleConnTimeout:     30 * time.Second,
		}},
		api: map[string]*client.Client{}, probe: map[string]*client.Client{},
	}
}

func (c *benchCluster) initClients() error {
	for _, n := range c.nodes {
		api, err := client.New(n.HTTP, client.WithHTTPClient(c.hc), client.WithTimeout(apiTimeout), client.WithUserAgent(Name))
		if err != nil {
			return fmt.Errorf("bench: client for %s: %w", n.ID, err)
		}
		probe, err := client.New(n.HTTP, client.WithHTTPClient(c.hc), client.WithTimeout(probeTimeout), client.WithUserAgent(Name))
		if err != nil {
			return fmt.Errorf("bench: client for %s: %w", n.ID, err)
		}
		c.api[n.ID], c.probe[n.ID] = api, probe
	}
	return nil
}

// stop stops every process the governor started (SIGTERM, SIGKILL after
// the grace period) with a fresh context, so it also works after Ctrl-C.
func (c *benchCluster) stop() {
	if c.gov != nil {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		_ = c.gov.Stop(ctx)
		cancel()
	}
	if c.govLog != nil {
		_ = c.govLog.Close()
	}
	c.hc.CloseIdleConnections()
}

// governed reports whether szbench started the cluster (faults allowed).
func (c *benchCluster) governed() bool { return c.gov != nil }

// client returns the API client of node id.
func (c *benchCluster) client(id string) *client.Client { return c.api[id] }

// zmqEndpoints lists every node's ZeroMQ endpoint for the handlers.
func (c *benchCluster) zmqEndpoints() []string {
	out := make([]string, 0, len(c.nodes))
	for _, n := range c.nodes {
		out = append(out, n.ZMQ)
	}
	return out
}

// selfAll polls /v1/cluster/self of every node concurrently; nodes that
// do not answer are missing from the result.
func (c *benchCluster) selfAll(ctx context.Context) map[string]*client.Self {
	out := map[string]*client.Self{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Go(func() {
			s, err := c.probe[n.ID].Self(ctx)
			if err != nil {
				return
			}
			mu.Lock()
			out[n.ID] = s
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// leaderNow returns the node that reports itself leader with the highest
// term, or "" when none does.
func (c *benchCluster) leaderNow(ctx context.Context) (string, *client.Self) {
	var id string
	var best *client.Self
	for nid, s := range c.selfAll(ctx) {
		if s.State == "leader" && (best == nil || s.Term > best.Term) {
			id, best = nid, s
		}
	}
	return id, best
}

// leader waits (up to leaderTimeout) for a leader and returns it.
func (c *benchCluster) leader(ctx context.Context) (string, *client.Self, error) {
	ctx, cancel := context.WithTimeout(ctx, leaderTimeout)
	defer cancel()
	for {
		if id, s := c.leaderNow(ctx); id != "" {
			return id, s, nil
		}
		if err := c.clk.sleep(ctx, pollInterval); err != nil {
			return "", nil, fmt.Errorf("bench: no leader within %s: %w", leaderTimeout, err)
		}
	}
}

// leaderClient returns the API client of the current leader.
func (c *benchCluster) leaderClient(ctx context.Context) (*client.Client, string, error) {
	id, _, err := c.leader(ctx)
	if err != nil {
		return nil, "", err
	}
	return c.api[id], id, nil
}

// process returns the governor's status of node id (PID, log file).
func (c *benchCluster) process(ctx context.Context, id string) (governor.ProcessStatus, bool) {
	if c.gov == nil {
		return governor.ProcessStatus{}, false
	}
	st, err := c.gov.Status(ctx)
	if err != nil {
		return governor.ProcessStatus{}, false
	}
	return st.Process(id)
}

// pid returns node id's PID, 0 when unknown (--target, not running).
func (c *benchCluster) pid(ctx context.Context, id string) int {
	p, _ := c.process(ctx, id)
	return p.PID
}

// kill sends SIGKILL to node id; it stays down until restart.
func (c *benchCluster) kill(ctx context.Context, id string) error {
	if c.gov == nil {
		return errNoGovernor
	}
	return c.gov.Kill(ctx, id)
}

// term sends SIGTERM to node id (graceful stop with leadership transfer);
// it stays down until restart.
func (c *benchCluster) term(ctx context.Context, id string) error {
	if c.gov == nil {
		return errNoGovernor
	}
	return c.gov.Term(ctx, id)
}

// restart starts node id again with its data and waits for /readyz.
func (c *benchCluster) restart(ctx context.Context, id string) error {
	if c.gov == nil {
		return errNoGovernor
	}
	return c.gov.Restart(ctx, id)
}

// waitExited waits until node id's process is gone (after kill or term).
func (c *benchCluster) waitExited(ctx context.Context, id string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if p, ok := c.process(ctx, id); !ok || p.PID == 0 {
			return nil
		}
		if err := c.clk.sleep(ctx, pollInterval); err != nil {
			return fmt.Errorf("bench: %s still running after %s", id, timeout)
		}
	}
}

// scrape reads node id's /metrics.
func (c *benchCluster) scrape(ctx context.Context, id string) (promSamples, error) {
	for _, n := range c.nodes {
		if n.ID == id {
			return scrapeMetrics(ctx, c.hc, n.HTTP)
		}
	}
	return nil, fmt.Errorf("bench: unknown node %q", id)
}

// followers returns the IDs of the nodes other than leader.
func (c *benchCluster) followers(leader string) []string {
	var out []string
	for _, n := range c.nodes {
		if n.ID != leader {
			out = append(out, n.ID)
		}
	}
	return out
}

// collectGarbage asks node id to run a garbage collection (the nodes szbench
// starts serve /debug/pprof/; ?gc=1 collects before writing the heap
// profile), so that heap figures read afterwards are the live heap. It is
// best effort: a node without --pprof answers 404 and nothing happens.
func (c *benchCluster) collectGarbage(ctx context.Context, id string) {
	for _, n := range c.nodes {
		if n.ID != id {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.HTTP+"/debug/pprof/heap?gc=1", nil)
		if err != nil {
			return
		}
		if resp, err := c.hc.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
}
