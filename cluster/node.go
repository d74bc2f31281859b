package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/internal/clock"
)

// Store and transport parameters (raft.md §3, §4).
const (
	// logCacheSize bounds the recent entries Raft keeps decoded in memory
	// for replication. Entries are batches (a bulk create is ~300 KB per
	// entry), so 512 held ~150 MB during a million-schedule load; 64 keep
	// the followers' catch-up window without that.
	logCacheSize      = 64
	snapshotsRetained = 2
	transportMaxPool  = 3
	transportTimeout  = 10 * time.Second
	notifyChSize      = 16
	proposeQueueSize  = 4096
	// boltOpenTimeout makes a second process on the same data dir fail
	// instead of waiting forever for raft.db's file lock.
	boltOpenTimeout = 5 * time.Second
)

// errStop is the cancellation cause of the node's base context on Stop.
var errStop = errors.New("cluster: stopping")

// errNotStarted is returned by operations on a node that was never started.
var errNotStarted = fmt.Errorf("%w: node not started", ErrStopped)

// Lifecycle states of a Node.
const (
	stateNew int32 = iota
	stateRunning
	stateStopped
)

// Node is one ScheduleZero server's Raft member: it owns the Raft instance,
// its stores and transport, and the local replicated state (FSM). All
// methods are safe for concurrent use. Methods documented "leader only"
// return ErrNotLeader (a leader is known; forward to Leader().HTTPAddr) or
// ErrNoLeader (none known, retry later) on other nodes.
type Node struct {
	cfg     Config
	timing  timing
	log     *slog.Logger
	clock   clock.Clock // stamps Event.At
	wall    clock.Clock // timers and durations: always clock.Real
	fsm     *fsm.FSM
	adapter *fsmAdapter
	sizes   *entrySizes
	metrics *metrics
	httpc   *http.Client
	ownHTTP bool // httpc was created here; close its idle connections on Stop

	lifecycle sync.Mutex // serialises Start and Stop
	state     atomic.Int32

	// Set by Start before the state becomes stateRunning; read-only
	// afterwards. Read them only after checking state (see running).
	raft     *raft.Raft
	bolt     *raftboltdb.BoltStore
	logs     raft.LogStore
	trans    *transport
	raftAddr string
	notifyCh chan bool

	baseCtx   context.Context // cancelled (cause errStop) on Stop
	cancel    context.CancelCauseFunc
	stopCh    chan struct{}
	raftDown  chan struct{} // closed once Raft's shutdown has begun
	wg        sync.WaitGroup
	proposeCh chan *proposal

	lead leadership

	benchRunning atomic.Bool // a BenchCommits run is in progress
}

// New validates cfg and returns a Node that is not started yet.
func New(cfg Config) (*Node, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:       cfg,
		timing:    profiles[cfg.Profile],
		clock:     cfg.Clock,
		wall:      clock.Real{},
		fsm:       fsm.New(),
		httpc:     cfg.HTTPClient,
		stopCh:    make(chan struct{}),
		raftDown:  make(chan struct{}),
		proposeCh: make(chan *proposal, proposeQueueSize),
		notifyCh:  make(chan bool, notifyChSize),
	}
	n.log = cfg.Logger.With(slog.String(logKeyComponent, "cluster"), slog.String(logKeyNodeID, cfg.NodeID))
	n.metrics = newMetrics(n)
	n.sizes = newEntrySizes(cfg.TrailingLogs)
	n.adapter = newFSMAdapter(n.fsm, n.log, n.metrics, n.sizes)
	n.lead.init()
	if n.httpc == nil {
		n.httpc = &http.Client{Timeout: DefaultHTTPTimeout}
		n.ownHTTP = true
	}
	n.baseCtx, n.cancel = context.WithCancelCause(context.Background())
	return n, nil
}

