package dispatch

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	fires *prometheus.CounterVec
	// The fires children, resolved once (no label lookup per fire).
	firesFired, firesCatchup, firesMissed, firesSkipped prometheus.Counter

	latency       prometheus.Histogram
	fireCommit    prometheus.Histogram
	sendLateness  prometheus.Histogram
	duration      prometheus.Histogram
	retries       prometheus.Counter
	lost          prometheus.Counter
	missed        prometheus.Counter
	dropped       prometheus.Counter
	instances     *prometheus.GaugeVec
	outstanding   prometheus.Gauge
	inflight      prometheus.Gauge
	trackedScheds prometheus.Gauge
	trackedRuns   prometheus.Gauge
	wakes         prometheus.Counter
	resyncs       *prometheus.CounterVec
}

// latencyBuckets cover sub-millisecond commits up to a minute.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// latenessBuckets add finer buckets below 0.5 ms: with a fire lookahead a
// dispatch is sent within the loop's own latency of its due time.
var latenessBuckets = append([]float64{.0001, .00025}, latencyBuckets...)

// newMetrics registers the dispatcher's metrics with reg (nil: unregistered).
func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		fires: f.NewCounterVec(prometheus.CounterOpts{Name: "sz_dispatch_fires_total",
			Help: "Fire decisions committed by this node as leader, by outcome."}, []string{"outcome"}),
		latency: f.NewHistogram(prometheus.HistogramOpts{Name: "sz_dispatch_latency_seconds",
			Help:    "Time from a run's due time to its acceptance by a handler.",
			Buckets: latencyBuckets}),
		fireCommit: f.NewHistogram(prometheus.HistogramOpts{Name: "sz_dispatch_fire_commit_seconds",
			Help:    "Time from a run's due time to the return of the commit of its fire decision (0 when a precommit returned before the due time).",
			Buckets: latencyBuckets}),
		sendLateness: f.NewHistogram(prometheus.HistogramOpts{Name: "sz_dispatch_fire_send_lateness_seconds",
			Help:    "Time from a run's due time to the first send of its first attempt by this leader (never negative: no early fire).",
			Buckets: latenessBuckets}),
		duration: f.NewHistogram(prometheus.HistogramOpts{Name: "sz_run_duration_seconds",
			Help: "Time from acceptance to result of successful and failed attempts.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)}),
		retries: f.NewCounter(prometheus.CounterOpts{Name: "sz_dispatch_retries_total", Help: "Committed run.retried events."}),
		lost:    f.NewCounter(prometheus.CounterOpts{Name: "sz_runs_lost_total", Help: "Runs committed as lost."}),
		missed:  f.NewCounter(prometheus.CounterOpts{Name: "sz_runs_missed_total", Help: "Occurrences recorded as missed (committed or beyond the catch-up cap)."}),
		dropped: f.NewCounter(prometheus.CounterOpts{Name: "sz_dispatch_catchup_dropped_total",
			Help: "Occurrences beyond CatchupCap in one pass: covered by the high-water mark without a run record."}),
		instances: f.NewGaugeVec(prometheus.GaugeOpts{Name: "sz_handler_instances",
			Help: "Handler instances known to the leader, by state."}, []string{"state"}),
		outstanding: f.NewGauge(prometheus.GaugeOpts{Name: "sz_dispatch_outstanding",
			Help: "Dispatches sent and not yet answered by a result."}),
		inflight: f.NewGauge(prometheus.GaugeOpts{Name: "sz_dispatch_proposals_in_flight",
			Help: "Batches of dispatch events proposed to Raft and not yet answered."}),
		trackedScheds: f.NewGauge(prometheus.GaugeOpts{Name: "sz_dispatch_tracked_schedules",
			Help: "Schedules with a timer (or a decision in flight) on the leader."}),
		trackedRuns: f.NewGauge(prometheus.GaugeOpts{Name: "sz_dispatch_tracked_runs",
			Help: "Active runs tracked by the leader."}),
		wakes: f.NewCounter(prometheus.CounterOpts{Name: "sz_dispatch_loop_wakeups_total",
			Help: "Leader loop wake-ups (timer, FSM change, commit answer, handler message)."}),
		resyncs: f.NewCounterVec(prometheus.CounterOpts{Name: "sz_dispatch_resyncs_total",
			Help: "Full rescans of the FSM by the leader, by reason (leadership, feed, interval)."}, []string{"reason"}),
	}
	m.firesFired = m.fires.WithLabelValues("fired")
	m.firesCatchup = m.fires.WithLabelValues("catchup")
	m.firesMissed = m.fires.WithLabelValues("missed")
	m.firesSkipped = m.fires.WithLabelValues("skipped")
	return m
}
