package fsm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// forgeSnapshot frames records into a version-2 snapshot with a correct
// digest and checksum, so that only the semantic checks can reject it.
func forgeSnapshot(scheds, nodes, runs, handlers [][]byte) []byte {
	b := append([]byte(nil), snapMagic...)
	for _, v := range []int{7, len(scheds), len(nodes), len(runs), len(handlers)} {
		b = binary.AppendUvarint(b, uint64(v))
	}
	var digest [sha256.Size]byte
	for i, sec := range [][][]byte{scheds, nodes, runs, handlers} {
		kind := []byte{kindSchedule, kindNode, kindRun, kindHandler}[i]
		for _, rec := range sec {
			b = appendRaw(b, rec)
			xorInto(&digest, sha256.Sum256(append([]byte{kind}, rec...)))
		}
	}
	b = append(b, digest[:]...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

func TestSnapshot_Restore_Forged(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	sched := func(id string) *Schedule {
		return &Schedule{ID: id, Handler: "h", Method: "m", Params: json.RawMessage(`{"a":1}`), Policy: DefaultPolicy,
			Version: 1, CreatedAt: t0, UpdatedAt: t0}
	}
	run := func(sid string, min int) *Run {
		nominal := t0.Add(time.Duration(min) * time.Minute)
		return &Run{ID: RunID(sid, nominal), ScheduleID: sid, NominalAt: nominal, DueAt: nominal, FiredAt: nominal,
			Trigger: TriggerScheduled, Attempt: 1, Status: StatusFired}
	}
	enc := func(s *Schedule) []byte { return appendSchedule(nil, s) }
	encRun := func(r *Run) []byte { return appendRun(nil, r) }

	// A valid forged snapshot restores: the helper itself is right.
	f := New()
	require.NoError(t, f.Restore(bytes.NewReader(forgeSnapshot([][]byte{enc(sched("a")), enc(sched("b"))}, nil, [][]byte{encRun(run("a", 1)), encRun(run("b", 2))}, nil))))
	require.Equal(t, 2, f.Count())
	require.Len(t, f.ActiveRuns(), 2)

	spaced := sched("a")
	spaced.Params = json.RawMessage(`{"a": 1}`)
	badUTF8 := sched("a")
	badUTF8.Handler = "\xff"
	odd := sched("a")
	odd.StartAt = new(time.Time)
	*odd.StartAt = t0.In(time.FixedZone("", 3601))
	far := sched("a")
	far.EndAt = new(time.Time)
	*far.EndAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	dupRun := run("b", 3)
	dupRun.ID = run("a", 1).ID
	for name, snap := range map[string][]byte{
		"DuplicateSchedule":    forgeSnapshot([][]byte{enc(sched("a")), enc(sched("a"))}, nil, nil, nil),
		"SchedulesOutOfOrder":  forgeSnapshot([][]byte{enc(sched("b")), enc(sched("a"))}, nil, nil, nil),
		"RunOfUnknownSchedule": forgeSnapshot([][]byte{enc(sched("a"))}, nil, [][]byte{encRun(run("b", 1))}, nil),
		"RunsOutOfOrder":       forgeSnapshot([][]byte{enc(sched("a"))}, nil, [][]byte{encRun(run("a", 2)), encRun(run("a", 1))}, nil),
		"DuplicateRunID":       forgeSnapshot([][]byte{enc(sched("a")), enc(sched("b"))}, nil, [][]byte{encRun(run("a", 1)), encRun(dupRun)}, nil),
		"NonCanonicalParams":   forgeSnapshot([][]byte{enc(spaced)}, nil, nil, nil),
		"InvalidUTF8":          forgeSnapshot([][]byte{enc(badUTF8)}, nil, nil, nil),
		"OffsetWithSeconds":    forgeSnapshot([][]byte{enc(odd)}, nil, nil, nil),
		"YearBeyondJSON":       forgeSnapshot([][]byte{enc(far)}, nil, nil, nil),
		"TrailingBytes":        forgeSnapshot([][]byte{append(enc(sched("a")), 0)}, nil, nil, nil),
		"NonMinimalVarint":     forgeSnapshot([][]byte{append([]byte{0x81, 0x00, 'a'}, enc(sched("a"))[2:]...)}, nil, nil, nil),
		"EmptyID":              forgeSnapshot([][]byte{enc(sched(""))}, nil, nil, nil),
		"EmptyRecord":          forgeSnapshot([][]byte{{}}, nil, nil, nil),
		"DuplicateNode": forgeSnapshot(nil, [][]byte{appendNode(nil, &NodeInfo{ID: "n"}), appendNode(nil, &NodeInfo{ID: "n"})},
			nil, nil),
		"DuplicateHandler": forgeSnapshot(nil, nil, nil,
			[][]byte{appendHandler(nil, &HandlerInfo{Instance: "i"}), appendHandler(nil, &HandlerInfo{Instance: "i"})}),
		"HandlerMethodsCount": forgeSnapshot(nil, nil, nil, [][]byte{{0, 1, 'i', 0xff, 0x01}}),
	} {
		t.Run(name, func(t *testing.T) {
			g := New()
			err := g.Restore(bytes.NewReader(snap))
			require.ErrorIs(t, err, ErrCorrupt)
			require.Equal(t, 0, g.Count())
		})
	}
}

type failingWriter struct{ left int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		n := w.left
		w.left = 0
		return n, errors.New("disk full")
	}
	w.left -= len(p)
	return len(p), nil
}

func TestSnapshot_WriteTo_Parallel(t *testing.T) {
	f := New()
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	var events []Event
	for i := range 20_000 {
		id := fmt.Sprintf("s%06d", i)
		events = append(events, Event{Type: ScheduleCreated, At: t0, Schedule: &Schedule{ID: id, Handler: "h", Method: "m", Policy: DefaultPolicy}})
		if i%2 == 0 {
			events = append(events, Event{Type: RunFired, At: t0, Run: &Run{ID: id + "@1", ScheduleID: id, NominalAt: t0.Add(time.Duration(i)), Trigger: TriggerScheduled}})
		}
	}
	data, err := Encode(events)
	require.NoError(t, err)
	f.Apply(1, data)
	var seq, par bytes.Buffer
	_, err = f.Snapshot().writeTo(&seq, 1)
	require.NoError(t, err)
	n, err := f.Snapshot().writeTo(&par, 3)
	require.NoError(t, err)
	require.Equal(t, int64(par.Len()), n)
	require.Equal(t, seq.Bytes(), par.Bytes(), "the parallel encoder writes the same bytes")
	g := New()
	require.NoError(t, g.Restore(&par))
	require.Equal(t, f.Digest(), g.Digest())

	for _, limit := range []int{0, 100, 300 << 10, seq.Len() - 3} {
		for _, workers := range []int{1, 3} {
			w := &failingWriter{left: limit}
			n, err := f.Snapshot().writeTo(w, workers)
			require.Error(t, err)
			require.LessOrEqual(t, n, int64(limit))
		}
	}
}
