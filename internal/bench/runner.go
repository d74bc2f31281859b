package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/internal/clock"
)

// Fixed workload parameters.
const (
	// batchSize is the number of schedules per POST /v1/schedules:batch.
	batchSize = client.MaxBatchSchedules
	// baselinePayload is the entry size of the baseline commits, about
	// the size of one encoded run event.
	baselinePayload = 256
	// createRetries bounds the retries of a batch that failed with a
	// retryable error (no leader, timeout).
	createRetries = 5
	liveTimeout   = 60 * time.Second
)

// Runner runs the scenarios of one Config.
type Runner struct {
	cfg   Config
	log   *slog.Logger
	clk   sleeper
	runID string
}

// New applies the defaults to cfg, validates it and returns a Runner.
func New(cfg Config) (*Runner, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &Runner{cfg: cfg, log: cfg.Logger, clk: sleeper{cfg.Clock}, runID: hex.EncodeToString(b[:])}, nil
}

// Config returns the defaulted configuration.
func (r *Runner) Config() Config { return r.cfg }

// Run runs every configured scenario, each against its own cluster, and
// returns the report. A failed scenario is recorded in its result and the
// next one still runs; the error returned joins the scenario errors (and
// ctx's when the run was interrupted). Every process started is stopped
// before Run returns.
func (r *Runner) Run(ctx context.Context) (*Report, error) {
	start := r.clk.Now()
	rep := newReport(r.cfg, start)
	dataDir, cleanup, err := r.dataDir()
	if err != nil {
		return rep, err
	}
	defer cleanup()
	for _, s := range r.cfg.Scenarios {
		if ctx.Err() != nil {
			break
		}
		r.log.Info("scenario "+s+": starting", "dir", filepath.Join(dataDir, s))
		r.runScenario(ctx, s, filepath.Join(dataDir, s), rep)
	}
	rep.summarize()
	rep.ElapsedS = round3(r.clk.Since(start).Seconds())
	var errs []error
	for _, e := range rep.errors() {
		errs = append(errs, errors.New(e))
	}
	if ctx.Err() != nil {
		errs = append(errs, context.Cause(ctx))
	}
	return rep, errors.Join(errs...)
}

// dataDir returns the directory the clusters of this run live in: a new
// sub-directory of Config.DataDir (kept), or a temporary one (removed).
func (r *Runner) dataDir() (string, func(), error) {
	if r.cfg.DataDir != "" {
		dir := filepath.Join(r.cfg.DataDir, fmt.Sprintf("run-%s-%s", r.clk.Now().Format("20060102-150405"), r.runID))
		return dir, func() {}, os.MkdirAll(dir, 0o755)
	}
	dir, err := os.MkdirTemp("", "szbench-*")
	if err != nil {
		return "", nil, err
	}
	return dir, func() { _ = os.RemoveAll(dir) }, nil
}

func (r *Runner) runScenario(ctx context.Context, name, dir string, rep *Report) {
	switch name {
	case ScenarioThroughput:
		rep.Scenarios.Throughput = r.rate(ctx, name, dir)
	case ScenarioLatency:
		rep.Scenarios.Latency = r.rate(ctx, name, dir)
	case ScenarioFailover:
		rep.Scenarios.Failover = r.failover(ctx, dir)
	case ScenarioScale:
		rep.Scenarios.Scale = r.scale(ctx, dir)
	}
}

// withCluster starts the scenario's cluster (or connects to --target),
// runs fn and stops every process started, whatever happens.
func (r *Runner) withCluster(ctx context.Context, dir string, nodeArgs []string, fn func(*benchCluster) error) error {
	var c *benchCluster
	var err error
	if r.cfg.Target != "" {
		c, err = connectTarget(ctx, r.cfg)
	} else {
		c, err = startCluster(ctx, r.cfg, dir, nodeArgs)
	}
	if err != nil {
		return err
	}
	defer c.stop()
	if _, _, err := c.leader(ctx); err != nil {
		return err
	}
	return fn(c)
}

