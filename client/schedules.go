package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/schedulezero/schedulezero/fsm"
)

// Schedule is a schedule as the API returns it: the replicated
// fsm.Schedule plus the computed next fire time.
type Schedule struct {
	fsm.Schedule
	// NextFireAt is the next time the schedule fires; nil when it never
	// will again (paused, ended, exhausted) or the server did not say.
	NextFireAt *time.Time `json:"next_fire_at"`
	// Raw is the JSON object the server sent, as received. It is set by
	// decoding, never encoded and not updated when fields change.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes a schedule object and keeps a copy in Raw. Like
// encoding/json it decodes into the existing value, so fields absent from
// data keep what s held (useful to pre-fill fsm.DefaultPolicy).
func (s *Schedule) UnmarshalJSON(data []byte) error {
	type plain Schedule
	p := plain(*s)
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	*s = Schedule(p)
	s.Raw = append(json.RawMessage(nil), data...)
	return nil
}

// SchedulePage is one page of GET /v1/schedules.
type SchedulePage struct {
	Schedules []Schedule `json:"schedules"`
	// NextCursor is passed as ListOptions.Cursor for the next page; empty
	// on the last page.
	NextCursor string `json:"next_cursor"`
}

// ListOptions selects a page of schedules.
type ListOptions struct {
	// Limit is the page size (0: the server's default).
	Limit int
	// Cursor is a previous page's NextCursor ("" for the first page).
	Cursor string
	// Stale allows the answering node to serve from its local state
	// instead of a linearizable read through the leader.
	Stale bool
}

// CreateSchedule creates s (POST /v1/schedules) and returns the stored
// schedule. Every field of s.Schedule is sent, the server-managed ones
// (version, created_at, updated_at) included; so start Policy from
// fsm.DefaultPolicy rather than the zero value.
func (c *Client) CreateSchedule(ctx context.Context, s *Schedule) (*Schedule, error) {
	var out Schedule
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/schedules", body: &s.Schedule}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// GetSchedule returns the schedule with the given id.
func (c *Client) GetSchedule(ctx context.Context, id string) (*Schedule, error) {
	path, err := schedulePath(id, "")
	if err != nil {
		return nil, err
	}
	var out Schedule
	if err := c.do(ctx, request{method: http.MethodGet, path: path}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListSchedules returns one page of schedules.
func (c *Client) ListSchedules(ctx context.Context, opts ListOptions) (*SchedulePage, error) {
	q := url.Values{}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Cursor != "" {
		q.Set("cursor", opts.Cursor)
	}
	if opts.Stale {
		q.Set("stale", "true")
	}
	var out SchedulePage
	if err := c.do(ctx, request{method: http.MethodGet, path: "/v1/schedules", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListAllSchedules follows next_cursor from opts.Cursor to the last page
// and returns every schedule; opts.Limit is the page size.
func (c *Client) ListAllSchedules(ctx context.Context, opts ListOptions) ([]Schedule, error) {
	var all []Schedule
	seen := map[string]bool{}
	for {
		page, err := c.ListSchedules(ctx, opts)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Schedules...)
		if page.NextCursor == "" {
			return all, nil
		}
		if seen[page.NextCursor] {
			return nil, fmt.Errorf("client: list schedules: server repeated cursor %q", page.NextCursor)
		}
		seen[page.NextCursor] = true
		opts.Cursor = page.NextCursor
	}
}

// UpdateSchedule replaces the schedule s.ID with s (PUT, every field of
// s.Schedule is sent). With ifVersion > 0 the write only succeeds while
// the stored version is ifVersion (If-Match); otherwise it is a 409
// (IsConflict).
func (c *Client) UpdateSchedule(ctx context.Context, s *Schedule, ifVersion uint64) (*Schedule, error) {
	path, err := schedulePath(s.ID, "")
	if err != nil {
		return nil, err
	}
	req := request{method: http.MethodPut, path: path, body: &s.Schedule}
	if ifVersion > 0 {
		req.header = http.Header{"If-Match": {strconv.FormatUint(ifVersion, 10)}}
	}
	var out Schedule
	if err := c.do(ctx, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteSchedule deletes the schedule with the given id.
func (c *Client) DeleteSchedule(ctx context.Context, id string) error {
	path, err := schedulePath(id, "")
	if err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: path}, nil)
}

// PauseSchedule pauses a schedule. It returns the updated schedule, or
// nil when the server answered without a body.
func (c *Client) PauseSchedule(ctx context.Context, id string) (*Schedule, error) {
	return c.scheduleAction(ctx, id, "pause")
}

// ResumeSchedule resumes a paused schedule. It returns the updated
// schedule, or nil when the server answered without a body.
func (c *Client) ResumeSchedule(ctx context.Context, id string) (*Schedule, error) {
	return c.scheduleAction(ctx, id, "resume")
}

// TriggerSchedule fires a schedule now, outside its trigger. requestID
// (optional) makes a retried trigger idempotent. It returns the run the
// server reports, or nil when it answered without a body; a server that
// does not support manual triggers yet answers 501 (IsNotImplemented).
func (c *Client) TriggerSchedule(ctx context.Context, id, requestID string) (*Run, error) {
	path, err := schedulePath(id, "/trigger")
	if err != nil {
		return nil, err
	}
	var body any
	if requestID != "" {
		body = map[string]string{"request_id": requestID}
	}
	var out *Run
	err = c.do(ctx, request{method: http.MethodPost, path: path, body: body}, &out)
	return out, err
}

func (c *Client) scheduleAction(ctx context.Context, id, action string) (*Schedule, error) {
	path, err := schedulePath(id, "/"+action)
	if err != nil {
		return nil, err
	}
	var out *Schedule
	err = c.do(ctx, request{method: http.MethodPost, path: path}, &out)
	return out, err
}

func schedulePath(id, suffix string) (string, error) {
	if id == "" {
		return "", ErrEmptyID
	}
	return "/v1/schedules/" + url.PathEscape(id) + suffix, nil
}
