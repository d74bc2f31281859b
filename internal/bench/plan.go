package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/trigger"
)

// Names the schedules and the in-process handlers use.
const (
	handlerName  = "szbench"
	handlerNoop  = "noop"
	maxPlanCount = 10_000_000
	// historyLimit keeps the per-schedule run history small, so the state
	// (and every snapshot) does not grow with the run's length.
	historyLimit = 10
)

// Plan spreads a fire rate over schedules: Schedules every-schedules of
// Interval, schedule i anchored Offset(i) after a common anchor, so that
// one fire falls due every Interval/Schedules.
type Plan struct {
	Schedules int           `json:"schedules"`
	Interval  time.Duration `json:"-"`
}

// PlanRate plans rate fires/s with schedules of the given interval:
// round(rate × interval) of them (at least one).
func PlanRate(rate float64, interval time.Duration) (Plan, error) {
	switch {
	case rate <= 0 || math.IsInf(rate, 0) || math.IsNaN(rate):
		return Plan{}, fmt.Errorf("rate %g: must be positive", rate)
	case interval < time.Second:
		return Plan{}, fmt.Errorf("interval %s: every triggers need at least 1s", interval)
	}
	n := math.Round(rate * interval.Seconds())
	if n > maxPlanCount {
		return Plan{}, fmt.Errorf("rate %g × interval %s needs %.0f schedules; the limit is %d", rate, interval, n, maxPlanCount)
	}
	return Plan{Schedules: max(int(n), 1), Interval: interval}, nil
}

// Rate is the planned fires/s.
func (p Plan) Rate() float64 { return float64(p.Schedules) / p.Interval.Seconds() }

// Spacing is the time between consecutive fires.
func (p Plan) Spacing() time.Duration { return p.Interval / time.Duration(p.Schedules) }

// Offset is schedule i's offset from the anchor, in [0, Interval): i
// evenly spaced slots, computed without accumulating rounding errors.
func (p Plan) Offset(i int) time.Duration {
	return time.Duration(int64(p.Interval) * int64(i) / int64(p.Schedules))
}

// fireSchedule is schedule i of a plan: every Interval from anchor +
// Offset(i), until endAt, dispatched to the in-process handlers. A start
// in the past is fine: the first fire is the first occurrence after the
// schedule's creation (never a catch-up).
func (p Plan) fireSchedule(prefix string, i int, anchor, endAt time.Time) *client.Schedule {
	start := anchor.Add(p.Offset(i)).UTC()
	end := endAt.UTC()
	pol := fsm.DefaultPolicy
	pol.MaxRetries = 0
	pol.HistoryLimit = historyLimit
	return &client.Schedule{Schedule: fsm.Schedule{
		ID: fmt.Sprintf("%s-%d", prefix, i), Handler: handlerName, Method: handlerNoop,
		Trigger: trigger.Spec{Every: p.Interval.String()},
		Policy:  pol, StartAt: &start, EndAt: &end,
	}}
}

// idleSchedule is schedule i of the scale scenario: active, but not due
// before start (far in the future).
func idleSchedule(prefix string, i int, start time.Time) *client.Schedule {
	s := start.UTC()
	pol := fsm.DefaultPolicy
	pol.HistoryLimit = historyLimit
	return &client.Schedule{Schedule: fsm.Schedule{
		ID: fmt.Sprintf("%s-%d", prefix, i), Handler: handlerName, Method: handlerNoop,
		Params:  json.RawMessage(`{"n":` + fmt.Sprint(i) + `}`),
		Trigger: trigger.Spec{Every: "24h"},
		Policy:  pol, StartAt: &s,
	}}
}
