package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/client/clienttest"
	"github.com/schedulezero/schedulezero/fsm"
)

func TestClient_CreateSchedules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		c, f := newFake(t)
		f.On("POST /v1/schedules:batch", clienttest.JSON(200, `{"results":[
			{"id":"a","status":201},
			{"id":"b","status":409,"error":{"code":"already_exists","message":"fsm: already exists: schedule \"b\""}}]}`))
		a, b := newSchedule(), newSchedule()
		a.ID, b.ID = "a", "b"
		got, err := c.CreateSchedules(ctx, []*client.Schedule{a, b})
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.True(t, got[0].Created())
		require.NoError(t, got[0].Err())
		require.Equal(t, "a", got[0].ID)
		require.False(t, got[1].Created())
		require.True(t, client.IsConflict(got[1].Err()))
		require.Equal(t, "already_exists", got[1].Error.Code)

		req := f.Last(t)
		require.Equal(t, "/v1/schedules:batch", req.RequestURI)
		require.Equal(t, "application/json", req.Header.Get("Content-Type"))
		var sent struct {
			Schedules []fsm.Schedule `json:"schedules"`
		}
		require.NoError(t, json.Unmarshal([]byte(req.Body), &sent))
		require.Equal(t, []fsm.Schedule{a.Schedule, b.Schedule}, sent.Schedules)
		require.NotContains(t, req.Body, "next_fire_at")
	})

	t.Run("InvalidItem", func(t *testing.T) {
		t.Parallel()
		c, f := newFake(t)
		f.On("POST /v1/schedules:batch", clienttest.Error(400, "invalid_argument", "schedules[0]: id is required", "schedules[0].id"))
		_, err := c.CreateSchedules(ctx, []*client.Schedule{{}})
		var e *client.APIError
		require.ErrorAs(t, err, &e)
		require.Equal(t, http.StatusBadRequest, e.Status)
		require.Equal(t, "schedules[0].id", e.Field)
	})
}

func TestClient_BenchCommits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	body := `{"commits":500,"concurrency":2,"payload_bytes":0,"elapsed_ms":250,"per_sec":2000,"p50_ms":0.9,"p99_ms":3.5}`

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		c, f := newFake(t)
		f.On("POST /v1/cluster/bench/commits", clienttest.JSON(200, body))
		got, err := c.BenchCommits(ctx, client.CommitBenchOptions{})
		require.NoError(t, err)
		require.Equal(t, &client.CommitBench{Commits: 500, Concurrency: 2, ElapsedMS: 250, PerSec: 2000, P50MS: 0.9, P99MS: 3.5}, got)
		require.Equal(t, "/v1/cluster/bench/commits", f.Last(t).RequestURI)
	})

	t.Run("Options", func(t *testing.T) {
		t.Parallel()
		c, f := newFake(t)
		f.On("POST /v1/cluster/bench/commits", clienttest.JSON(200, body))
		_, err := c.BenchCommits(ctx, client.CommitBenchOptions{Commits: 500, Concurrency: 2, PayloadSet: true})
		require.NoError(t, err)
		require.Equal(t, "/v1/cluster/bench/commits?concurrency=2&n=500&payload=0", f.Last(t).RequestURI)
	})

	t.Run("NoLeader", func(t *testing.T) {
		t.Parallel()
		c, f := newFake(t)
		f.On("POST /v1/cluster/bench/commits", clienttest.Error(503, "no_leader", "no leader", ""))
		_, err := c.BenchCommits(ctx, client.CommitBenchOptions{})
		require.True(t, client.IsNoLeader(err))
	})
}
