package client

import (
	"context"
	"net/http"
)

// MaxBatchSchedules is the most schedules one CreateSchedules call may
// carry (the server's limit for POST /v1/schedules:batch).
const MaxBatchSchedules = 1000

// BatchResult is the outcome of one item of CreateSchedules.
type BatchResult struct {
	// ID is the item's schedule ID.
	ID string `json:"id"`
	// Status is 201 when the schedule was created, else the HTTP status of
	// Error (409 for an ID that exists or repeats an earlier item).
	Status int `json:"status"`
	// Error is set when the item was not created.
	Error *BatchError `json:"error,omitempty"`
}

// Created reports whether the item's schedule was created.
func (r BatchResult) Created() bool { return r.Status == http.StatusCreated }

// BatchError is a per-item error of CreateSchedules, in the API's error
// shape.
type BatchError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// Err returns the item's error as an *APIError (nil when created), so
// IsConflict and friends apply.
func (r BatchResult) Err() error {
	if r.Error == nil {
		return nil
	}
	return &APIError{Status: r.Status, Code: r.Error.Code, Message: r.Error.Message, Field: r.Error.Field}
}

// CreateSchedules creates up to MaxBatchSchedules schedules in one request
// (POST /v1/schedules:batch) and one Raft log entry, and returns one
// result per schedule, in order. Every schedule is validated first: one
// invalid item fails the whole call with a 400 *APIError whose Field is
// schedules[i].field, and nothing is created. Otherwise an existing or
// repeated ID is a per-item 409 (BatchResult.Err), not an error of the
// call. As with CreateSchedule, every field of each Schedule is sent.
func (c *Client) CreateSchedules(ctx context.Context, schedules []*Schedule) ([]BatchResult, error) {
	items := make([]any, len(schedules))
	for i, s := range schedules {
		items[i] = &s.Schedule
	}
	var out struct {
		Results []BatchResult `json:"results"`
	}
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/schedules:batch",
		body: map[string]any{"schedules": items}}, &out)
	if err != nil {
		return nil, err
	}
	return out.Results, nil
}
