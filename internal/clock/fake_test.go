package clock

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFake_NewTimer(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t.Run("FiresOnAdvance", func(t *testing.T) {
		f := NewFake(start)
		tm := f.NewTimer(time.Second)
		f.Advance(999 * time.Millisecond)
		select {
		case <-tm.C():
			t.Fatal("fired early")
		default:
		}
		f.Advance(time.Millisecond)
		require.Equal(t, start.Add(time.Second), <-tm.C())
	})
	t.Run("StopAndReset", func(t *testing.T) {
		f := NewFake(start)
		tm := f.NewTimer(time.Second)
		require.True(t, tm.Stop())
		f.Advance(2 * time.Second)
		select {
		case <-tm.C():
			t.Fatal("stopped timer fired")
		default:
		}
		require.False(t, tm.Reset(time.Second))
		f.Advance(time.Second)
		<-tm.C()
	})
	t.Run("ZeroDurationFiresAtOnce", func(t *testing.T) {
		f := NewFake(start)
		<-f.NewTimer(0).C()
		require.Equal(t, time.Duration(0), f.Since(start))
	})
}
