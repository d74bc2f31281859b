package dispatch

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	fires       *prometheus.CounterVec
	latency     prometheus.Histogram
	duration    prometheus.Histogram
	retries     prometheus.Counter
	lost        prometheus.Counter
	missed      prometheus.Counter
	dropped     prometheus.Counter
	instances   *prometheus.GaugeVec
	outstanding prometheus.Gauge
}

// newMetrics registers the dispatcher's metrics with reg (nil: unregistered).
func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		fires: f.NewCounterVec(prometheus.CounterOpts{Name: "sz_dispatch_fires_total",
			Help: "Fire decisions committed by this node as leader, by outcome."}, []string{"outcome"}),
		latency: f.NewHistogram(prometheus.HistogramOpts{Name: "sz_dispatch_latency_seconds",
			Help:    "Time from a run's due time to its acceptance by a handler.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}),
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
	}
}
