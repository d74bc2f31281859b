package api

import (
	"context"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/fsm"
)

// fakeDispatcher commits manual runs through the fake cluster like the
// real dispatcher does.
type fakeDispatcher struct {
	c       *fakeCluster
	leading atomic.Bool
}

func (d *fakeDispatcher) Trigger(ctx context.Context, id, requestID string) (*fsm.Run, error) {
	rid := fsm.ManualRunID(id, requestID)
	now := d.c.clock.Now()
	res, err := d.c.Propose(ctx, fsm.Event{Type: fsm.RunFired, Run: &fsm.Run{ID: rid, ScheduleID: id, NominalAt: now, Trigger: fsm.TriggerManual}})
	if err != nil {
		return nil, err
	}
	if res[0].Err != nil {
		if r, ok := d.c.fsm.Run(rid); ok {
			return r, nil
		}
		return nil, res[0].Err
	}
	return res[0].Run, nil
}

func (d *fakeDispatcher) Handlers() []HandlerStatus {
	return []HandlerStatus{{Name: "reports", Instance: "i1", State: "live", Capacity: 4, InFlight: 1, LastSeen: testNow}}
}

func (d *fakeDispatcher) IsLeading() bool { return d.leading.Load() }

func setupDispatch(t *testing.T) (*testBundle, *fakeDispatcher) {
	fd := &fakeDispatcher{}
	fd.leading.Store(true)
	b := setupWith(t, setupOpts{dispatcher: fd})
	fd.c = b.cluster
	return b, fd
}

type runsPage struct {
	Runs       []fsm.Run `json:"runs"`
	NextCursor string    `json:"next_cursor"`
}

func TestServer_Trigger(t *testing.T) {
	t.Parallel()
	b, fd := setupDispatch(t)
	b.create(t, scheduleJSON(nil))

	rec := b.do(t, http.MethodPost, "/v1/schedules/nightly-report/trigger", `{"request_id":"r1"}`)
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	first := decode[fsm.Run](t, rec)
	require.Equal(t, "nightly-report@manual:r1", first.ID)
	require.Equal(t, fsm.TriggerManual, first.Trigger)

	rec = b.do(t, http.MethodPost, "/v1/schedules/nightly-report/trigger", `{"request_id":"r1"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, first.ID, decode[fsm.Run](t, rec).ID)

	require.Equal(t, http.StatusAccepted, b.do(t, http.MethodPost, "/v1/schedules/nightly-report/trigger", "").Code)
	requireError(t, b.do(t, http.MethodPost, "/v1/schedules/missing/trigger", ""), http.StatusNotFound, codeNotFound, "")
	requireError(t, b.do(t, http.MethodPost, "/v1/schedules/nightly-report/trigger", `[`), http.StatusBadRequest, codeInvalidArgument, "")

	fd.leading.Store(false) // a follower forwards; no leader known here → 503
	requireError(t, b.do(t, http.MethodPost, "/v1/schedules/nightly-report/trigger", ""), http.StatusServiceUnavailable, codeNoLeader, "")
}

func TestServer_Runs(t *testing.T) {
	t.Parallel()
	b, _ := setupDispatch(t)
	b.create(t, scheduleJSON(nil))
	for _, id := range []string{"a", "b", "c"} {
		require.Equal(t, http.StatusAccepted, b.do(t, http.MethodPost, "/v1/schedules/nightly-report/trigger", `{"request_id":"`+id+`"}`).Code)
	}
	rec := b.do(t, http.MethodGet, "/v1/runs?schedule_id=nightly-report&limit=2", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	page := decode[runsPage](t, rec)
	require.Len(t, page.Runs, 2)
	require.NotEmpty(t, page.NextCursor)
	rec = b.do(t, http.MethodGet, "/v1/runs?limit=2&cursor="+url.QueryEscape(page.NextCursor), "")
	page2 := decode[runsPage](t, rec)
	require.Len(t, page2.Runs, 1)
	require.Empty(t, page2.NextCursor)

	rec = b.do(t, http.MethodGet, "/v1/runs?status=failed&stale=true", "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Empty(t, decode[runsPage](t, rec).Runs)
	requireError(t, b.do(t, http.MethodGet, "/v1/runs?status=bogus", ""), http.StatusBadRequest, codeInvalidArgument, "status")

	id := page.Runs[0].ID
	for _, path := range []string{"/v1/runs/" + id, "/v1/runs/" + url.PathEscape(id), "/v1/runs/nightly-report%40manual%3Aa"} {
		rec = b.do(t, http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, rec.Code, path+": "+rec.Body.String())
		require.Equal(t, id, decode[fsm.Run](t, rec).ID)
	}
	requireError(t, b.do(t, http.MethodGet, "/v1/runs/nope@x", ""), http.StatusNotFound, codeNotFound, "")
}

func TestServer_Handlers(t *testing.T) {
	t.Parallel()
	b, fd := setupDispatch(t)
	rec := b.do(t, http.MethodGet, "/v1/handlers", "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `{"handlers":[{"name":"reports","instance":"i1","state":"live","capacity":4,"in_flight":1,"last_seen":"2026-11-27T12:00:00Z"}]}`, rec.Body.String())
	fd.leading.Store(false)
	requireError(t, b.do(t, http.MethodGet, "/v1/handlers", ""), http.StatusServiceUnavailable, codeNoLeader, "")

	nod := setup(t) // no dispatcher configured
	requireError(t, nod.do(t, http.MethodGet, "/v1/handlers", ""), http.StatusServiceUnavailable, codeNoLeader, "")
}
