package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/schedulezero/schedulezero/cluster"
	"github.com/schedulezero/schedulezero/fsm"
)

// Dispatcher is what the API needs from the leader's dispatcher; optional.
type Dispatcher interface {
	// Trigger commits a manual run of schedule id now (leader only); a
	// repeated requestID returns the existing run.
	Trigger(ctx context.Context, id, requestID string) (*fsm.Run, error)
	// Handlers is the leader's in-memory view of handler instances.
	Handlers() []HandlerStatus
	// IsLeading reports whether this node's dispatcher leads; requests
	// that need the leader are forwarded otherwise.
	IsLeading() bool
}

// HandlerStatus is one handler instance in GET /v1/handlers.
type HandlerStatus struct {
	Name     string    `json:"name"`
	Instance string    `json:"instance"`
	State    string    `json:"state"`
	Capacity int       `json:"capacity"`
	InFlight int       `json:"in_flight"`
	LastSeen time.Time `json:"last_seen"`
}

type triggerRequest struct {
	RequestID string `json:"request_id"`
}

// triggerSchedule: POST /v1/schedules/{id}/trigger → 202 with the new run,
// 200 with the existing one for a repeated request_id.
func (s *Server) triggerSchedule(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req triggerRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			s.fail(w, r, invalid("", "body must be {\"request_id\": \"…\"}: "+err.Error()))
			return
		}
	}
	if s.dispatcher == nil {
		s.fail(w, r, errNoLeader("this node runs no dispatcher"))
		return
	}
	if !s.dispatcher.IsLeading() {
		s.forward(w, r, bytes.NewReader(body))
		return
	}
	id := r.PathValue("id")
	status := http.StatusAccepted
	if req.RequestID != "" {
		if _, ok := s.cluster.FSM().Run(fsm.ManualRunID(id, req.RequestID)); ok {
			status = http.StatusOK
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), readWriteTimeout)
	defer cancel()
	run, err := s.dispatcher.Trigger(ctx, id, req.RequestID)
	switch {
	case errors.Is(err, cluster.ErrNotLeader):
		s.forward(w, r, bytes.NewReader(body))
	case err != nil:
		s.fail(w, r, err)
	default:
		writeJSON(w, status, run)
	}
}

type runList struct {
	Runs       []*fsm.Run `json:"runs"`
	NextCursor string     `json:"next_cursor"`
}

// listRuns: GET /v1/runs?schedule_id=&status=&limit=&cursor=.
func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) {
	limit, err := parseLimit(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	filter := fsm.RunFilter{ScheduleID: q.Get("schedule_id"), Status: fsm.RunStatus(q.Get("status"))}
	if filter.Status != "" && !validStatus(filter.Status) {
		s.fail(w, r, invalid("status", fmt.Sprintf("unknown run status %q", filter.Status)))
		return
	}
	if !s.readable(w, r) {
		return
	}
	page, next := s.cluster.FSM().Runs(filter, q.Get("cursor"), limit)
	if page == nil {
		page = []*fsm.Run{}
	}
	writeJSON(w, http.StatusOK, runList{Runs: page, NextCursor: next})
}

func validStatus(st fsm.RunStatus) bool {
	switch st {
	case fsm.StatusFired, fsm.StatusRunning, fsm.StatusSucceeded, fsm.StatusFailed, fsm.StatusLost,
		fsm.StatusSkipped, fsm.StatusMissed, fsm.StatusCancelled:
		return true
	}
	return false
}

// getRun: GET /v1/runs/{run_id}. Run IDs contain '@' and ':'; escaped
// forms (%40, %3A) are unescaped by the router.
func (s *Server) getRun(w http.ResponseWriter, r *http.Request) {
	if !s.readable(w, r) {
		return
	}
	id := r.PathValue("run_id")
	run, ok := s.cluster.FSM().Run(id)
	if !ok {
		s.fail(w, r, fmt.Errorf("%w: run %q", fsm.ErrNotFound, id))
		return
	}
	writeJSON(w, http.StatusOK, run)
}

type handlerList struct {
	Handlers []HandlerStatus `json:"handlers"`
}

// listHandlers: GET /v1/handlers, from the leader's memory (forwarded).
func (s *Server) listHandlers(w http.ResponseWriter, r *http.Request) {
	if s.dispatcher == nil {
		s.fail(w, r, errNoLeader("this node runs no dispatcher"))
		return
	}
	if !s.dispatcher.IsLeading() {
		s.forward(w, r, nil)
		return
	}
	hs := s.dispatcher.Handlers()
	if hs == nil {
		hs = []HandlerStatus{}
	}
	writeJSON(w, http.StatusOK, handlerList{Handlers: hs})
}
