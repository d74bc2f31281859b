// Package fsm is ScheduleZero's event-sourced state machine: the schedules
// and cluster members that every node holds, and the events that change
// them.
//
// The package is pure: no I/O besides the io.Reader/io.Writer handed to
// Snapshot and Restore, no clock (the leader stamps Event.At), no
// randomness, and no Raft import (WriteTo and Restore spread encoding and
// decoding over goroutines; the bytes and the state do not depend on
// their scheduling). cluster/ feeds it committed log entries;
// everything else reads it. See DESIGN.md in this directory for the event
// model and why the state is shaped the way it is.
//
//	f := fsm.New()
//	entry, _ := fsm.Encode([]fsm.Event{{Type: fsm.ScheduleCreated, At: now, Schedule: s}})
//	results := f.Apply(1, entry)   // one Result per event
//	s, ok := f.Get("nightly-report")
package fsm