// baseline measures the raw single-entry commit rate on the leader.
func (r *Runner) baseline(ctx context.Context, c *benchCluster) (*Baseline, error) {
	api, leader, err := c.leaderClient(ctx)
	if err != nil {
		return nil, err
	}
	b, err := api.BenchCommits(ctx, client.CommitBenchOptions{Commits: r.cfg.BaselineCommits, Concurrency: 1, Payload: baselinePayload})
	if err != nil {
		return nil, fmt.Errorf("bench: baseline on %s: %w", leader, err)
	}
	r.log.Info(fmt.Sprintf("baseline: %.0f raft commits/s (p50 %.2f ms, p99 %.2f ms)", b.PerSec, b.P50MS, b.P99MS), "leader", leader)
	return &Baseline{CommitsPerSec: round3(b.PerSec), Commits: b.Commits, Concurrency: b.Concurrency, PayloadBytes: b.PayloadBytes,
		ElapsedMS: round3(b.ElapsedMS), P50MS: round3(b.P50MS), P99MS: round3(b.P99MS)}, nil
}

// idPrefix names the schedules of one scenario of this run.
func (r *Runner) idPrefix(scenario string) string { return "szb-" + r.runID + "-" + scenario }

// createResult counts what createSchedules did.
type createResult struct {
	Created, Existing int
	Elapsed           time.Duration
}

// createSchedules creates n schedules (make builds number i) through the
// batch endpoint of api, batchSize per request, CreateClients requests at
// a time. An ID that exists already counts as Existing; a batch failing
// with no_leader or a timeout is retried a few times (a retry may then
// find its own earlier, committed attempt: Existing).
func (r *Runner) createSchedules(ctx context.Context, api *client.Client, n int, mk func(i int) *client.Schedule) (createResult, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	starts := make(chan int)
	var created, existing atomic.Int64
	var wg sync.WaitGroup
	t0 := r.clk.Now()
	for range r.cfg.CreateClients {
		wg.Go(func() {
			for first := range starts {
				batch := make([]*client.Schedule, 0, min(batchSize, n-first))
				for i := first; i < min(first+batchSize, n); i++ {
					batch = append(batch, mk(i))
				}
				c, e, err := r.createBatch(ctx, api, batch)
				if err != nil {
					cancel(err)
					return
				}
				created.Add(int64(c))
				existing.Add(int64(e))
			}
		})
	}
feed:
	for first := 0; first < n; first += batchSize {
		select {
		case starts <- first:
		case <-ctx.Done():
			break feed
		}
	}
	close(starts)
	wg.Wait()
	res := createResult{Created: int(created.Load()), Existing: int(existing.Load()), Elapsed: r.clk.Since(t0)}
	if err := context.Cause(ctx); err != nil {
		return res, err
	}
	return res, nil
}

func (r *Runner) createBatch(ctx context.Context, api *client.Client, batch []*client.Schedule) (int, int, error) {
	for attempt := 1; ; attempt++ {
		results, err := api.CreateSchedules(ctx, batch)
		if err != nil {
			if attempt < createRetries && retryable(err) && ctx.Err() == nil {
				r.log.Warn("batch create failed; retrying", "err", err, "attempt", attempt)
				if err := r.clk.sleep(ctx, time.Second); err != nil {
					return 0, 0, err
				}
				continue
			}
			return 0, 0, fmt.Errorf("bench: create schedules: %w", err)
		}
		created, existing := 0, 0
		for _, res := range results {
			switch {
			case res.Created():
				created++
			case client.IsConflict(res.Err()):
				existing++
			default:
				return created, existing, fmt.Errorf("bench: create schedule %s: %w", res.ID, res.Err())
			}
		}
		return created, existing, nil
	}
}

// retryable reports whether a failed write may be retried: no leader, or
// a timeout whose outcome the retry will reveal as 409.
func retryable(err error) bool {
	var e *client.APIError
	return client.IsNoLeader(err) || (errors.As(err, &e) && e.Status == 503)
}

// sleeper waits on a clock.
type sleeper struct{ clock.Clock }

// sleep waits d, or returns ctx's cause when ctx ends first.
func (s sleeper) sleep(ctx context.Context, d time.Duration) error {
	t := s.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
