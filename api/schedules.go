package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/schedulezero/schedulezero/cluster"
	"github.com/schedulezero/schedulezero/fsm"
)

// Paging limits of GET /v1/schedules.
const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

func (s *Server) createSchedule(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sc, _, err := decodeSchedule(body, "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.commit(w, r, body, http.StatusCreated, fsm.Event{Type: fsm.ScheduleCreated, Schedule: sc})
}

func (s *Server) updateSchedule(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sc, bodyVersion, err := decodeSchedule(body, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ifVersion, err := parseIfMatch(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch {
	case ifVersion == 0:
		ifVersion = bodyVersion
	case bodyVersion != 0 && bodyVersion != ifVersion:
		s.fail(w, r, invalid("version", fmt.Sprintf("body version %d contradicts If-Match %d", bodyVersion, ifVersion)))
		return
	}
	s.commit(w, r, body, http.StatusOK, fsm.Event{Type: fsm.ScheduleUpdated, Schedule: sc, IfVersion: ifVersion})
}

func (s *Server) deleteSchedule(w http.ResponseWriter, r *http.Request) {
	s.commitByID(w, r, fsm.ScheduleDeleted)
}

func (s *Server) pauseSchedule(w http.ResponseWriter, r *http.Request) {
	s.commitByID(w, r, fsm.SchedulePaused)
}

func (s *Server) resumeSchedule(w http.ResponseWriter, r *http.Request) {
	s.commitByID(w, r, fsm.ScheduleResumed)
}

// commitByID proposes an event that names a schedule by its path ID and is
// made conditional by If-Match. The request body is ignored (but forwarded).
func (s *Server) commitByID(w http.ResponseWriter, r *http.Request, typ fsm.EventType) {
	body, err := readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ifVersion, err := parseIfMatch(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.commit(w, r, body, http.StatusOK, fsm.Event{Type: typ, ID: r.PathValue("id"), IfVersion: ifVersion})
}

// commit proposes ev and answers with the resulting schedule (status) or 204
// when the event leaves none (delete). A follower forwards the original
// request to the leader instead.
func (s *Server) commit(w http.ResponseWriter, r *http.Request, body []byte, status int, ev fsm.Event) {
	ctx, cancel := context.WithTimeout(r.Context(), readWriteTimeout)
	defer cancel()
	results, err := s.cluster.Propose(ctx, ev)
	switch {
	case errors.Is(err, cluster.ErrNotLeader):
		s.forward(w, r, bytes.NewReader(body))
		return
	case err != nil:
		s.fail(w, r, err)
		return
	case len(results) != 1:
		s.fail(w, r, fmt.Errorf("propose returned %d results for one event", len(results)))
		return
	case results[0].Err != nil:
		s.fail(w, r, results[0].Err)
		return
	case results[0].Schedule == nil:
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.writeSchedule(w, status, results[0].Schedule)
}

func (s *Server) writeSchedule(w http.ResponseWriter, status int, sc *fsm.Schedule) {
	w.Header().Set("ETag", strconv.Quote(strconv.FormatUint(sc.Version, 10)))
	writeJSON(w, status, s.view(sc, s.clock.Now()))
}

func (s *Server) getSchedule(w http.ResponseWriter, r *http.Request) {
	if !s.readable(w, r) {
		return
	}
	id := r.PathValue("id")
	sc, ok := s.cluster.FSM().Get(id)
	if !ok {
		s.fail(w, r, fmt.Errorf("%w: schedule %q", fsm.ErrNotFound, id))
		return
	}
	s.writeSchedule(w, http.StatusOK, sc)
}

type scheduleList struct {
	Schedules  []scheduleView `json:"schedules"`
	NextCursor string         `json:"next_cursor"`
}

func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) {
	limit, err := parseLimit(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !s.readable(w, r) {
		return
	}
	page, next := s.cluster.FSM().List(r.URL.Query().Get("cursor"), limit)
	out := scheduleList{Schedules: make([]scheduleView, 0, len(page)), NextCursor: next}
	now := s.clock.Now()
	for _, sc := range page {
		out.Schedules = append(out.Schedules, s.view(sc, now))
	}
	writeJSON(w, http.StatusOK, out)
}

// parseLimit reads ?limit= (default 100; values above 1000 are clamped).
func parseLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return defaultListLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, invalid("limit", fmt.Sprintf("limit %q must be a positive integer", v))
	}
	return min(n, maxListLimit), nil
}

// readable makes local reads linearizable unless ?stale=true: it waits for
// Cluster.LinearizableRead, forwards to the leader on a follower, and writes
// the error response itself. It reports whether the caller may read the
// local FSM.
func (s *Server) readable(w http.ResponseWriter, r *http.Request) bool {
	stale, err := parseStale(r)
	if err != nil {
		s.fail(w, r, err)
		return false
	}
	if stale {
		return true
	}
	ctx, cancel := context.WithTimeout(r.Context(), readWriteTimeout)
	defer cancel()
	err = s.cluster.LinearizableRead(ctx)
	switch {
	case errors.Is(err, cluster.ErrNotLeader):
		s.forward(w, r, nil)
		return false
	case err != nil:
		s.fail(w, r, err)
		return false
	}
	return true
}