// Start opens the stores and the transport, starts Raft (bootstrapping a
// single-node cluster if Config.Bootstrap is set and the data dir has no
// Raft state) and the node's background goroutines. It is idempotent;
// Start after Stop returns ErrStopped. A failed Start releases what it
// opened and may be retried.
func (n *Node) Start(ctx context.Context) error {
	n.lifecycle.Lock()
	defer n.lifecycle.Unlock()
	switch n.state.Load() {
	case stateRunning:
		return nil
	case stateStopped:
		return ErrStopped
	}
	if err := n.open(ctx); err != nil {
		n.closeStores()
		return err
	}
	if n.cfg.Registerer != nil {
		if err := n.cfg.Registerer.Register(n.metrics); err != nil {
			_ = n.raft.Shutdown().Error()
			n.closeStores()
			return fmt.Errorf("cluster: register metrics: %w", err)
		}
	}
	n.state.Store(stateRunning)
	n.wg.Add(3)
	go n.runNotify()
	go n.runBatcher()
	go n.runCompaction()
	n.log.InfoContext(ctx, "raft node started", slog.String(logKeyAddr, n.raftAddr))
	return nil
}

// open creates the stores, the transport and the Raft instance.
func (n *Node) open(ctx context.Context) error {
	dir, err := prepareDataDir(n.cfg.DataDir, n.cfg.NodeID)
	if err != nil {
		return err
	}
	if err := n.openStores(dir); err != nil {
		return err
	}
	hl := newRaftLogger(n.log)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, snapshotsRetained, hl.Named("snapshot"))
	if err != nil {
		return fmt.Errorf("cluster: snapshot store: %w", err)
	}
	var advertise net.Addr
	if n.cfg.RaftAdvertise != "" {
		if advertise, err = net.ResolveTCPAddr("tcp", n.cfg.RaftAdvertise); err != nil {
			return fmt.Errorf("cluster: resolve raft advertise address: %w", err)
		}
	}
	stream, err := newStreamLayer(n.cfg.RaftBind, advertise)
	if err != nil {
		return err
	}
	// Pipelined replication is off by default (maxRPCsInFlight 1): it
	// measured no faster here. transport makes it safe to turn on
	// (pipeline.go, DESIGN.md §1).
	n.trans = &transport{raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:          stream,
		MaxPool:         transportMaxPool,
		Timeout:         transportTimeout,
		Logger:          hl.Named("transport"),
		MaxRPCsInFlight: n.cfg.maxRPCsInFlight,
	})}
	n.raftAddr = string(n.trans.LocalAddr())
	rc := n.raftConfig(hl)
	if err := raft.ValidateConfig(rc); err != nil {
		return fmt.Errorf("%w: raft: %w", ErrInvalidConfig, err)
	}
	existing, err := raft.HasExistingState(n.logs, n.bolt, snaps)
	if err != nil {
		return fmt.Errorf("cluster: inspect raft state: %w", err)
	}
	n.raft, err = raft.NewRaft(rc, n.adapter, n.logs, n.bolt, snaps, n.trans)
	if err != nil {
		return fmt.Errorf("cluster: start raft: %w", err)
	}
	n.adapter.raft.Store(n.raft)
	if n.cfg.Bootstrap && !existing {
		return n.bootstrap(ctx)
	}
	return nil
}

// raftConfig builds the raft.Config for the node's profile.
func (n *Node) raftConfig(hl *raftLogger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(n.cfg.NodeID)
	rc.HeartbeatTimeout = n.timing.heartbeat
	rc.ElectionTimeout = n.timing.election
	rc.LeaderLeaseTimeout = n.timing.lease
	rc.CommitTimeout = n.timing.commit
	rc.SnapshotThreshold = n.cfg.SnapshotThreshold
	rc.TrailingLogs = n.cfg.TrailingLogs
	rc.SnapshotInterval = n.cfg.SnapshotInterval
	rc.ShutdownOnRemove = false
	rc.NotifyCh = n.notifyCh
	rc.Logger = hl.Named("raft")
	return rc
}

