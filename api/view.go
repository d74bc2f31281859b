package api

import (
	"log/slog"
	"time"

	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/trigger"
)

// scheduleView is the schedule object of the API: the replicated schedule
// plus next_fire_at, which is derived (from the trigger, start/end and the
// clock) rather than stored.
type scheduleView struct {
	*fsm.Schedule
	NextFireAt *time.Time `json:"next_fire_at"`
}

func (s *Server) view(sc *fsm.Schedule, now time.Time) scheduleView {
	return scheduleView{Schedule: sc, NextFireAt: s.nextFireAt(sc, now)}
}

// nextFireAt is the first nominal fire time after now (or at/after start_at
// when that is later), in UTC; nil when the schedule is paused, its trigger
// has no further fire time, or that time is past end_at. It does not know the
// run count, so max_runs is not taken into account.
func (s *Server) nextFireAt(sc *fsm.Schedule, now time.Time) (next *time.Time) {
	if sc.Paused {
		return nil
	}
	defer func() { // a stored schedule must never make reads fail
		if p := recover(); p != nil {
			s.log.Error("api: computing next_fire_at panicked", slog.String(logKeySchedule, sc.ID), slog.Any(logKeyPanic, p))
			next = nil
		}
	}()
	from := now
	if sc.StartAt != nil {
		if justBefore := sc.StartAt.Add(-time.Nanosecond); justBefore.After(from) {
			from = justBefore
		}
	}
	trig, err := trigger.Compile(sc.Trigger, sc.Anchor())
	if err != nil {
		s.log.Warn("api: stored trigger does not compile", slog.String(logKeySchedule, sc.ID), slog.String(logKeyError, err.Error()))
		return nil
	}
	t, ok := trig.Next(from)
	if !ok || (sc.EndAt != nil && t.After(*sc.EndAt)) {
		return nil
	}
	t = t.UTC()
	return &t
}
