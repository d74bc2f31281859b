package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Run statuses (DESIGN.md, "Run object").
const (
	RunFired     = "fired"
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunLost      = "lost"
	RunSkipped   = "skipped"
	RunMissed    = "missed"
	RunCancelled = "cancelled"
)

// Run is one execution of a schedule: a fire decision and its attempts.
type Run struct {
	ID              string          `json:"id"`
	ScheduleID      string          `json:"schedule_id"`
	NominalAt       time.Time       `json:"nominal_at"`
	FiredAt         *time.Time      `json:"fired_at"`
	Attempt         int             `json:"attempt"`
	Status          string          `json:"status"`
	HandlerInstance string          `json:"handler_instance"`
	StartedAt       *time.Time      `json:"started_at"`
	FinishedAt      *time.Time      `json:"finished_at"`
	Result          json.RawMessage `json:"result,omitempty"`
	Error           string          `json:"error,omitempty"`
	// Raw is the JSON object the server sent (see Schedule.Raw).
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes a run object and keeps a copy in Raw.
func (r *Run) UnmarshalJSON(data []byte) error {
	type plain Run
	p := plain(*r)
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	*r = Run(p)
	r.Raw = append(json.RawMessage(nil), data...)
	return nil
}

// RunPage is one page of GET /v1/runs.
type RunPage struct {
	Runs []Run `json:"runs"`
	// NextCursor is passed as RunListOptions.Cursor for the next page;
	// empty on the last page.
	NextCursor string `json:"next_cursor"`
}

// RunListOptions filters and pages GET /v1/runs.
type RunListOptions struct {
	ScheduleID string
	Status     string
	Limit      int
	Cursor     string
}

// Handler is a registered handler instance (GET /v1/handlers).
type Handler struct {
	Name     string     `json:"name"`
	Instance string     `json:"instance"`
	State    string     `json:"state"`
	Capacity int        `json:"capacity"`
	InFlight int        `json:"in_flight"`
	LastSeen *time.Time `json:"last_seen"`
	// Raw is the JSON object the server sent (see Schedule.Raw).
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes a handler object and keeps a copy in Raw.
func (h *Handler) UnmarshalJSON(data []byte) error {
	type plain Handler
	p := plain(*h)
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	*h = Handler(p)
	h.Raw = append(json.RawMessage(nil), data...)
	return nil
}

// ListRuns returns one page of runs, newest first as the server orders
// them. Servers without run history answer 501 (IsNotImplemented).
func (c *Client) ListRuns(ctx context.Context, opts RunListOptions) (*RunPage, error) {
	q := url.Values{}
	for k, v := range map[string]string{"schedule_id": opts.ScheduleID, "status": opts.Status, "cursor": opts.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	var out RunPage
	if err := c.do(ctx, request{method: http.MethodGet, path: "/v1/runs", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetRun returns the run with the given id.
func (c *Client) GetRun(ctx context.Context, id string) (*Run, error) {
	if id == "" {
		return nil, ErrEmptyID
	}
	var out Run
	if err := c.do(ctx, request{method: http.MethodGet, path: "/v1/runs/" + url.PathEscape(id)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListHandlers returns the registered handler instances.
func (c *Client) ListHandlers(ctx context.Context) ([]Handler, error) {
	var out struct {
		Handlers []Handler `json:"handlers"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/v1/handlers"}, &out); err != nil {
		return nil, err
	}
	return out.Handlers, nil
}
