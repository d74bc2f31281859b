package handlerclient

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/wire"
)

func TestLedger_Retire(t *testing.T) {
	t.Parallel()
	finished := func(l *ledger, id string) *run {
		r := &run{id: id, state: runRunning}
		l.put(r)
		l.finish(r, wire.Message{Type: wire.TypeResult, RunID: id})
		return r
	}
	t.Run("ForgetsOldestBeyondWindow", func(t *testing.T) {
		t.Parallel()
		l := newLedger(2)
		for _, id := range []string{"a", "b", "c"} {
			l.retire(finished(l, id))
		}
		require.Nil(t, l.get("a"))
		require.Equal(t, runAcked, l.get("b").state)
		require.Equal(t, runAcked, l.get("c").state)
		require.Empty(t, l.pending)
	})
	t.Run("KeepsPendingAndRestartedRuns", func(t *testing.T) {
		t.Parallel()
		l := newLedger(2)
		l.retire(finished(l, "a"))
		again := &run{id: "a", state: runRunning} // a retry of a after its ack
		l.put(again)
		pending := finished(l, "p") // never acknowledged: not in the window
		l.retire(finished(l, "b"))
		l.retire(finished(l, "c")) // evicts a's old slot
		require.Same(t, again, l.get("a"))
		require.Same(t, pending, l.get("p"))
		require.Len(t, l.pending, 1)
	})
}

func TestBackoff_Next(t *testing.T) {
	t.Parallel()
	var b backoff
	want := MinBackoff
	for range 10 {
		d := b.next()
		require.GreaterOrEqual(t, d, want)
		require.LessOrEqual(t, d, want+want/5)
		want = min(2*want, MaxBackoff)
	}
	b.reset()
	require.Less(t, b.next(), MinBackoff*6/5+time.Nanosecond)
}
