package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/schedulezero/schedulezero/handlerclient"
	"github.com/schedulezero/schedulezero/internal/clock"
)

// Shutdown bounds of the in-process handlers.
const (
	fleetDrain = 2 * time.Second
	fleetFlush = 2 * time.Second
)

// acceptEvent is one job as a handler accepted it.
type acceptEvent struct {
	At       time.Time // when the handler accepted it (BeforeRunFunc)
	Nominal  time.Time // the run's nominal fire time
	Term     uint64    // term of the leader that dispatched it
	Schedule string
}

// lateness is how long after its nominal time the job was accepted.
func (e acceptEvent) lateness() time.Duration { return e.At.Sub(e.Nominal) }

// recorder collects what the handlers accept. It always counts; while
// sampling it keeps the accept latency of every job; with keepEvents it
// keeps every event (failover: low rates only).
type recorder struct {
	clk        clock.Clock
	keepEvents bool

	total    atomic.Int64
	sampling atomic.Bool

	mu      sync.Mutex
	samples []time.Duration
	events  []acceptEvent
	changed chan struct{} // closed and replaced on every kept event
}

func newRecorder(clk clock.Clock, keepEvents bool) *recorder {
	return &recorder{clk: clk, keepEvents: keepEvents, changed: make(chan struct{})}
}

// observe is the handlers' BeforeRunFunc: it runs right before the
// handler sends accepted, so its time is the accept time.
func (r *recorder) observe(j *handlerclient.Job) error {
	now := r.clk.Now()
	r.total.Add(1)
	sampling := r.sampling.Load()
	if !sampling && !r.keepEvents {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if sampling {
		r.samples = append(r.samples, now.Sub(j.NominalAt))
	}
	if r.keepEvents {
		r.events = append(r.events, acceptEvent{At: now, Nominal: j.NominalAt, Term: j.Term, Schedule: j.ScheduleID})
		close(r.changed)
		r.changed = make(chan struct{})
	}
	return nil
}

// startSampling discards earlier samples and starts keeping latencies.
func (r *recorder) startSampling() {
	r.mu.Lock()
	r.samples = nil
	r.mu.Unlock()
	r.sampling.Store(true)
}

// stopSampling stops keeping latencies and returns those kept.
func (r *recorder) stopSampling() []time.Duration {
	r.sampling.Store(false)
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.samples
	r.samples = nil
	return s
}

// snapshot returns the kept events and a channel closed at the next one.
func (r *recorder) snapshot() ([]acceptEvent, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.events[:len(r.events):len(r.events)], r.changed
}

// waitEvent waits until an event satisfies match and returns the first
// (in accept order) that does.
func (r *recorder) waitEvent(ctx context.Context, match func(acceptEvent) bool) (acceptEvent, error) {
	seen := 0
	for {
		evs, changed := r.snapshot()
		for _, e := range evs[seen:] {
			if match(e) {
				return e, nil
			}
		}
		seen = len(evs)
		select {
		case <-changed:
		case <-ctx.Done():
			return acceptEvent{}, context.Cause(ctx)
		}
	}
}

// between returns the kept events accepted in [from, to].
func (r *recorder) between(from, to time.Time) []acceptEvent {
	evs, _ := r.snapshot()
	var out []acceptEvent
	for _, e := range evs {
		if !e.At.Before(from) && !e.At.After(to) {
			out = append(out, e)
		}
	}
	return out
}

// fleet is the handler instances szbench runs in its own process. They
// share one handler name and one recorder; each has its own metrics
// registry so its acknowledged results can be counted.
type fleet struct {
	clk       sleeper
	rec       *recorder
	instances []string
	regs      []*prometheus.Registry
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	mu        sync.Mutex
	errs      []error
}

// startFleet starts n handler instances connected to endpoints; each runs
// noop jobs (return at once) with the given capacity.
func startFleet(ctx context.Context, cfg Config, scenario string, endpoints []string, keepEvents bool) (*fleet, error) {
	f := &fleet{clk: sleeper{cfg.Clock}, rec: newRecorder(cfg.Clock, keepEvents)}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f.cancel = cancel
	clients := make([]*handlerclient.Client, 0, cfg.Handlers)
	for i := range cfg.Handlers {
		reg := prometheus.NewRegistry()
		inst := fmt.Sprintf("%s-%d-%s-%d", Name, os.Getpid(), scenario, i+1)
		c, err := handlerclient.New(handlerclient.Config{
			Name: handlerName, Servers: endpoints, Capacity: cfg.Capacity, Instance: inst,
			Registerer: reg, BeforeRunFunc: f.rec.observe,
			DrainTimeout: fleetDrain, FlushTimeout: fleetFlush,
			Logger: slog.New(errorsOnly{cfg.Logger.Handler()}).With(slog.String("handler", inst)),
		})
		if err != nil {
			cancel()
			return nil, fmt.Errorf("bench: handler %s: %w", inst, err)
		}
		c.Handle(handlerNoop, func(context.Context, *handlerclient.Job) (any, error) { return nil, nil })
		clients = append(clients, c)
		f.instances = append(f.instances, inst)
		f.regs = append(f.regs, reg)
	}
	for _, c := range clients {
		f.wg.Go(func() {
			if err := c.Run(runCtx); err != nil {
				f.mu.Lock()
				f.errs = append(f.errs, err)
				f.mu.Unlock()
			}
		})
	}
	return f, nil
}

// stop shuts the handlers down (drain, flush, goodbye) and waits.
func (f *fleet) stop() error {
	f.cancel()
	f.wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	return errors.Join(f.errs...)
}

// acked counts the runs whose result the cluster acknowledged (committed)
// across the fleet: jobs finished minus results still pending.
func (f *fleet) acked() (int64, error) {
	var total float64
	for _, reg := range f.regs {
		mfs, err := reg.Gather()
		if err != nil {
			return 0, err
		}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				switch mf.GetName() {
				case "sz_handler_jobs_total":
					total += m.GetCounter().GetValue()
				case "sz_handler_results_pending":
					total -= m.GetGauge().GetValue()
				}
			}
		}
	}
	return int64(total), nil
}

// waitLive waits until the leader lists every instance of the fleet as live.
func (f *fleet) waitLive(ctx context.Context, c *benchCluster, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		api, _, err := c.leaderClient(ctx)
		if err != nil {
			return err
		}
		hs, err := api.ListHandlers(ctx)
		if err == nil {
			live := 0
			for _, h := range hs {
				if h.Name == handlerName && h.State == "live" && f.owns(h.Instance) {
					live++
				}
			}
			if live == len(f.instances) {
				return nil
			}
		}
		if err := f.clk.sleep(ctx, 100*time.Millisecond); err != nil {
			return fmt.Errorf("bench: handlers not live on the leader within %s", timeout)
		}
	}
}

func (f *fleet) owns(instance string) bool {
	for _, i := range f.instances {
		if i == instance || strings.HasPrefix(instance, i+"/") {
			return true
		}
	}
	return false
}

// errorsOnly passes on records of level Error and above: the SDK's Info
// and Warn logs (connections, dial failures while a node is down, leader
// changes) would drown the progress output.
type errorsOnly struct{ slog.Handler }

func (h errorsOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError && h.Handler.Enabled(ctx, l)
}

func (h errorsOnly) WithAttrs(as []slog.Attr) slog.Handler {
	return errorsOnly{h.Handler.WithAttrs(as)}
}

func (h errorsOnly) WithGroup(name string) slog.Handler { return errorsOnly{h.Handler.WithGroup(name)} }
