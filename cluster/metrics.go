package cluster

import (
	"errors"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics is the node's Prometheus collector. Gauges are read from Raft and
// the FSM at scrape time (no polling goroutine); the proposal counter and
// the batch and apply histograms are updated on the write path, the
// snapshot and restore metrics by the FSM adapter.
type metrics struct {
	n *Node

	proposals        *prometheus.CounterVec
	batchEvents      prometheus.Histogram
	applyDuration    prometheus.Histogram
	snapshotPersist  prometheus.Histogram
	restoreDuration  prometheus.Histogram
	snapshotInstalls prometheus.Counter

	state, term, commitIndex, appliedIndex, lastIndex *prometheus.Desc
	lastContact, isLeader, members, schedules         *prometheus.Desc
}

// Proposal outcomes, the values of sz_raft_proposals_total{result}.
const (
	resultOK        = "ok"
	resultNotLeader = "not_leader"
	resultNoLeader  = "no_leader"
	resultTimeout   = "timeout"
	resultStopped   = "stopped"
	resultError     = "error"
)

var _ prometheus.Collector = (*metrics)(nil)

var raftStates = []raft.RaftState{raft.Follower, raft.Candidate, raft.Leader, raft.Shutdown}

func newMetrics(n *Node) *metrics {
	gauge := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &metrics{
		n: n,
		proposals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sz_raft_proposals_total", Help: "Propose calls by outcome.",
		}, []string{"result"}),
		batchEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sz_raft_batch_events", Help: "Events per Raft log entry proposed by this node.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11), // 1 … 1024
		}),
		applyDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sz_raft_apply_duration_seconds", Help: "Time from handing an entry to Raft until it is committed and applied on the leader.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5 ms … 4 s
		}),
		snapshotPersist: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sz_raft_snapshot_persist_seconds", Help: "Time to encode a Raft snapshot of the FSM and write and sync it to the snapshot store.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 13), // 10 ms … 41 s
		}),
		restoreDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sz_raft_restore_seconds", Help: "Time to restore the FSM from a snapshot (start-up, installed from the leader, or user restore).",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 13),
		}),
		snapshotInstalls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sz_raft_snapshot_installs_total", Help: "Snapshots this node installed from the leader (InstallSnapshot) instead of replaying the log.",
		}),
		state:        gauge("sz_raft_state", "1 for the node's current Raft state.", "state"),
		term:         gauge("sz_raft_term", "Current Raft term."),
		commitIndex:  gauge("sz_raft_commit_index", "Raft commit index."),
		appliedIndex: gauge("sz_raft_applied_index", "Highest Raft index the local FSM reflects."),
		lastIndex:    gauge("sz_raft_last_index", "Last index in the local log or snapshot."),
		lastContact:  gauge("sz_raft_last_contact_seconds", "Seconds since this follower last heard from the leader (0 on the leader, -1 if never)."),
		isLeader:     gauge("sz_raft_is_leader", "1 if this node is the Raft leader."),
		members:      gauge("sz_cluster_members", "Servers in the latest Raft configuration by suffrage.", "suffrage"),
		schedules:    gauge("sz_schedules", "Schedules in the local FSM."),
	}
}

// countProposal records the outcome of one Propose call.
func (m *metrics) countProposal(err error) {
	result := resultOK
	switch {
	case err == nil:
	case errors.Is(err, ErrNotLeader):
		result = resultNotLeader
	case errors.Is(err, ErrNoLeader):
		result = resultNoLeader
	case errors.Is(err, ErrTimeout):
		result = resultTimeout
	case errors.Is(err, ErrStopped):
		result = resultStopped
	default:
		result = resultError
	}
	m.proposals.WithLabelValues(result).Inc()
}

// collectors are the metrics updated as things happen.
func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.proposals, m.batchEvents, m.applyDuration, m.snapshotPersist, m.restoreDuration, m.snapshotInstalls}
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
	for _, d := range []*prometheus.Desc{m.state, m.term, m.commitIndex, m.appliedIndex, m.lastIndex,
		m.lastContact, m.isLeader, m.members, m.schedules} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	g(m.schedules, float64(m.n.fsm.Count()))
	r, err := m.n.running()
	if err != nil {
		for _, s := range raftStates {
			g(m.state, boolFloat(s == raft.Shutdown), stateLabel(s))
		}
		return
	}
	current := r.State()
	for _, s := range raftStates {
		g(m.state, boolFloat(s == current), stateLabel(s))
	}
	g(m.term, float64(r.CurrentTerm()))
	g(m.commitIndex, float64(r.CommitIndex()))
	g(m.appliedIndex, float64(m.n.appliedIndex(r)))
	g(m.lastIndex, float64(r.LastIndex()))
	g(m.isLeader, boolFloat(current == raft.Leader))
	contact := -1.0
	if current == raft.Leader {
		contact = 0
	} else if lc := r.LastContact(); !lc.IsZero() {
		contact = m.n.wall.Since(lc).Seconds()
	}
	g(m.lastContact, contact)
	voters, nonvoters := 0, 0
	if conf, _, err := m.n.configuration(r); err == nil {
		for _, s := range conf.Servers {
			if s.Suffrage == raft.Voter {
				voters++
			} else {
				nonvoters++
			}
		}
	}
	g(m.members, float64(voters), SuffrageVoter)
	g(m.members, float64(nonvoters), SuffrageNonvoter)
}

func stateLabel(s raft.RaftState) string {
	switch s {
	case raft.Leader:
		return "leader"
	case raft.Candidate:
		return "candidate"
	case raft.Follower:
		return "follower"
	default:
		return stateShutdown
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
