package jepsen

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/governor"
)

// probeTimeout bounds one /v1/cluster/self poll: a paused node never answers.
const probeTimeout = time.Second

// ErrUnattributed is returned by the setup check when the governor's proxies
// saw no Raft connection from a node's bind address: partitions would then
// not cut Raft traffic and every partition nemesis would be fake.
var ErrUnattributed = errors.New("raft traffic is not attributed; partitions would be fake")

// cluster is the harness's view of the governor-run cluster: the current
// members, their direct (never partitioned) HTTP addresses and clients.
type cluster struct {
	gov       *governor.ProcessGovernor
	hc        *http.Client
	opTimeout time.Duration

	mu      sync.Mutex
	members []string // current members, n1 n2 …
	addrs   map[string]string
	api     map[string]*client.Client // workload clients (OpTimeout)
	probe   map[string]*client.Client // status polls (probeTimeout)
}

func newCluster(gov *governor.ProcessGovernor, opTimeout time.Duration) *cluster {
	return &cluster{
		gov: gov, opTimeout: opTimeout,
		hc: &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     10 * time.Second,
		}},
		addrs: map[string]string{}, api: map[string]*client.Client{}, probe: map[string]*client.Client{},
	}
}

// refresh re-reads the member list from the governor: every node that was
// not removed.
func (c *cluster) refresh(ctx context.Context) error {
	st, err := c.gov.Status(ctx)
	if err != nil {
		return fmt.Errorf("governor status: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.members = c.members[:0]
	for _, n := range st.Nodes {
		if n.State == governor.StateRemoved {
			continue
		}
		c.members = append(c.members, n.ID)
		if c.addrs[n.ID] == n.HTTPAddr {
			continue
		}
		if err := c.addClients(n.ID, n.HTTPAddr); err != nil {
			return err
		}
	}
	return nil
}

func (c *cluster) addClients(id, addr string) error {
	api, err := client.New(addr, client.WithHTTPClient(c.hc), client.WithTimeout(c.opTimeout), client.WithUserAgent("jepsen"))
	if err != nil {
		return fmt.Errorf("client for %s: %w", id, err)
	}
	probe, err := client.New(addr, client.WithHTTPClient(c.hc), client.WithTimeout(probeTimeout), client.WithUserAgent("jepsen-probe"))
	if err != nil {
		return fmt.Errorf("client for %s: %w", id, err)
	}
	c.addrs[id], c.api[id], c.probe[id] = addr, api, probe
	return nil
}

// Members returns the current member IDs.
func (c *cluster) Members() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.members)
}

// API returns the workload client of node id.
func (c *cluster) API(id string) *client.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.api[id]
}

func (c *cluster) probeClient(id string) *client.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.probe[id]
}

