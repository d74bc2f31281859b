package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/client/clienttest"
)

const runJSON = `{"id":"r1","schedule_id":"s1","nominal_at":"2026-11-28T01:30:00Z","fired_at":"2026-11-28T01:30:00.2Z",
"attempt":1,"status":"succeeded","handler_instance":"reports-1","started_at":null,"finished_at":"2026-11-28T01:30:01Z",
"result":{"ok":true},"error":""}`

func TestClient_ListRuns(t *testing.T) {
	t.Parallel()
	c, f := newFake(t)
	f.On("GET /v1/runs", clienttest.Reply{Status: 200, Body: `{"runs":[` + runJSON + `],"next_cursor":"n"}`})
	page, err := c.ListRuns(context.Background(), client.RunListOptions{ScheduleID: "s1", Status: "failed", Limit: 5, Cursor: "c"})
	require.NoError(t, err)
	require.Equal(t, "/v1/runs?cursor=c&limit=5&schedule_id=s1&status=failed", f.Last(t).RequestURI)
	require.Equal(t, "n", page.NextCursor)
	require.Len(t, page.Runs, 1)
	r := page.Runs[0]
	require.Equal(t, "r1", r.ID)
	require.Equal(t, client.RunSucceeded, r.Status)
	require.Equal(t, time.Date(2026, 11, 28, 1, 30, 0, 0, time.UTC), r.NominalAt)
	require.Nil(t, r.StartedAt)
	require.JSONEq(t, `{"ok":true}`, string(r.Result))
	require.JSONEq(t, runJSON, string(r.Raw))
}

func TestClient_GetRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, f := newFake(t)
	f.On("GET /v1/runs/r1", clienttest.Reply{Status: 200, Body: runJSON})
	r, err := c.GetRun(ctx, "r1")
	require.NoError(t, err)
	require.Equal(t, "reports-1", r.HandlerInstance)

	f.On("GET /v1/runs/r2", clienttest.Reply{Status: 501, Body: `{"error":{"code":"not_implemented","message":"runs are not implemented"}}`})
	_, err = c.GetRun(ctx, "r2")
	require.True(t, client.IsNotImplemented(err))
}

func TestClient_ListHandlers(t *testing.T) {
	t.Parallel()
	c, f := newFake(t)
	f.On("GET /v1/handlers", clienttest.Reply{Status: 200, Body: `{"handlers":[{"name":"reports","instance":"reports-1","state":"ready","capacity":4,"in_flight":1,"last_seen":"2026-11-28T01:30:00Z"}]}`})
	hs, err := c.ListHandlers(context.Background())
	require.NoError(t, err)
	require.Len(t, hs, 1)
	require.Equal(t, "reports-1", hs[0].Instance)
	require.Equal(t, 4, hs[0].Capacity)
	require.Equal(t, 1, hs[0].InFlight)
	require.NotNil(t, hs[0].LastSeen)
	require.Contains(t, string(hs[0].Raw), `"state":"ready"`)
}
