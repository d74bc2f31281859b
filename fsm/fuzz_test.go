package fsm_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/fsm"
)

// FuzzDecodeApply feeds arbitrary entries through decode → apply → snapshot
// → restore: nothing may panic, and the restored state must have the digest
// of the state it was taken from.
func FuzzDecodeApply(f *testing.F) {
	for _, events := range scenarios {
		data, err := fsm.Encode(events)
		require.NoError(f, err)
		f.Add(data, data)
	}
	f.Add([]byte{fsm.EnvelopeVersion, '{'}, []byte{})
	f.Add([]byte(`{"events":[]}`), []byte{fsm.EnvelopeVersion})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		m := fsm.New()
		for i, entry := range [][]byte{a, b} {
			for _, r := range m.Apply(uint64(i+1), entry) {
				require.Equal(t, uint64(i+1), r.Index)
			}
		}
		var buf bytes.Buffer
		_, err := m.Snapshot().WriteTo(&buf)
		require.NoError(t, err)
		r := fsm.New()
		require.NoError(t, r.Restore(&buf))
		require.Equal(t, m.Digest(), r.Digest())
		require.Equal(t, m.Count(), r.Count())
		require.Equal(t, m.AppliedIndex(), r.AppliedIndex())
	})
}

// FuzzRestore feeds arbitrary bytes to Restore: errors are fine, panics are not.
func FuzzRestore(f *testing.F) {
	f.Add([]byte(`{"v":1,"index":1,"schedules":1,"nodes":0}` + "\n" + `{"s":{"id":"a"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m := fsm.New()
		if err := m.Restore(bytes.NewReader(data)); err != nil {
			return
		}
		var buf bytes.Buffer
		_, err := m.Snapshot().WriteTo(&buf)
		require.NoError(t, err)
	})
}
