package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/schedulezero/schedulezero/cluster"
)

// Parameters of POST /v1/cluster/bench/commits: defaults and bounds (the
// bounds are the cluster's, which also caps n × payload).
const (
	defaultBenchCommits     = 2000
	maxBenchCommits         = cluster.MaxBenchCommits
	defaultBenchConcurrency = 1
	maxBenchConcurrency     = cluster.MaxBenchConcurrency
	defaultBenchPayload     = 256
	maxBenchPayload         = cluster.MaxBenchPayload
	// benchTimeout bounds one commit benchmark on the leader.
	benchTimeout = 5 * time.Minute
)

// commitBenchView is the JSON answer of POST /v1/cluster/bench/commits.
type commitBenchView struct {
	Commits      int     `json:"commits"`
	Concurrency  int     `json:"concurrency"`
	PayloadBytes int     `json:"payload_bytes"`
	ElapsedMS    float64 `json:"elapsed_ms"`
	PerSec       float64 `json:"per_sec"`
	P50MS        float64 `json:"p50_ms"`
	P99MS        float64 `json:"p99_ms"`
}

func newCommitBenchView(b cluster.CommitBench) commitBenchView {
	return commitBenchView{
		Commits: b.Commits, Concurrency: b.Concurrency, PayloadBytes: b.PayloadBytes,
		ElapsedMS: ms(b.Elapsed), PerSec: b.PerSec, P50MS: ms(b.P50), P99MS: ms(b.P99),
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchCommits is the diagnostic raw-commit benchmark: the leader commits n
// single-entry proposals (payload bytes each, concurrency at a time) that
// do not change the replicated state and reports the rate. It is what
// szbench reports as baseline_raft_commits_per_sec. Leader only: a
// follower forwards it (without the forward client's overall timeout,
// since its duration depends on n).
func (s *Server) benchCommits(w http.ResponseWriter, r *http.Request) {
	n, err := queryInt(r, "n", defaultBenchCommits, 1, maxBenchCommits)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	concurrency, err := queryInt(r, "concurrency", defaultBenchConcurrency, 1, maxBenchConcurrency)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	payload, err := queryInt(r, "payload", defaultBenchPayload, 0, maxBenchPayload)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), benchTimeout)
	defer cancel()
	res, err := s.cluster.BenchCommits(ctx, n, concurrency, payload)
	switch {
	case errors.Is(err, cluster.ErrNotLeader):
		s.forwardStream(w, r, nil)
	case err != nil:
		s.fail(w, r, err)
	default:
		writeJSON(w, http.StatusOK, newCommitBenchView(res))
	}
}

// queryInt reads an integer query parameter in [lo, hi]; absent means def.
func queryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, invalid(name, fmt.Sprintf("%s %q must be an integer between %d and %d", name, v, lo, hi))
	}
	return n, nil
}
