package client_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/client/clienttest"
	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/trigger"
)

const scheduleJSON = `{"id":"nightly-report","handler":"reports","method":"generate","params":{"format":"pdf"},
"trigger":{"cron":"0 30 2 * * *","timezone":"Europe/Berlin"},
"policy":{"overlap":"skip","catchup_window":"1h","max_retries":3,"retry_backoff":"1s","timeout":"10m","jitter":"0s","history_limit":100,"history_max_age":"168h"},
"start_at":null,"end_at":null,"max_runs":0,"paused":false,"next_fire_at":"2026-11-28T01:30:00Z","version":3,"extra":"kept"}`

func newSchedule() *client.Schedule {
	return &client.Schedule{Schedule: fsm.Schedule{
		ID: "nightly-report", Handler: "reports", Method: "generate",
		Params:  json.RawMessage(`{"format":"pdf"}`),
		Trigger: trigger.Spec{Cron: "0 30 2 * * *", Timezone: "Europe/Berlin"},
		Policy:  fsm.DefaultPolicy,
	}}
}

func requireNightly(t *testing.T, s *client.Schedule) {
	t.Helper()
	require.NotNil(t, s)
	require.Equal(t, "nightly-report", s.ID)
	require.Equal(t, uint64(3), s.Version)
	require.Equal(t, fsm.DefaultPolicy, s.Policy)
	require.Equal(t, time.Date(2026, 11, 28, 1, 30, 0, 0, time.UTC), *s.NextFireAt)
	require.Contains(t, string(s.Raw), `"extra":"kept"`)
}

func TestClient_CreateSchedule(t *testing.T) {
	t.Parallel()
	c, f := newFake(t)
	f.On("POST /v1/schedules", clienttest.Reply{Status: 201, Body: scheduleJSON})
	s := newSchedule()
	s.NextFireAt = &time.Time{}
	got, err := c.CreateSchedule(context.Background(), s)
	require.NoError(t, err)
	requireNightly(t, got)

	req := f.Last(t)
	require.Equal(t, "application/json", req.Header.Get("Content-Type"))
	require.NotContains(t, req.Body, "next_fire_at", "next_fire_at is not part of the request")
	var sent fsm.Schedule
	require.NoError(t, json.Unmarshal([]byte(req.Body), &sent))
	require.Equal(t, s.Schedule, sent)
}

func TestClient_GetSchedule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, f := newFake(t)
	f.On("GET /v1/schedules/nightly-report", clienttest.Reply{Status: 200, Body: scheduleJSON})
	got, err := c.GetSchedule(ctx, "nightly-report")
	require.NoError(t, err)
	requireNightly(t, got)

	f.On("GET /v1/schedules/a%2Fb", clienttest.Reply{Status: 404, Body: `{"error":{"code":"not_found","message":"schedule \"a/b\" not found"}}`})
	_, err = c.GetSchedule(ctx, "a/b")
	require.True(t, client.IsNotFound(err))
	require.Equal(t, "/v1/schedules/a%2Fb", f.Last(t).RequestURI)
}

func TestClient_ListSchedules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OnePage", func(t *testing.T) {
		t.Parallel()
		c, f := newFake(t)
		f.On("GET /v1/schedules", clienttest.Reply{Status: 200, Body: `{"schedules":[` + scheduleJSON + `],"next_cursor":"c2"}`})
		page, err := c.ListSchedules(ctx, client.ListOptions{Limit: 10, Cursor: "c1", Stale: true})
		require.NoError(t, err)
		require.Equal(t, "c2", page.NextCursor)
		require.Len(t, page.Schedules, 1)
		requireNightly(t, &page.Schedules[0])
		require.Equal(t, "/v1/schedules?cursor=c1&limit=10&stale=true", f.Last(t).RequestURI)

		_, err = c.ListSchedules(ctx, client.ListOptions{})
		require.NoError(t, err)
		require.Equal(t, "/v1/schedules", f.Last(t).RequestURI)
	})
	t.Run("All", func(t *testing.T) {
		t.Parallel()
		c, f := newFake(t)
		f.On("GET /v1/schedules",
			clienttest.Reply{Status: 200, Body: `{"schedules":[{"id":"a"},{"id":"b"}],"next_cursor":"b"}`},
			clienttest.Reply{Status: 200, Body: `{"schedules":[{"id":"c"}],"next_cursor":""}`})
		all, err := c.ListAllSchedules(ctx, client.ListOptions{Limit: 2})
		require.NoError(t, err)
		var ids []string
		for _, s := range all {
			ids = append(ids, s.ID)
		}
		require.Equal(t, []string{"a", "b", "c"}, ids)
		reqs := f.Requests()
		require.Equal(t, "/v1/schedules?limit=2", reqs[0].RequestURI)
		require.Equal(t, "/v1/schedules?cursor=b&limit=2", reqs[1].RequestURI)
	})
	t.Run("ErrRepeatedCursor", func(t *testing.T) {
		t.Parallel()
		c, f := newFake(t)
		f.On("GET /v1/schedules", clienttest.Reply{Status: 200, Body: `{"schedules":[{"id":"a"}],"next_cursor":"same"}`})
		_, err := c.ListAllSchedules(ctx, client.ListOptions{})
		require.ErrorContains(t, err, `repeated cursor "same"`)
	})
}

