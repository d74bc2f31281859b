// Package cluster replicates ScheduleZero's state machine (package fsm)
// through Raft. It is the only package that imports hashicorp/raft: it owns
// the log and snapshot stores (raft-boltdb/v2, fsync on), the TCP transport,
// bootstrap, membership (join as non-voter, promotion once caught up, leave,
// remove), leadership transfer on graceful stop, leadership notifications,
// the batching of proposed events into log entries, and the linearizable
// read path.
//
// A Node is created with New, started with Start and stopped with Stop:
//
//	n, err := cluster.New(cluster.Config{
//		NodeID:        "n1",
//		DataDir:       "/var/lib/schedulezero",
//		RaftBind:      "127.0.0.1:4243",
//		HTTPAdvertise: "127.0.0.1:8888",
//		ZMQAdvertise:  "tcp://127.0.0.1:4242",
//		Bootstrap:     true,
//		Logger:        logger,
//	})
//	if err != nil { ... }
//	if err := n.Start(ctx); err != nil { ... }
//	defer n.Stop(context.Background())
//	results, err := n.Propose(ctx, fsm.Event{Type: fsm.ScheduleCreated, Schedule: s})
//
// Writes go through Propose on the leader; followers answer ErrNotLeader and
// the API layer forwards to Leader().HTTPAddr. Reads of the local FSM are
// stale by design; LinearizableRead makes them linearizable on the leader.
// Leader-only services (dispatch/) follow LeadershipChanges. BenchCommits
// measures the raw single-entry commit rate that batching is compared
// against.
//
// DESIGN.md in this directory explains the choices and the rejected
// alternatives.
package cluster
