package cluster

import (
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

// pipelinePair returns a leader-side transport with pipelining (2 RPCs in
// flight, the library default) and the address of a follower-side
// transport that answers every AppendEntries with Success=false, as a
// follower that rejects an append does.
func pipelinePair(t *testing.T) (*raft.NetworkTransport, raft.ServerAddress) {
	t.Helper()
	leader, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, time.Second, io.Discard)
	require.NoError(t, err)
	follower, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, time.Second, io.Discard)
	require.NoError(t, err)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case rpc := <-follower.Consumer():
				rpc.Respond(&raft.AppendEntriesResponse{Term: 1, Success: false}, nil)
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		_ = leader.Close()
		_ = follower.Close()
	})
	return leader, follower.LocalAddr()
}

// sendWithin reports whether one pipelined AppendEntries returns within d.
func sendWithin(p raft.AppendPipeline, d time.Duration) bool {
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		_, _ = p.AppendEntries(&raft.AppendEntriesRequest{Term: 1}, new(raft.AppendEntriesResponse))
	}()
	select {
	case <-returned:
		return true
	case <-time.After(d):
		return false
	}
}

// TestSafePipeline reproduces the v1.7.3 pipeline wedge with the real TCP
// transport and shows that safePipeline avoids it: after the consumer stops
// reading (Raft's pipelineDecode returns on Success=false), further sends
// must still return and Close must not hang.
func TestSafePipeline(t *testing.T) {
	t.Run("RawPipelineWedges", func(t *testing.T) {
		trans, target := pipelinePair(t)
		p, err := trans.AppendEntriesPipeline("f", target)
		require.NoError(t, err)
		require.True(t, sendWithin(p, time.Second))
		wedged := false
		for range 4 {
			if !sendWithin(p, 300*time.Millisecond) {
				wedged = true
				break
			}
		}
		require.True(t, wedged, "the library's pipeline no longer wedges; safePipeline may be unnecessary")
		require.NoError(t, p.Close()) // releases the parked send
	})
	t.Run("SafePipelineDoesNotWedge", func(t *testing.T) {
		trans, target := pipelinePair(t)
		p, err := (&transport{trans}).AppendEntriesPipeline("f", target)
		require.NoError(t, err)
		require.True(t, sendWithin(p, time.Second))
		select {
		case f := <-p.Consumer():
			require.NoError(t, f.Error())
			require.False(t, f.Response().Success)
		case <-time.After(time.Second):
			t.Fatal("no response")
		}
		// The consumer is gone now, as Raft's pipelineDecode would be.
		for range 8 {
			require.True(t, sendWithin(p, time.Second), "a send parked")
		}
		closed := make(chan error, 1)
		go func() { closed <- p.Close() }()
		select {
		case err := <-closed:
			require.NoError(t, err)
		case <-time.After(time.Second):
			t.Fatal("Close hung")
		}
		require.NoError(t, p.Close(), "Close is idempotent")
	})
	t.Run("NoPipelineWhenOff", func(t *testing.T) {
		trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream: mustStream(t), MaxPool: 1, Timeout: time.Second, MaxRPCsInFlight: 1,
		})
		t.Cleanup(func() { _ = trans.Close() })
		_, err := (&transport{trans}).AppendEntriesPipeline("f", "127.0.0.1:1")
		require.ErrorIs(t, err, raft.ErrPipelineReplicationNotSupported)
	})
}

func mustStream(t *testing.T) *streamLayer {
	t.Helper()
	s, err := newStreamLayer("127.0.0.1:0", nil)
	require.NoError(t, err)
	return s
}
