package cluster

import (
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/fsm"
)

// TestBindShutdown checks that bindShutdown reaches the ShutdownCh field of
// the futures hashicorp/raft really returns, so a raft upgrade that renames
// or moves it fails here instead of bringing back hashicorp/raft#498.
func TestBindShutdown(t *testing.T) {
	t.Parallel()
	conf := raft.DefaultConfig()
	conf.LocalID = "solo"
	conf.Logger = newRaftLogger(slog.New(slog.DiscardHandler))
	_, trans := raft.NewInmemTransport("solo")
	store := raft.NewInmemStore()
	r, err := raft.NewRaft(conf, newFSMAdapter(fsm.New(), slog.New(slog.DiscardHandler), newMetrics(nil), newEntrySizes(0)), store, store, raft.NewInmemSnapshotStore(), trans)
	require.NoError(t, err)
	defer func() { require.NoError(t, r.Shutdown().Error()) }()

	down := make(chan struct{})
	for name, f := range map[string]raft.Future{
		"Apply":        r.Apply([]byte("x"), time.Second),
		"Barrier":      r.Barrier(time.Second),
		"AddVoter":     r.AddVoter("b", "b", 0, time.Second),
		"VerifyLeader": r.VerifyLeader(),
		"RemoveServer": r.RemoveServer("b", 0, time.Second),
	} {
		bindShutdown(f, down)
		field := reflect.ValueOf(f).Elem().FieldByName("ShutdownCh")
		require.True(t, field.IsValid(), name)
		require.Equal(t, down, field.Interface().(chan struct{}), name)
		require.ErrorIs(t, f.Error(), raft.ErrNotLeader, name) // a resolved future keeps its answer
	}

	t.Run("UnresolvedFutureReturnsOnShutdown", func(t *testing.T) {
		f := bindShutdown(&fakeFuture{}, down)
		close(down)
		require.ErrorIs(t, f.Error(), raft.ErrRaftShutdown)
	})

	t.Run("ErrorFutureIsLeftAlone", func(t *testing.T) {
		require.NotPanics(t, func() { bindShutdown(raft.Future(nil), down) })
	})
}

// fakeFuture mimics a raft future that nothing will ever resolve: its
// Error() waits like raft's deferError does.
type fakeFuture struct {
	ShutdownCh chan struct{}
}

func (f *fakeFuture) Error() error {
	select {
	case <-f.ShutdownCh:
		return raft.ErrRaftShutdown
	case <-make(chan struct{}):
		return nil
	}
}
