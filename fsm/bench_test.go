package fsm_test

import (
	"bytes"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/fsm"
)

// Benchmarks of the FSM hot paths (make bench). Per-event numbers are
// reported as ns/event; the budgets that matter are noted per benchmark.

const benchStateSize = 100_000

var benchState struct {
	once sync.Once
	f    *fsm.FSM
	snap []byte
}

// benchFSM returns a shared FSM holding benchStateSize schedules (half of
// them with one finished run) and its snapshot. Callers must not modify it.
func benchFSM(b *testing.B) (*fsm.FSM, []byte) {
	b.Helper()
	benchState.once.Do(func() {
		f := fsm.New()
		index := uint64(0)
		for from := 0; from < benchStateSize; from += 1000 {
			index++
			f.Apply(index, createEntry(b, from, from+1000))
		}
		for from := 0; from < benchStateSize/2; from += 333 {
			index++
			f.Apply(index, runEntry(b, from, min(from+333, benchStateSize/2), 0))
		}
		var buf bytes.Buffer
		_, err := f.Snapshot().WriteTo(&buf)
		require.NoError(b, err)
		benchState.f, benchState.snap = f, buf.Bytes()
	})
	return benchState.f, benchState.snap
}

// BenchmarkFSM_Apply measures Apply (decode included) of 1000-event
// entries. Budget: a schedule.created ≤ 5 µs/event so that 1M creates
// through the API fit in 2 minutes on every node.
func BenchmarkFSM_Apply(b *testing.B) {
	b.Run("CreateBatch", func(b *testing.B) {
		f := fsm.New()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			data := createEntry(b, i*1000, (i+1)*1000)
			b.StartTimer()
			f.Apply(uint64(i+1), data)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/event")
	})
	b.Run("RunLifecycleBatch", func(b *testing.B) {
		// 1000 schedules; each iteration fires, accepts and completes one
		// run for 333 of them, so retention (100 runs per schedule) is
		// reached after a few hundred iterations.
		f := fsm.New()
		f.Apply(1, createEntry(b, 0, 1000))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			from := (i % 3) * 333
			data := runEntry(b, from, from+333, i)
			b.StartTimer()
			for _, r := range f.Apply(uint64(i+2), data) {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*999), "ns/event")
	})
}

func BenchmarkEncode(b *testing.B) {
	for name, data := range map[string][]byte{"CreateBatch": createEntry(b, 0, 1000), "RunBatch": runEntry(b, 0, 333, 0)} {
		events, err := fsm.Decode(data)
		require.NoError(b, err)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := fsm.Encode(events); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for name, data := range map[string][]byte{"CreateBatch": createEntry(b, 0, 1000), "RunBatch": runEntry(b, 0, 333, 0)} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := fsm.Decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSnapshot_WriteTo encodes 100k schedules and 50k runs. Budget:
// 1M schedules in ≤ 2 s on one core.
func BenchmarkSnapshot_WriteTo(b *testing.B) {
	f, _ := benchFSM(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Snapshot().WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFSM_Restore decodes the same state. Budget: 1M schedules in
// ≤ 2 s on a 2-core machine.
func BenchmarkFSM_Restore(b *testing.B) {
	_, snap := benchFSM(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(snap)))
	for b.Loop() {
		if err := fsm.New().Restore(bytes.NewReader(snap)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFSM_List pages through 100k schedules 100 at a time.
func BenchmarkFSM_List(b *testing.B) {
	f, _ := benchFSM(b)
	b.Run("Page", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			page, _ := f.List(benchID(i), 100)
			if len(page) == 0 {
				b.Fatal("empty page")
			}
		}
	})
	b.Run("PageAfterCreate", func(b *testing.B) {
		// A create between pages (bulk creation while a dashboard lists).
		g := fsm.New()
		for from := 0; from < benchStateSize; from += 1000 {
			g.Apply(uint64(from/1000+1), createEntry(b, from, from+1000))
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			data := createEntry(b, benchStateSize+i, benchStateSize+i+1)
			b.StartTimer()
			g.Apply(uint64(1000+i), data)
			g.List(benchID(i), 100)
		}
	})
	b.Run("Runs", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if page, _ := f.Runs(fsm.RunFilter{}, "", 100); len(page) == 0 {
				b.Fatal("empty page")
			}
		}
	})
	b.Run("ActiveRuns", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f.ActiveRuns()
		}
	})
}
