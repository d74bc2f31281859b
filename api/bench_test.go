package api

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/cluster"
)

// BenchCommits records the call with its arguments and answers a fixed
// result derived from them.
func (f *fakeCluster) BenchCommits(_ context.Context, n, concurrency, payload int) (cluster.CommitBench, error) {
	if err := f.record(fmt.Sprintf("BenchCommits %d %d %d", n, concurrency, payload)); err != nil {
		return cluster.CommitBench{}, err
	}
	return cluster.CommitBench{Commits: n, Concurrency: concurrency, PayloadBytes: payload,
		Elapsed: time.Second, PerSec: float64(n), P50: 1500 * time.Microsecond, P99: 4 * time.Millisecond}, nil
}

type benchResponse struct {
	Commits      int     `json:"commits"`
	Concurrency  int     `json:"concurrency"`
	PayloadBytes int     `json:"payload_bytes"`
	ElapsedMS    float64 `json:"elapsed_ms"`
	PerSec       float64 `json:"per_sec"`
	P50MS        float64 `json:"p50_ms"`
	P99MS        float64 `json:"p99_ms"`
}

func TestServer_BenchCommits(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		query     string
		wantCall  string
		wantField string
	}{
		{name: "Defaults", query: "", wantCall: "BenchCommits 2000 1 256"},
		{name: "Explicit", query: "?n=500&concurrency=8&payload=0", wantCall: "BenchCommits 500 8 0"},
		{name: "ZeroN", query: "?n=0", wantField: "n"},
		{name: "NotANumber", query: "?n=many", wantField: "n"},
		{name: "ConcurrencyTooHigh", query: "?concurrency=100000", wantField: "concurrency"},
		{name: "NegativePayload", query: "?payload=-1", wantField: "payload"},
		{name: "PayloadTooLarge", query: fmt.Sprintf("?payload=%d", maxBenchPayload+1), wantField: "payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			rec := b.do(t, http.MethodPost, "/v1/cluster/bench/commits"+tt.query, "")
			if tt.wantField != "" {
				requireError(t, rec, http.StatusBadRequest, codeInvalidArgument, tt.wantField)
				require.Empty(t, b.cluster.callLog())
				return
			}
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Equal(t, []string{tt.wantCall}, b.cluster.callLog())
			got := decode[benchResponse](t, rec)
			require.Positive(t, got.Commits)
			require.Equal(t, float64(got.Commits), got.PerSec)
			require.InDelta(t, 1000.0, got.ElapsedMS, 1e-9)
			require.InDelta(t, 1.5, got.P50MS, 1e-9)
			require.InDelta(t, 4.0, got.P99MS, 1e-9)
		})
	}

	t.Run("NoLeader", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.cluster.setErr(cluster.ErrNoLeader)
		rec := b.do(t, http.MethodPost, "/v1/cluster/bench/commits", "")
		requireError(t, rec, http.StatusServiceUnavailable, codeNoLeader, "")
	})

	t.Run("ForwardedToLeader", func(t *testing.T) {
		t.Parallel()
		fb := setupForward(t)
		rec := fb.follower.do(t, http.MethodPost, "/v1/cluster/bench/commits?n=10&payload=8", "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.Equal(t, 10, decode[benchResponse](t, rec).Commits)
		reqs, _ := fb.received()
		require.Len(t, reqs, 1)
		require.Equal(t, "n=10&payload=8", reqs[0].URL.RawQuery)
		require.Equal(t, []string{"BenchCommits 10 1 8"}, fb.leader.cluster.callLog())
	})

	t.Run("GetNotAllowed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rec := b.do(t, http.MethodGet, "/v1/cluster/bench/commits", "")
		require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	})
}
