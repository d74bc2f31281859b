// Package dispatch runs the leader's timers and delivers due jobs to
// handler processes. It runs on every node: one goroutine owns the
// transport.Listener; on a follower it answers handlers with a redirect to
// the leader, on the leader (after the post-election barrier reported by
// LeadershipChanges) a single leader loop owns all scheduling state: the
// timer heap, the tracked active runs and the handler registry.
//
// The loop is event-driven: it follows the FSM change feed
// (fsm.ChangesSince) instead of rescanning the state, keeps every deadline
// in an indexed heap, and sleeps until the earliest one — idle, it wakes
// once per heartbeat interval whatever the number of schedules. Commits
// are pipelined: batches of events are proposed from their own goroutines
// while the loop goes on, and their callbacks run back on the loop in
// submission order.
//
// Every fire decision is committed through Raft (cluster Propose) before
// anything is sent, and every message to a handler carries the leader's
// term; attempts fence results (fsm.ErrStale). With Config.Lookahead the
// decision is committed up to that long before the due time, so the
// commit is off the fire path; the run is still sent at its due time,
// never before. See DESIGN.md.
package dispatch
