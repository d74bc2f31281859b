package handlerclient

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Job outcomes, the values of sz_handler_jobs_total{outcome}.
const (
	outcomeSucceeded = "succeeded"
	outcomeFailed    = "failed"
	outcomeCancelled = "cancelled" // failed after its context was cancelled
)

// metrics are the client's Prometheus collectors. They exist (unregistered)
// when Config.Registerer is nil, so the code never checks.
type metrics struct {
	jobs       *prometheus.CounterVec
	byOutcome  map[string]prometheus.Counter // jobs, resolved once
	rejects    *prometheus.CounterVec
	inFlight   prometheus.Gauge
	pending    prometheus.Gauge
	reconnects prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sz_handler_jobs_total", Help: "Jobs executed by this handler, by outcome.",
		}, []string{"outcome"}),
		rejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sz_handler_dispatch_rejects_total", Help: "Dispatches rejected by this handler, by reason.",
		}, []string{"reason"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sz_handler_jobs_in_flight", Help: "Jobs starting or running.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sz_handler_results_pending", Help: "Results not yet acknowledged by the cluster.",
		}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sz_handler_reconnects_total", Help: "Connections made to a server endpoint after the first one.",
		}),
	}
	m.byOutcome = make(map[string]prometheus.Counter, 3)
	for _, o := range []string{outcomeSucceeded, outcomeFailed, outcomeCancelled} {
		m.byOutcome[o] = m.jobs.WithLabelValues(o)
	}
	if reg == nil {
		return m, nil
	}
	cs := []prometheus.Collector{m.jobs, m.rejects, m.inFlight, m.pending, m.reconnects}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("handlerclient: metrics already registered (one Client per Registerer): %w", err)
			}
			return nil, fmt.Errorf("handlerclient: register metrics: %w", err)
		}
	}
	return m, nil
}

// job returns the jobs counter of outcome.
func (m *metrics) job(outcome string) prometheus.Counter {
	if c, ok := m.byOutcome[outcome]; ok {
		return c
	}
	return m.jobs.WithLabelValues(outcome)
}
