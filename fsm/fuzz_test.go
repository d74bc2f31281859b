package fsm_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/fsm"
)

// FuzzDecodeApply feeds arbitrary entries through decode → apply → snapshot
// → restore, in both snapshot formats: nothing may panic, and the restored
// state must have the digest of the state it was taken from.
func FuzzDecodeApply(f *testing.F) {
	for _, events := range scenarios {
		data, err := fsm.Encode(events)
		require.NoError(f, err)
		f.Add(data, data)
	}
	fixture, err := fsm.Encode(v1FixtureEvents())
	require.NoError(f, err)
	f.Add(fixture, []byte{fsm.EnvelopeVersion})
	f.Add([]byte{fsm.EnvelopeVersion, '{'}, []byte{})
	f.Add([]byte(`{"events":[]}`), []byte{fsm.EnvelopeVersion})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		m := fsm.New()
		for i, entry := range [][]byte{a, b} {
			for _, r := range m.Apply(uint64(i+1), entry) {
				require.Equal(t, uint64(i+1), r.Index)
			}
		}
		for _, snap := range [][]byte{snapshotBytes(t, m), jsonSnapshot(t, m)} {
			r := fsm.New()
			require.NoError(t, r.Restore(bytes.NewReader(snap)))
			require.Equal(t, m.Digest(), r.Digest())
			require.Equal(t, m.Count(), r.Count())
			require.Equal(t, m.AppliedIndex(), r.AppliedIndex())
			require.Equal(t, snapshotBytes(t, m), snapshotBytes(t, r))
		}
	})
}

// FuzzRestore feeds arbitrary bytes to Restore (both formats): errors are
// fine, panics are not, and whatever restores snapshots back to the same
// bytes.
func FuzzRestore(f *testing.F) {
	f.Add([]byte(`{"v":1,"index":1,"schedules":1,"nodes":0}` + "\n" + `{"s":{"id":"a"}}`))
	v1, err := os.ReadFile("testdata/v1.snapshot")
	require.NoError(f, err)
	f.Add(v1)
	f.Add(snapshotBytes(f, replay(f, v1FixtureEvents())))
	for _, events := range scenarios {
		f.Add(snapshotBytes(f, replay(f, events)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := fsm.New()
		if err := m.Restore(bytes.NewReader(data)); err != nil {
			return
		}
		snap := snapshotBytes(t, m)
		r := fsm.New()
		require.NoError(t, r.Restore(bytes.NewReader(snap)))
		require.Equal(t, m.Digest(), r.Digest())
		require.Equal(t, snap, snapshotBytes(t, r))
		require.NoError(t, r.Restore(bytes.NewReader(jsonSnapshot(t, m))))
		require.Equal(t, m.Digest(), r.Digest())
	})
}