// bootstrap forms a single-node cluster of this node.
func (n *Node) bootstrap(ctx context.Context) error {
	conf := raft.Configuration{Servers: []raft.Server{{
		Suffrage: raft.Voter, ID: raft.ServerID(n.cfg.NodeID), Address: raft.ServerAddress(n.raftAddr),
	}}}
	if err := n.raft.BootstrapCluster(conf).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		_ = n.raft.Shutdown().Error()
		return fmt.Errorf("cluster: bootstrap: %w", err)
	}
	n.log.InfoContext(ctx, "bootstrapped a new single-node cluster")
	return nil
}

// Stop stops the node. A leader with other voters first transfers
// leadership (bounded by ctx; a failed transfer is logged and the node
// stops anyway). Then Raft shuts down, the stores close and every goroutine
// of the node exits. Stop is idempotent and safe before Start; the returned
// error reports a failed Raft shutdown only.
func (n *Node) Stop(ctx context.Context) error { return n.stop(ctx, true) }

// stop implements Stop; transfer=false skips the leadership transfer, which
// is how tests simulate a crash.
func (n *Node) stop(ctx context.Context, transfer bool) error {
	n.lifecycle.Lock()
	defer n.lifecycle.Unlock()
	if n.state.Swap(stateStopped) != stateRunning {
		return nil
	}
	if transfer {
		n.transferOnStop(ctx)
	}
	close(n.stopCh)
	n.cancel(errStop)
	shutdown := n.raft.Shutdown()
	close(n.raftDown)
	// Close the transport before waiting: replication goroutines blocked in
	// an RPC to an unresponsive peer would otherwise hold Shutdown for up
	// to the transport timeout (Consul closes it first too).
	_ = n.trans.Close()
	n.trans.CloseStreams()
	err := shutdown.Error()
	n.wg.Wait()
	n.closeStores()
	if n.cfg.Registerer != nil {
		n.cfg.Registerer.Unregister(n.metrics)
	}
	if n.ownHTTP {
		n.httpc.CloseIdleConnections()
	}
	n.log.InfoContext(ctx, "raft node stopped")
	if err != nil {
		return fmt.Errorf("cluster: raft shutdown: %w", err)
	}
	return nil
}

// transferOnStop hands leadership to another voter if this node leads.
func (n *Node) transferOnStop(ctx context.Context) {
	if n.raft.State() != raft.Leader || !n.hasOtherVoters() {
		return
	}
	start := n.wall.Now()
	err := n.waitFuture(ctx, n.raft.LeadershipTransfer())
	if err != nil {
		n.log.WarnContext(ctx, "leadership transfer before stop failed", slog.Any(logKeyErr, err))
		return
	}
	n.log.InfoContext(ctx, "transferred leadership before stop", slog.Duration(logKeyDuration, n.wall.Since(start)))
}

// hasOtherVoters reports whether the configuration has a voter besides us.
func (n *Node) hasOtherVoters() bool {
	for _, s := range n.raft.GetConfiguration().Configuration().Servers {
		if s.Suffrage == raft.Voter && s.ID != raft.ServerID(n.cfg.NodeID) {
			return true
		}
	}
	return false
}

// running returns the Raft instance, or ErrStopped when the node is not
// running.
func (n *Node) running() (*raft.Raft, error) {
	switch n.state.Load() {
	case stateRunning:
		return n.raft, nil
	case stateNew:
		return nil, errNotStarted
	default:
		return nil, ErrStopped
	}
}

// sleep waits d on the wall clock; it returns ctx's error if ctx ends
// first.
func (n *Node) sleep(ctx context.Context, d time.Duration) error {
	t := n.wall.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// raftTimeout converts ctx's deadline into a Raft enqueue timeout, falling
// back to ApplyTimeout.
func (n *Node) raftTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 0 {
			return d
		}
		return time.Millisecond
	}
	return n.cfg.ApplyTimeout
}
