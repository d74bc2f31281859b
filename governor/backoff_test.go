package governor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBackoff_Next(t *testing.T) {
	t.Parallel()
	policy := RestartPolicy{Initial: 500 * time.Millisecond, Max: 4 * time.Second, MaxRestarts: 5,
		Window: 10 * time.Minute, ResetAfter: time.Minute}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	t.Run("DoublesUpToMax", func(t *testing.T) {
		t.Parallel()
		b := backoff{policy: policy}
		var got []time.Duration
		for i := range 5 {
			d, ok := b.next(t0.Add(time.Duration(i)*time.Second), 0, false)
			require.True(t, ok)
			got = append(got, d)
		}
		require.Equal(t, []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}, got)
	})
	t.Run("FailsAfterMaxRestartsInWindow", func(t *testing.T) {
		t.Parallel()
		b := backoff{policy: policy}
		for i := range 5 {
			_, ok := b.next(t0.Add(time.Duration(i)*time.Second), 0, false)
			require.True(t, ok)
		}
		_, ok := b.next(t0.Add(6*time.Second), 0, false)
		require.False(t, ok, "the sixth crash within the window must fail the process")
	})
	t.Run("OldCrashesLeaveTheWindow", func(t *testing.T) {
		t.Parallel()
		b := backoff{policy: policy}
		for i := range 5 {
			_, ok := b.next(t0.Add(time.Duration(i)*time.Second), 0, false)
			require.True(t, ok)
		}
		_, ok := b.next(t0.Add(11*time.Minute), 0, false)
		require.True(t, ok)
	})
	t.Run("FaultedExitsWaitInitialAndAreNotCounted", func(t *testing.T) {
		t.Parallel()
		b := backoff{policy: policy}
		for i := range 20 {
			d, ok := b.next(t0.Add(time.Duration(i)*time.Second), 0, true)
			require.True(t, ok)
			require.Equal(t, policy.Initial, d)
		}
		d, ok := b.next(t0.Add(time.Minute), 0, false)
		require.True(t, ok)
		require.Equal(t, policy.Initial, d)
	})
	t.Run("LongRunResetsTheDelay", func(t *testing.T) {
		t.Parallel()
		b := backoff{policy: policy}
		for i := range 3 {
			_, _ = b.next(t0.Add(time.Duration(i)*time.Second), 0, false)
		}
		d, ok := b.next(t0.Add(5*time.Minute), 2*time.Minute, false)
		require.True(t, ok)
		require.Equal(t, policy.Initial, d)
	})
	t.Run("ResetForgetsCrashes", func(t *testing.T) {
		t.Parallel()
		b := backoff{policy: policy}
		for i := range 5 {
			_, _ = b.next(t0.Add(time.Duration(i)*time.Second), 0, false)
		}
		b.reset()
		d, ok := b.next(t0.Add(10*time.Second), 0, false)
		require.True(t, ok)
		require.Equal(t, policy.Initial, d)
	})
}
