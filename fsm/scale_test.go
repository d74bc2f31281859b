package fsm_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/trigger"
)

// The scale test measures what the performance targets (issue 5) depend on:
// live heap per idle schedule, apply cost per event, snapshot and restore
// time. It runs at 100k schedules in `go test` (a few seconds) and is
// skipped under -short. For the 1M numbers in DESIGN.md:
//
//	go test ./fsm -run TestFSM_Scale -v -fsm.scale=1000000 -fsm.runs=1000000 -timeout 20m
var (
	scaleSchedules = flag.Int("fsm.scale", 100_000, "schedules created by TestFSM_Scale")
	scaleRuns      = flag.Int("fsm.runs", 20_000, "runs (fired+accepted+succeeded) applied by TestFSM_Scale after the creates")
)

// benchID returns a 20-character schedule ID. IDs are scrambled so that
// inserts land all over the ordered index, as client-chosen IDs do.
func benchID(i int) string {
	x := uint64(i) + 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	x ^= x >> 31
	return fmt.Sprintf("bench-%014x", x>>8)
}

// benchSched is the "typical schedule" of the targets: handler "bench",
// method "run", params {"n":1}, cron "0 0 1 1 *" or every "1h", default
// policy.
func benchSched(i int) *fsm.Schedule {
	s := &fsm.Schedule{ID: benchID(i), Handler: "bench", Method: "run", Params: json.RawMessage(`{"n":1}`), Policy: fsm.DefaultPolicy}
	if i%2 == 0 {
		s.Trigger = trigger.Spec{Cron: "0 0 1 1 *"}
	} else {
		s.Trigger = trigger.Spec{Every: "1h"}
	}
	return s
}

// createEntry encodes the schedule.created batch for schedules [from, to).
func createEntry(tb testing.TB, from, to int) []byte {
	tb.Helper()
	events := make([]fsm.Event, 0, to-from)
	for i := from; i < to; i++ {
		events = append(events, fsm.Event{Type: fsm.ScheduleCreated, At: t0.Add(time.Duration(i) * time.Millisecond), Schedule: benchSched(i)})
	}
	data, err := fsm.Encode(events)
	require.NoError(tb, err)
	return data
}

// runEntry encodes the lifecycle (fired, accepted, succeeded) of one run for
// each schedule in [from, to), occurrence round.
func runEntry(tb testing.TB, from, to, round int) []byte {
	tb.Helper()
	events := make([]fsm.Event, 0, 3*(to-from))
	at := t0.Add(time.Duration(round+1) * time.Hour)
	for i := from; i < to; i++ {
		id := benchID(i)
		nominal := at.Add(time.Duration(i) * time.Microsecond)
		rid := fsm.RunID(id, nominal)
		events = append(events,
			fsm.Event{Type: fsm.RunFired, At: nominal, Run: &fsm.Run{ID: rid, ScheduleID: id, NominalAt: nominal, Trigger: fsm.TriggerScheduled}},
			fsm.Event{Type: fsm.RunAccepted, At: nominal, RunID: rid, Attempt: 1, Instance: "bench-1"},
			fsm.Event{Type: fsm.RunSucceeded, At: nominal.Add(time.Millisecond), RunID: rid, Attempt: 1, Result: json.RawMessage(`{"ok":true}`)})
	}
	data, err := fsm.Encode(events)
	require.NoError(tb, err)
	return data
}

// cpuTime is the process's user+system CPU time (all threads, so GC
// included). On a busy machine wall time overstates the cost; the scale
// test reports both.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// stopwatch measures wall and CPU time of a phase.
type stopwatch struct {
	wall, cpu time.Duration
	w0        time.Time
	c0        time.Duration
}

func (s *stopwatch) start() { s.w0, s.c0 = time.Now(), cpuTime() }
func (s *stopwatch) stop()  { s.wall += time.Since(s.w0); s.cpu += cpuTime() - s.c0 }
func (s *stopwatch) String() string {
	return fmt.Sprintf("%v wall, %v CPU", s.wall.Round(time.Millisecond), s.cpu.Round(time.Millisecond))
}
func (s *stopwatch) per(n int) string {
	return fmt.Sprintf("%d ns wall, %d ns CPU", s.wall.Nanoseconds()/int64(n), s.cpu.Nanoseconds()/int64(n))
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func TestFSM_Scale(t *testing.T) {
	if testing.Short() {
		t.Skip("scale measurement; runs without -short")
	}
	n, nRuns := *scaleSchedules, min(*scaleRuns, *scaleSchedules)
	const batch = 1000

	base := liveHeap()
	f := fsm.New()
	var apply stopwatch
	index := uint64(0)
	for from := 0; from < n; from += batch {
		data := createEntry(t, from, min(from+batch, n))
		index++
		apply.start()
		res := f.Apply(index, data)
		apply.stop()
		require.NoError(t, res[0].Err)
	}
	require.Equal(t, n, f.Count())
	heap := liveHeap() - base
	runtime.KeepAlive(f)

	// One List page right after a create: the sorted-ID cache used to be
	// rebuilt (a full sort) after every create or delete.
	var list stopwatch
	const listRounds = 20
	for i := range listRounds {
		index++
		data := createEntry(t, n+i, n+i+1)
		list.start()
		f.Apply(index, data)
		page, _ := f.List(benchID(i), 100)
		list.stop()
		require.Len(t, page, 100)
	}

	var runs stopwatch
	runEvents := 0
	for from := 0; from < nRuns; from += batch / 3 {
		data := runEntry(t, from, min(from+batch/3, nRuns), 0)
		index++
		runs.start()
		res := f.Apply(index, data)
		runs.stop()
		for _, r := range res {
			require.NoError(t, r.Err)
		}
		runEvents += len(res)
	}
	heapRuns := liveHeap() - base

	var capture, write, restore stopwatch
	capture.start()
	snap := f.Snapshot()
	capture.stop()
	write.start()
	size, err := snap.WriteTo(io.Discard)
	write.stop()
	require.NoError(t, err)
	var buf bytes.Buffer
	buf.Grow(int(size))
	_, err = snap.WriteTo(&buf)
	require.NoError(t, err)

	g := fsm.New()
	restore.start()
	require.NoError(t, g.Restore(bytes.NewReader(buf.Bytes())))
	restore.stop()
	require.Equal(t, f.Digest(), g.Digest())
	require.Equal(t, f.Count(), g.Count())

	t.Logf("schedules=%d: live heap %d B/schedule; apply schedule.created (batches of %d): %s per event",
		n, heap/uint64(n), batch, apply.per(n))
	t.Logf("apply a 1-schedule entry + List page of 100: %s per round", list.per(listRounds))
	if runEvents > 0 {
		t.Logf("runs=%d: apply fired+accepted+succeeded: %s per event; live heap +%d B/finished run",
			nRuns, runs.per(runEvents), (heapRuns-heap)/uint64(nRuns))
	}
	t.Logf("snapshot of %d schedules + %d runs: capture %s; WriteTo %s (%d bytes); Restore %s",
		n, nRuns, &capture, &write, buf.Len(), &restore)
}