func TestClient_UpdateSchedule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, f := newFake(t)
	f.On("PUT /v1/schedules/nightly-report", clienttest.Reply{Status: 200, Body: scheduleJSON})
	s := newSchedule()
	got, err := c.UpdateSchedule(ctx, s, 1)
	require.NoError(t, err)
	requireNightly(t, got)
	req := f.Last(t)
	require.Equal(t, "1", req.Header.Get("If-Match"))
	var sent fsm.Schedule
	require.NoError(t, json.Unmarshal([]byte(req.Body), &sent))
	require.Equal(t, s.Schedule, sent)

	_, err = c.UpdateSchedule(ctx, s, 0)
	require.NoError(t, err)
	require.Empty(t, f.Last(t).Header.Get("If-Match"))

	f.On("PUT /v1/schedules/other", clienttest.Reply{Status: 409, Body: `{"error":{"code":"version_mismatch","message":"version is 5"}}`})
	s.ID = "other"
	_, err = c.UpdateSchedule(ctx, s, 4)
	require.True(t, client.IsConflict(err))
}

func TestClient_DeleteSchedule(t *testing.T) {
	t.Parallel()
	c, f := newFake(t)
	f.On("DELETE /v1/schedules/x", clienttest.Reply{Status: 204})
	require.NoError(t, c.DeleteSchedule(context.Background(), "x"))
	require.Equal(t, "DELETE", f.Last(t).Method)
}

func TestClient_PauseResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, f := newFake(t)
	f.On("POST /v1/schedules/nightly-report/pause", clienttest.Reply{Status: 200, Body: scheduleJSON})
	f.On("POST /v1/schedules/nightly-report/resume", clienttest.Reply{Status: 204})
	s, err := c.PauseSchedule(ctx, "nightly-report")
	require.NoError(t, err)
	requireNightly(t, s)
	s, err = c.ResumeSchedule(ctx, "nightly-report")
	require.NoError(t, err)
	require.Nil(t, s)
}

func TestClient_TriggerSchedule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, f := newFake(t)
	f.On("POST /v1/schedules/x/trigger", clienttest.Reply{Status: 202, Body: `{"id":"r1","schedule_id":"x","status":"fired"}`})
	run, err := c.TriggerSchedule(ctx, "x", "req-1")
	require.NoError(t, err)
	require.Equal(t, "r1", run.ID)
	require.JSONEq(t, `{"request_id":"req-1"}`, f.Last(t).Body)

	_, err = c.TriggerSchedule(ctx, "x", "")
	require.NoError(t, err)
	require.Empty(t, f.Last(t).Body)

	f.On("POST /v1/schedules/y/trigger", clienttest.Reply{Status: 501, Body: `{"error":{"code":"not_implemented","message":"manual trigger is not implemented"}}`})
	_, err = c.TriggerSchedule(ctx, "y", "")
	require.True(t, client.IsNotImplemented(err))
}

func TestSchedule_UnmarshalJSON(t *testing.T) {
	t.Parallel()
	s := client.Schedule{Schedule: fsm.Schedule{Policy: fsm.DefaultPolicy}}
	require.NoError(t, json.Unmarshal([]byte(`{"id":"x","policy":{"max_retries":0}}`), &s))
	want := fsm.DefaultPolicy
	want.MaxRetries = 0
	require.Equal(t, want, s.Policy, "absent fields keep the pre-filled value")
	require.Nil(t, s.NextFireAt)
	require.JSONEq(t, `{"id":"x","policy":{"max_retries":0}}`, string(s.Raw))
	require.Error(t, json.Unmarshal([]byte(`{"policy":{"timeout":"-1s"}}`), &s))
}
