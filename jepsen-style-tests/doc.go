// Package jepsen is ScheduleZero's Jepsen-style test suite: it runs a real
// multi-process cluster through governor.ProcessGovernor, drives a
// concurrent CRUD workload against it while nemeses inject faults (SIGKILL,
// SIGTERM, SIGSTOP, proxy partitions, membership changes, rolling
// restarts), records a history, and verifies guarantees 1 and 6 of
// DESIGN.md with pure checkers: linearizable schedule CRUD (porcupine), no
// acknowledged write lost and no phantom, replica convergence, and
// liveness after the final heal.
//
// It is its own Go module (like hashicorp/raft's fuzzy/) so that porcupine
// and long runs stay out of the main module. docs/testing.md explains how
// to run it, replay a seed and read a report.
//
// # Usage
//
//	rep, err := jepsen.Run(ctx, jepsen.Config{Seed: 7, Duration: time.Minute})
//	if err != nil { ... }          // the run could not be carried out
//	if !rep.Passed() { ... }       // a checker failed; evidence in rep.Dir
//
// # Extending
//
// A Checker is a pure function of a *History (Name, Check). New workloads
// (timed schedules, handler ledgers) add their records to History and their
// checkers to DefaultCheckers; a Nemesis is a small Start/Stop type that
// records its actions through the env.
package jepsen
