package szctl_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/client/clienttest"
)

const run1 = `{"id":"r1","schedule_id":"nightly-report","nominal_at":"2026-11-28T01:30:00Z","fired_at":"2026-11-28T01:30:00Z",
"attempt":1,"status":"succeeded","handler_instance":"reports-1","started_at":"2026-11-28T01:30:01Z","finished_at":"2026-11-28T01:30:02Z",
"result":{"pages":3},"error":""}`

func TestRunsList(t *testing.T) {
	t.Parallel()
	srv := clienttest.NewServer(t)
	srv.On("GET /v1/runs", clienttest.JSON(200, `{"runs":[`+run1+`,{"id":"r2","schedule_id":"tick","nominal_at":"2026-11-28T01:35:00Z","attempt":2,"status":"failed","error":"boom"}],"next_cursor":"c2"}`))
	r := run(t, srv, "runs", "list", "--schedule-id", "nightly-report", "--status", "failed", "--limit", "2")
	require.Equal(t, 0, r.Code)
	require.Equal(t, `ID  SCHEDULE        NOMINAL               ATTEMPT  STATUS     INSTANCE   FINISHED
r1  nightly-report  2026-11-28T01:30:00Z  1        succeeded  reports-1  2026-11-28T01:30:02Z
r2  tick            2026-11-28T01:35:00Z  2        failed     -          -
`, r.Stdout)
	require.Equal(t, "more runs: --cursor c2\n", r.Stderr)
	require.Equal(t, "/v1/runs?limit=2&schedule_id=nightly-report&status=failed", srv.Last(t).RequestURI)

	r = run(t, srv, "runs", "list", "-o", "json", "--cursor", "c2")
	requireOK(t, r)
	require.Contains(t, r.Stdout, `"next_cursor": "c2"`)
	require.Contains(t, r.Stdout, `"pages": 3`)
	require.Equal(t, "/v1/runs?cursor=c2", srv.Last(t).RequestURI)

	srv.On("GET /v1/runs", clienttest.Error(501, "not_implemented", "not implemented", ""))
	requireFail(t, run(t, srv, "runs", "list"), 1, "szctl: runs are not yet available on this server")
}

func TestRunsGet(t *testing.T) {
	t.Parallel()
	srv := clienttest.NewServer(t)
	srv.On("GET /v1/runs/r1", clienttest.JSON(200, run1))
	r := run(t, srv, "runs", "get", "r1")
	requireOK(t, r)
	require.Equal(t, `ID:                r1
Schedule:          nightly-report
Status:            succeeded
Attempt:           1
Nominal at:        2026-11-28T01:30:00Z
Fired at:          2026-11-28T01:30:00Z
Started at:        2026-11-28T01:30:01Z
Finished at:       2026-11-28T01:30:02Z
Handler instance:  reports-1
Result:            {"pages":3}
Error:             -
`, r.Stdout)
	r = run(t, srv, "runs", "get", "r1", "-o", "json")
	requireOK(t, r)
	require.JSONEq(t, run1, r.Stdout)

	srv.On("GET /v1/runs/r9", clienttest.Error(501, "not_implemented", "not implemented", ""))
	requireFail(t, run(t, srv, "runs", "get", "r9"), 1, "szctl: runs are not yet available on this server")
}

func TestHandlersList(t *testing.T) {
	t.Parallel()
	srv := clienttest.NewServer(t)
	srv.On("GET /v1/handlers", clienttest.JSON(200, `{"handlers":[
{"name":"reports","instance":"reports-1","state":"ready","capacity":4,"in_flight":1,"last_seen":"2026-11-28T00:59:58.5Z"},
{"name":"reports","instance":"reports-2","state":"expired","capacity":4,"in_flight":0,"last_seen":"2026-11-28T00:55:00Z"}]}`))
	r := run(t, srv, "handlers", "list")
	requireOK(t, r)
	require.Equal(t, `NAME     INSTANCE   STATE    CAPACITY  IN-FLIGHT  LAST-SEEN
reports  reports-1  ready    4         1          1.5s
reports  reports-2  expired  4         0          5m0s
`, r.Stdout)
	r = run(t, srv, "handlers", "list", "-o", "json")
	requireOK(t, r)
	require.Contains(t, r.Stdout, `"handlers": [`)

	srv.On("GET /v1/handlers", clienttest.Error(501, "not_implemented", "not implemented", ""))
	requireFail(t, run(t, srv, "handlers", "list"), 1, "szctl: handlers are not yet available on this server")
}
