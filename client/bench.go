package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// CommitBenchOptions parameterises BenchCommits; zero fields take the
// server's defaults (2000 commits, concurrency 1, 256-byte payload).
type CommitBenchOptions struct {
	Commits     int
	Concurrency int
	// Payload is the entry size in bytes; set PayloadSet to send 0.
	Payload    int
	PayloadSet bool
}

// CommitBench is the answer of POST /v1/cluster/bench/commits: the raw
// single-entry Raft commit rate of the cluster, measured on its leader.
type CommitBench struct {
	Commits      int     `json:"commits"`
	Concurrency  int     `json:"concurrency"`
	PayloadBytes int     `json:"payload_bytes"`
	ElapsedMS    float64 `json:"elapsed_ms"`
	PerSec       float64 `json:"per_sec"`
	P50MS        float64 `json:"p50_ms"`
	P99MS        float64 `json:"p99_ms"`
}

// BenchCommits runs the diagnostic raw-commit benchmark on the leader
// (a follower forwards the request). It writes Commits no-op entries to
// the Raft log. Only ctx bounds it: the client timeout does not apply.
func (c *Client) BenchCommits(ctx context.Context, opts CommitBenchOptions) (*CommitBench, error) {
	q := url.Values{}
	if opts.Commits > 0 {
		q.Set("n", strconv.Itoa(opts.Commits))
	}
	if opts.Concurrency > 0 {
		q.Set("concurrency", strconv.Itoa(opts.Concurrency))
	}
	if opts.Payload > 0 || opts.PayloadSet {
		q.Set("payload", strconv.Itoa(opts.Payload))
	}
	var out CommitBench
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/cluster/bench/commits", query: q, timeout: -1}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}