// selfAll polls /v1/cluster/self on every member concurrently.
func (c *cluster) selfAll(ctx context.Context) map[string]selfResult {
	ids := c.Members()
	out := make(map[string]selfResult, len(ids))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			s, err := c.probeClient(id).Self(ctx)
			mu.Lock()
			out[id] = selfResult{self: s, err: err}
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

type selfResult struct {
	self *client.Self
	err  error
}

// Leader returns the ready leader with the highest term among the members'
// own reports, or "" when none reports itself a ready leader.
func (c *cluster) Leader(ctx context.Context) string {
	best, term := "", uint64(0)
	for id, r := range c.selfAll(ctx) {
		if r.err == nil && r.self.State == "leader" && r.self.Ready && r.self.Term >= term {
			best, term = id, r.self.Term
		}
	}
	return best
}

// WaitLeader polls until a ready leader exists or bound passes.
func (c *cluster) WaitLeader(ctx context.Context, bound time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	for {
		if id := c.Leader(ctx); id != "" {
			return id, nil
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return "", fmt.Errorf("no ready leader within %s", bound)
		}
	}
}

// checkAttribution requires the governor to have attributed Raft
// connections to every node: a node that dials its peers from another
// address than its bind address 127.0.1.i is seen as a client, and a
// partition would not cut its Raft traffic. The current leader has been
// replicating since its election, so it is checked first; followers never
// dial Raft in a healthy cluster, so each is then made leader once
// (leadership transfer) before the final check.
func (c *cluster) checkAttribution(ctx context.Context, logf func(string, ...any)) error {
	leader, err := c.WaitLeader(ctx, 10*time.Second)
	if err != nil {
		return err
	}
	if c.waitFor(ctx, 3*time.Second, func() bool { return c.raftConns(ctx)[leader] > 0 }) != nil {
		return c.unattributed(ctx, []string{leader})
	}
	for _, id := range c.Members() {
		if c.raftConns(ctx)[id] > 0 {
			continue
		}
		if err := c.makeLeader(ctx, id); err != nil {
			logf("attribution check: could not make %s the leader: %v", id, err)
		}
	}
	conns := c.raftConns(ctx)
	var missing []string
	for _, id := range c.Members() {
		if conns[id] == 0 {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return c.unattributed(ctx, missing)
	}
	return nil
}

func (c *cluster) unattributed(ctx context.Context, ids []string) error {
	return fmt.Errorf("%w: governor PeerConns[raft] is 0 for %s while leading (all: %v); each node must dial its peers from its bind address 127.0.1.i",
		ErrUnattributed, strings.Join(ids, ", "), c.raftConns(ctx))
}

func (c *cluster) raftConns(ctx context.Context) map[string]int64 {
	st, err := c.gov.Status(ctx)
	if err != nil {
		return nil
	}
	out := map[string]int64{}
	for _, n := range st.Nodes {
		out[n.ID] = n.PeerConns["raft"]
	}
	return out
}

// makeLeader transfers leadership to id and waits until it leads and its
// Raft connections are counted.
func (c *cluster) makeLeader(ctx context.Context, id string) error {
	var err error
	for range 3 {
		var leader string
		if leader, err = c.WaitLeader(ctx, 10*time.Second); err != nil {
			continue
		}
		if leader != id {
			if err = c.probeClient(leader).TransferLeadership(ctx, id); err != nil {
				_ = sleepCtx(ctx, 500*time.Millisecond)
				continue
			}
			if err = c.waitFor(ctx, 5*time.Second, func() bool { return c.Leader(ctx) == id }); err != nil {
				continue
			}
		}
		return c.waitFor(ctx, 3*time.Second, func() bool { return c.raftConns(ctx)[id] > 0 })
	}
	return err
}

func (c *cluster) waitFor(ctx context.Context, bound time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	for !cond() {
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return fmt.Errorf("condition not met within %s", bound)
		}
	}
	return nil
}

// Quiesce polls every member until all report the same applied index and
// digest in two consecutive polls, or bound passes. It returns the last
// poll and when agreement was first reached (0: never).
func (c *cluster) Quiesce(ctx context.Context, bound time.Duration) ([]NodeState, int64) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	var prev, last []NodeState
	var agreedAt int64
	for {
		last = c.nodeStates(ctx)
		switch {
		case !agree(last):
			agreedAt = 0
		case agreedAt == 0:
			agreedAt = governor.MonotonicNS()
		case slices.Equal(prev, last):
			return last, agreedAt
		}
		prev = last
		if sleepCtx(ctx, 200*time.Millisecond) != nil {
			return last, agreedAt
		}
	}
}

func (c *cluster) nodeStates(ctx context.Context) []NodeState {
	var out []NodeState
	for id, r := range c.selfAll(ctx) {
		ns := NodeState{Node: id}
		if r.err != nil {
			ns.Error = r.err.Error()
		} else {
			s := r.self
			ns.State, ns.Term, ns.Applied, ns.Commit, ns.Digest, ns.Schedules = s.State, s.Term, s.AppliedIndex, s.CommitIndex, s.Digest, s.Schedules
		}
		out = append(out, ns)
	}
	sort.Slice(out, func(i, j int) bool { return compareNodeIDs(out[i].Node, out[j].Node) < 0 })
	return out
}

// agree reports whether every state answered with the same applied index
// and digest.
func agree(states []NodeState) bool {
	if len(states) == 0 {
		return false
	}
	for _, s := range states {
		if s.Error != "" || s.Digest == "" || s.Applied != states[0].Applied || s.Digest != states[0].Digest {
			return false
		}
	}
	return true
}

// close releases the HTTP connections.
func (c *cluster) close() { c.hc.CloseIdleConnections() }

// compareNodeIDs orders n2 before n10.
func compareNodeIDs(a, b string) int {
	return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
