package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/schedulezero/schedulezero/cluster"
	"github.com/schedulezero/schedulezero/fsm"
)

// Limits of POST /v1/schedules:batch.
const (
	// maxBatchSchedules bounds the items of one batch create.
	maxBatchSchedules = 1000
	// maxBatchBodyBytes bounds a batch request body (1000 items of about
	// 8 KiB each); the single create keeps maxBodyBytes.
	maxBatchBodyBytes = 8 << 20
)

// batchBody is the request body of POST /v1/schedules:batch. Items stay raw
// so that each is decoded by decodeSchedule, exactly as a single create.
type batchBody struct {
	Schedules []json.RawMessage `json:"schedules"`
}

// batchResult is the outcome of one item: status 201 (created) or the
// status of its error (409 already_exists, …).
type batchResult struct {
	ID     string    `json:"id"`
	Status int       `json:"status"`
	Error  *apiError `json:"error,omitempty"`
}

// createSchedules creates up to maxBatchSchedules schedules in one Raft log
// entry. Every item is validated before anything is proposed (a bad item
// fails the whole request with 400 naming schedules[i].field); the items
// then apply in order, each with its own result, so an ID that exists — or
// repeats an earlier item — is a per-item 409, not a failure of the batch.
func (s *Server) createSchedules(w http.ResponseWriter, r *http.Request) {
	body, err := readBodyLimit(w, r, maxBatchBodyBytes)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	events, err := decodeBatch(body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readWriteTimeout)
	defer cancel()
	results, err := s.cluster.Propose(ctx, events...)
	switch {
	case errors.Is(err, cluster.ErrNotLeader):
		s.forward(w, r, bytes.NewReader(body))
		return
	case err != nil:
		s.fail(w, r, err)
		return
	case len(results) != len(events):
		s.fail(w, r, fmt.Errorf("propose returned %d results for %d events", len(results), len(events)))
		return
	}
	out := make([]batchResult, len(events))
	for i, res := range results {
		out[i] = batchResult{ID: events[i].Schedule.ID, Status: http.StatusCreated}
		if res.Err != nil {
			e := errorFor(res.Err)
			out[i].Status, out[i].Error = e.status, e
		}
	}
	writeJSON(w, http.StatusOK, struct {
		Results []batchResult `json:"results"`
	}{out})
}

// decodeBatch decodes the batch body and validates every item with the
// single create's rules; an item's error names it as schedules[i].
func decodeBatch(body []byte) ([]fsm.Event, error) {
	var b batchBody
	if err := decodeStrict(body, &b, ""); err != nil {
		return nil, err
	}
	switch {
	case len(b.Schedules) == 0:
		return nil, invalid("schedules", "schedules must be a non-empty array of schedule objects")
	case len(b.Schedules) > maxBatchSchedules:
		return nil, invalid("schedules", fmt.Sprintf("schedules has %d items; the limit is %d per request", len(b.Schedules), maxBatchSchedules))
	}
	events := make([]fsm.Event, len(b.Schedules))
	for i, raw := range b.Schedules {
		sc, _, err := decodeSchedule(raw, "")
		if err != nil {
			return nil, itemError(i, err)
		}
		events[i] = fsm.Event{Type: fsm.ScheduleCreated, Schedule: sc}
	}
	return events, nil
}

// itemError prefixes a validation error of item i with schedules[i]: its
// field becomes schedules[i].field (schedules[i] when the item as a whole
// is unusable) and its message says which item failed.
func itemError(i int, err error) error {
	var ae *apiError
	if !errors.As(err, &ae) {
		return err
	}
	item := fmt.Sprintf("schedules[%d]", i)
	field := item
	if ae.Field != "" && ae.Field != "body" {
		field = item + "." + ae.Field
	}
	msg := ae.Message
	if !strings.HasPrefix(msg, item) {
		msg = item + ": " + msg
	}
	return &apiError{status: ae.status, Code: ae.Code, Field: field, Message: msg}
}

// readBodyLimit is readBody with a different size limit.
func readBodyLimit(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, invalid("body", fmt.Sprintf("request body exceeds %d bytes", limit))
	case err != nil:
		return nil, invalid("body", "reading the request body: "+err.Error())
	}
	return body, nil
}
