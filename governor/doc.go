// Package governor runs a local ScheduleZero cluster as real OS processes
// and injects faults into it. It owns the process model (one supervised
// child per node and per handler), the restart policy, the directory a
// cluster lives in (state.json, governor.lock, timeline.jsonl, one
// sub-directory per process), the control API other shells use, and the
// userspace TCP proxies that implement network partitions. It is used by
// `szgovernor`, by development setups and by every multi-process test.
//
// # Usage
//
//	g, err := governor.New(governor.Config{
//		Dir:         "./sz-local",
//		NodeBinary:  "bin/schedulezero",
//		Nodes:       3,
//		RaftProfile: "test",
//		Logger:      logger,
//	})
//	if err != nil { ... }
//	if err := g.Start(ctx); err != nil { ... } // every node answers /readyz
//	defer g.Stop(context.Background())
//
//	st, _ := g.Status(ctx)
//	_ = g.Partition(ctx, [][]string{{"n1"}, {"n2", "n3"}})
//	_ = g.Heal(ctx)
//	_ = g.Kill(ctx, "n2") // restarted after the back-off
//
// From another process, Dial(dir) returns a Remote that drives the running
// governor through its control API, StatusOf(ctx, dir) reports the status
// (falling back to state.json when the governor is gone) and Down(ctx, dir,
// opts) stops everything, with or without a live governor.
//
// # Addresses
//
// Node i binds 127.0.1.i (HTTP B+i, Raft B+100+i, ZMQ B+200+i for base port
// B) and advertises the governor's proxies on 127.0.2.i; handler h reaches
// node i through its own proxy on 127.0.3.h. The proxies tell callers apart
// by source address, which is why a node must dial its peers from its bind
// address. DESIGN.md explains the mechanism, its limits and the
// alternatives that were rejected.
//
// The package is Linux-first: Pdeathsig, /proc/<pid>/cmdline and
// CLOCK_MONOTONIC are Linux facilities; elsewhere a crashed governor may
// leave children behind and the state-file fallback signals nothing.
package governor
