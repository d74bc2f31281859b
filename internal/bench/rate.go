package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/client"
)

// Leader metrics read around the measurement window.
const (
	metricFires   = "sz_dispatch_fires_total"
	metricResults = "sz_run_duration_seconds_count"
	// Raft snapshot metrics of the cluster package (scale scenario).
	metricRestoreSum   = "sz_raft_restore_seconds_sum"
	metricRestoreCount = "sz_raft_restore_seconds_count"
	metricPersistSum   = "sz_raft_snapshot_persist_seconds_sum"
	metricPersistCount = "sz_raft_snapshot_persist_seconds_count"
	// endAtMargin bounds how long the fire schedules outlive the run (they
	// stop by themselves even if szbench is killed).
	endAtMargin = 10 * time.Minute
	// cleanupWorkers delete the fire schedules of a --target run.
	cleanupWorkers = 8
)

// rate runs the throughput or latency scenario: schedules firing at the
// scenario's rate, evenly spread; after the warm-up, it counts over the
// window the runs completed end to end and the accept latency of every job.
func (r *Runner) rate(ctx context.Context, scenario, dir string) *RateResult {
	plan, _ := PlanRate(r.cfg.rateFor(scenario), r.cfg.Interval) // validated by New
	res := &RateResult{Rate: plan.Rate(), Schedules: plan.Schedules, IntervalS: plan.Interval.Seconds(),
		SpacingMS: millis(plan.Spacing())}
	err := r.withCluster(ctx, dir, nil, func(c *benchCluster) error {
		return r.runRate(ctx, c, scenario, plan, res)
	})
	if err != nil {
		res.Error = err.Error()
		r.log.Error("scenario "+scenario+" failed", "err", err)
	}
	return res
}

// prepare is what every fire scenario starts with: the baseline commit
// rate, a fleet of live handlers (keepEvents: it records every accept) and
// a client of the leader. The caller stops the fleet.
func (r *Runner) prepare(ctx context.Context, c *benchCluster, scenario string, keepEvents bool, baseline **Baseline) (*fleet, *client.Client, error) {
	var err error
	if *baseline, err = r.baseline(ctx, c); err != nil {
		return nil, nil, err
	}
	fl, err := startFleet(ctx, r.cfg, scenario, c.zmqEndpoints(), keepEvents)
	if err != nil {
		return nil, nil, err
	}
	err = fl.waitLive(ctx, c, liveTimeout)
	var api *client.Client
	if err == nil {
		api, _, err = c.leaderClient(ctx)
	}
	if err != nil {
		_ = fl.stop()
		return nil, nil, err
	}
	return fl, api, nil
}

func (r *Runner) runRate(ctx context.Context, c *benchCluster, scenario string, plan Plan, res *RateResult) error {
	fl, api, err := r.prepare(ctx, c, scenario, false, &res.Baseline)
	if err != nil {
		return err
	}
	defer func() { _ = fl.stop() }()
	now := r.clk.Now()
	anchor := now.Truncate(time.Second)
	endAt := now.Add(r.cfg.Warmup + r.cfg.Duration + endAtMargin)
	prefix := r.idPrefix(scenario)
	r.log.Info(fmt.Sprintf("%s: creating %d schedules every %s (%.0f fires/s)", scenario, plan.Schedules, plan.Interval, plan.Rate()))
	cr, err := r.createSchedules(ctx, api, plan.Schedules, func(i int) *client.Schedule {
		return plan.fireSchedule(prefix, i, anchor, endAt)
	})
	res.CreateSeconds = round3(cr.Elapsed.Seconds())
	if err != nil {
		return err
	}
	if !c.governed() {
		defer r.deleteSchedules(context.WithoutCancel(ctx), api, prefix, plan.Schedules)
	}
	r.log.Info(fmt.Sprintf("%s: warming up for %s", scenario, r.cfg.Warmup))
	if err := r.clk.sleep(ctx, r.cfg.Warmup); err != nil {
		return err
	}
	return r.measureWindow(ctx, c, fl, res)
}

// measureWindow opens the window, waits Duration and fills res.
func (r *Runner) measureWindow(ctx context.Context, c *benchCluster, fl *fleet, res *RateResult) error {
	leader, _, err := c.leader(ctx)
	if err != nil {
		return err
	}
	res.Leader = leader
	m0, merr0 := c.scrape(ctx, leader)
	a0, err := fl.acked()
	if err != nil {
		return err
	}
	acc0 := fl.rec.total.Load()
	fl.rec.startSampling()
	t0 := r.clk.Now()
	r.log.Info(fmt.Sprintf("measuring for %s", r.cfg.Duration))
	sleepErr := r.clk.sleep(ctx, r.cfg.Duration)
	samples := fl.rec.stopSampling()
	window := r.clk.Since(t0)
	a1, err := fl.acked()
	if err != nil {
		return err
	}
	acc1 := fl.rec.total.Load()
	if sleepErr != nil {
		return sleepErr
	}
	leader1, _, _ := c.leader(ctx)
	m1, merr1 := c.scrape(ctx, leader)
	res.WindowS = round3(window.Seconds())
	res.Completed = a1 - a0
	res.Accepted = acc1 - acc0
	res.FiresPerSec = round3(float64(res.Completed) / window.Seconds())
	if res.Baseline != nil && res.Baseline.CommitsPerSec > 0 {
		res.RatioVsBaseline = ptr(round3(res.FiresPerSec / res.Baseline.CommitsPerSec))
	}
	if merr0 == nil && merr1 == nil && leader1 == leader {
		res.LeaderFiresPerSec = ptr(round3((m1.get(metricFires) - m0.get(metricFires)) / window.Seconds()))
		res.LeaderResultsPerSec = ptr(round3((m1.get(metricResults) - m0.get(metricResults)) / window.Seconds()))
	}
	res.Dispatch = Summarize(samples)
	r.log.Info(fmt.Sprintf("completed %d runs in %.1f s = %.0f fires/s; accept p50 %.2f ms, p99 %.2f ms",
		res.Completed, res.WindowS, res.FiresPerSec, res.Dispatch.P50, res.Dispatch.P99))
	return nil
}

// deleteSchedules removes the fire schedules of a --target run (best
// effort: they also end by themselves at their end_at).
func (r *Runner) deleteSchedules(ctx context.Context, api *client.Client, prefix string, n int) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	ids := make(chan int)
	var wg sync.WaitGroup
	for range cleanupWorkers {
		wg.Go(func() {
			for i := range ids {
				_ = api.DeleteSchedule(ctx, fmt.Sprintf("%s-%d", prefix, i))
			}
		})
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		ids <- i
	}
	close(ids)
	wg.Wait()
}
