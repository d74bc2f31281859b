package szctl_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/client/clienttest"
	"github.com/schedulezero/schedulezero/fsm"
)

const nightly = `{"id":"nightly-report","handler":"reports","method":"generate","params":{"format":"pdf"},
"trigger":{"cron":"0 30 2 * * *","timezone":"Europe/Berlin"},
"policy":{"overlap":"skip","catchup_window":"1h","max_retries":3,"retry_backoff":"1s","timeout":"10m","jitter":"0s"},
"start_at":null,"end_at":null,"max_runs":0,"paused":false,"next_fire_at":"2026-11-28T01:30:00Z","version":3,
"created_at":"2026-11-27T10:00:00Z","updated_at":"2026-11-27T11:00:00Z","extra":"<kept>"}`

const nightlyTable = `ID:               nightly-report
Handler:          reports
Method:           generate
Params:           {"format":"pdf"}
Trigger:          cron 0 30 2 * * * (Europe/Berlin)
Next fire:        2026-11-28T01:30:00Z
Paused:           false
Overlap:          skip
Catch-up window:  1h
Max retries:      3
Retry backoff:    1s
Timeout:          10m
Jitter:           0s
Start at:         -
End at:           -
Max runs:         0 (unlimited)
Version:          3
Created:          2026-11-27T10:00:00Z
Updated:          2026-11-27T11:00:00Z
`

// sent decodes the schedule a request carried.
func sent(t *testing.T, req clienttest.Request) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(req.Body), &m))
	return m
}

func TestScheduleCreate(t *testing.T) {
	t.Parallel()

	t.Run("Flags", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		srv.On("POST /v1/schedules", clienttest.JSON(201, nightly))
		r := run(t, srv, "schedule", "create", "--id", "nightly-report", "--handler", "reports", "--method", "generate",
			"--params", `{"format":"pdf"}`, "--cron", "0 30 2 * * *", "--timezone", "Europe/Berlin",
			"--max-retries", "0", "--timeout", "90s", "--start-at", "2026-12-01T00:00:00Z", "--paused")
		requireOK(t, r)
		require.Equal(t, nightlyTable, r.Stdout)

		req := srv.Last(t)
		require.Equal(t, "POST", req.Method)
		require.Equal(t, "application/json", req.Header.Get("Content-Type"))
		var s fsm.Schedule
		require.NoError(t, json.Unmarshal([]byte(req.Body), &s))
		want := fsm.DefaultPolicy
		want.MaxRetries, want.Timeout = 0, fsm.Duration(90e9)
		require.Equal(t, want, s.Policy)
		require.Equal(t, "nightly-report", s.ID)
		require.Equal(t, "Europe/Berlin", s.Trigger.Timezone)
		require.JSONEq(t, `{"format":"pdf"}`, string(s.Params))
		require.True(t, s.Paused)
		require.Equal(t, "2026-12-01T00:00:00Z", s.StartAt.Format("2006-01-02T15:04:05Z07:00"))
		require.NotContains(t, sent(t, req), "next_fire_at")
	})
	t.Run("JSONOutput", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		srv.On("POST /v1/schedules", clienttest.JSON(201, nightly))
		r := run(t, srv, "schedule", "create", "-o", "json", "--id", "x", "--every", "5m")
		requireOK(t, r)
		require.JSONEq(t, nightly, r.Stdout)
		require.Contains(t, r.Stdout, `"extra": "<kept>"`, "pretty, unescaped, unknown fields kept")
		require.Equal(t, map[string]any{"every": "5m"}, sent(t, srv.Last(t))["trigger"])
	})
	t.Run("File", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		srv.On("POST /v1/schedules", clienttest.JSON(201, nightly))
		path := filepath.Join(t.TempDir(), "s.json")
		require.NoError(t, os.WriteFile(path, []byte(`{"id":"f","handler":"h","method":"m","trigger":{"every":"1m"},"policy":{"max_retries":7}}`), 0o600))
		requireOK(t, run(t, srv, "schedule", "create", "-f", path, "--method", "other"))
		var s fsm.Schedule
		require.NoError(t, json.Unmarshal([]byte(srv.Last(t).Body), &s))
		require.Equal(t, "f", s.ID)
		require.Equal(t, "other", s.Method, "flags override the file")
		want := fsm.DefaultPolicy
		want.MaxRetries = 7
		require.Equal(t, want, s.Policy, "fields absent from the file get the defaults")
	})
	t.Run("Stdin", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		srv.On("POST /v1/schedules", clienttest.JSON(201, nightly))
		r := invocation{Stdin: `{"id":"in","trigger":{"at":"2026-12-24T18:00:00Z"}}`}.run(t, "--addr", srv.URL, "schedule", "create", "-f", "-")
		requireOK(t, r)
		require.Equal(t, "in", sent(t, srv.Last(t))["id"])
	})
	t.Run("ErrFile", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		r := invocation{Stdin: `{"id":`}.run(t, "--addr", srv.URL, "schedule", "create", "-f", "-")
		requireFail(t, r, 1, "szctl: read -: unexpected EOF")
		r = run(t, srv, "schedule", "create", "-f", filepath.Join(t.TempDir(), "missing.json"))
		require.Equal(t, 1, r.Code)
		require.Contains(t, r.Stderr, "no such file or directory")
		require.Empty(t, srv.Requests())
	})
	t.Run("ErrUsage", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		for args, line := range map[string]string{
			"--cron x --every 1m":       "--cron, --every and --at are mutually exclusive",
			"--every 1m --timezone UTC": "--timezone only applies to a cron trigger",
			"--timezone UTC":            "--timezone only applies to a cron trigger, and the schedule has none",
			"--params {":                "invalid value for --params: not valid JSON",
			"--timeout 5":               `invalid value for --timeout: "5" is not a duration such as 90s or 1h`,
			"--jitter -1s":              `invalid value for --jitter: "-1s" is not a duration such as 90s or 1h`,
			"--end-at tomorrow":         `invalid value for --end-at: "tomorrow" is not an RFC 3339 time such as 2026-11-28T01:30:00Z`,
			"--max-runs -1":             "invalid value for --max-runs: must not be negative",
			"--bogus":                   "unknown flag: --bogus",
			"extra-arg":                 `unexpected argument "extra-arg"`,
		} {
			r := run(t, srv, append([]string{"schedule", "create"}, strings.Fields(args)...)...)
			requireFail(t, r, 2, "szctl: "+line+" (see 'szctl schedule create --help')")
		}
		require.Empty(t, srv.Requests())
	})
	t.Run("ErrAPI", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		srv.On("POST /v1/schedules", clienttest.Error(400, "invalid_argument", "cron: expected 5 or 6 fields", "trigger.cron"))
		r := run(t, srv, "schedule", "create", "--id", "x", "--cron", "* *")
		requireFail(t, r, 1, "szctl: cron: expected 5 or 6 fields (field: trigger.cron)")
		require.Empty(t, r.Stdout)
	})
}

func TestScheduleList(t *testing.T) {
	t.Parallel()
	page1 := `{"schedules":[` + nightly + `,{"id":"tick","handler":"h","method":"noop","trigger":{"every":"5m"},"paused":true,"version":1}],"next_cursor":"p2"}`
	page2 := `{"schedules":[{"id":"once","handler":"h","method":"m","trigger":{"at":"2026-12-24T18:00:00Z"},"next_fire_at":"2026-12-24T18:00:00Z","version":2}],"next_cursor":""}`

	t.Run("AllPages", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		srv.On("GET /v1/schedules", clienttest.JSON(200, page1), clienttest.JSON(200, page2))
		r := run(t, srv, "schedule", "list", "--limit", "2", "--stale")
		requireOK(t, r)
		require.Equal(t, `ID              HANDLER  METHOD    TRIGGER                            NEXT FIRE             PAUSED  VERSION
nightly-report  reports  generate  cron 0 30 2 * * * (Europe/Berlin)  2026-11-28T01:30:00Z  false   3
tick            h        noop      every 5m                           -                     true    1
once            h        m         at 2026-12-24T18:00:00Z            2026-12-24T18:00:00Z  false   2
`, r.Stdout)
		reqs := srv.Requests()
		require.Len(t, reqs, 2)
		require.Equal(t, "/v1/schedules?limit=2&stale=true", reqs[0].RequestURI)
		require.Equal(t, "/v1/schedules?cursor=p2&limit=2&stale=true", reqs[1].RequestURI)
	})
	t.Run("OnePage", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		srv.On("GET /v1/schedules", clienttest.JSON(200, page1))
		r := run(t, srv, "schedule", "list", "--all=false")
		require.Equal(t, 0, r.Code)
		require.Equal(t, "more schedules: --cursor p2\n", r.Stderr)
		require.Len(t, strings.Split(strings.TrimSpace(r.Stdout), "\n"), 3)
		require.Len(t, srv.Requests(), 1)
	})
	t.Run("JSON", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		srv.On("GET /v1/schedules", clienttest.JSON(200, page1), clienttest.JSON(200, page2))
		r := run(t, srv, "-o", "json", "schedule", "list")
		requireOK(t, r)
		var out struct {
			Schedules  []map[string]any `json:"schedules"`
			NextCursor *string          `json:"next_cursor"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.Stdout), &out))
		require.Len(t, out.Schedules, 3)
		require.Equal(t, "<kept>", out.Schedules[0]["extra"])
		require.Equal(t, "", *out.NextCursor)
	})
	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		srv.On("GET /v1/schedules", clienttest.JSON(200, `{"schedules":[],"next_cursor":""}`))
		r := run(t, srv, "schedule", "list")
		requireOK(t, r)
		require.Equal(t, "ID  HANDLER  METHOD  TRIGGER  NEXT FIRE  PAUSED  VERSION\n", r.Stdout)
		r = run(t, srv, "schedule", "list", "-o", "json")
		requireOK(t, r)
		require.JSONEq(t, `{"schedules":[],"next_cursor":""}`, r.Stdout)
	})
}

func TestScheduleGet(t *testing.T) {
	t.Parallel()
	srv := clienttest.NewServer(t)
	srv.On("GET /v1/schedules/nightly-report", clienttest.JSON(200, nightly))
	r := run(t, srv, "schedule", "get", "nightly-report")
	requireOK(t, r)
	require.Equal(t, nightlyTable, r.Stdout)

	r = run(t, srv, "schedule", "get", "nightly-report", "-o", "json")
	requireOK(t, r)
	require.JSONEq(t, nightly, r.Stdout)

	srv.On("GET /v1/schedules/nope", clienttest.Error(404, "not_found", `schedule "nope" not found`, ""))
	requireFail(t, run(t, srv, "schedule", "get", "nope"), 1, `szctl: schedule "nope" not found`)
	requireFail(t, run(t, srv, "schedule", "get"), 2, "szctl: missing argument: want ID (see 'szctl schedule get --help')")
}

func TestScheduleUpdate(t *testing.T) {
	t.Parallel()

	t.Run("Flags", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		srv.On("GET /v1/schedules/nightly-report", clienttest.JSON(200, nightly))
		srv.On("PUT /v1/schedules/nightly-report", clienttest.JSON(200, nightly))
		r := run(t, srv, "schedule", "update", "nightly-report", "--timezone", "UTC", "--max-retries", "5", "--params", "")
		requireOK(t, r)
		require.Equal(t, nightlyTable, r.Stdout)
		reqs := srv.Requests()
		require.Len(t, reqs, 2)
		put := reqs[1]
		require.Equal(t, "PUT", put.Method)
		require.Equal(t, "3", put.Header.Get("If-Match"))
		var s fsm.Schedule
		require.NoError(t, json.Unmarshal([]byte(put.Body), &s))
		require.Equal(t, "0 30 2 * * *", s.Trigger.Cron, "the cron expression is kept")
		require.Equal(t, "UTC", s.Trigger.Timezone)
		require.Equal(t, 5, s.Policy.MaxRetries)
		require.Equal(t, fsm.Duration(3600e9), s.Policy.CatchupWindow, "unchanged fields are kept")
		require.Equal(t, "reports", s.Handler)
		require.Nil(t, s.Params)
		require.NotContains(t, sent(t, put), "next_fire_at")
	})
	t.Run("Conflict", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		srv.On("GET /v1/schedules/nightly-report", clienttest.JSON(200, nightly))
		srv.On("PUT /v1/schedules/nightly-report", clienttest.Error(409, "version_mismatch", "schedule nightly-report is at version 4, not 3", "version"))
		r := run(t, srv, "schedule", "update", "nightly-report", "--every", "1h")
		requireFail(t, r, 1, "szctl: schedule nightly-report is at version 4, not 3 (field: version)")
	})
	t.Run("File", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		srv.On("PUT /v1/schedules/x", clienttest.JSON(200, nightly))
		path := filepath.Join(t.TempDir(), "x.json")
		require.NoError(t, os.WriteFile(path, []byte(`{"handler":"h","method":"m","trigger":{"every":"1m"},"version":7}`), 0o600))
		requireOK(t, run(t, srv, "schedule", "update", "x", "-f", path))
		reqs := srv.Requests()
		require.Len(t, reqs, 1, "no GET with -f")
		require.Equal(t, "7", reqs[0].Header.Get("If-Match"))
		require.Equal(t, "x", sent(t, reqs[0])["id"])

		require.NoError(t, os.WriteFile(path, []byte(`{"id":"y"}`), 0o600))
		r := run(t, srv, "schedule", "update", "x", "-f", path)
		requireFail(t, r, 2, `szctl: the file is for schedule "y", not "x" (see 'szctl schedule update --help')`)
	})
	t.Run("ErrUsage", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		requireFail(t, run(t, srv, "schedule", "update", "x"), 2,
			"szctl: nothing to update: give the fields to change as flags, or -f FILE (see 'szctl schedule update --help')")
		requireFail(t, run(t, srv, "schedule", "update", "x", "--id", "y"), 2,
			"szctl: unknown flag: --id (see 'szctl schedule update --help')")
		require.Empty(t, srv.Requests())

		srv.On("GET /v1/schedules/tick", clienttest.JSON(200, `{"id":"tick","trigger":{"every":"5m"},"version":1}`))
		requireFail(t, run(t, srv, "schedule", "update", "tick", "--timezone", "UTC"), 2,
			"szctl: --timezone only applies to a cron trigger, and the schedule has none (see 'szctl schedule update --help')")
	})
}

func TestSchedulePauseResumeDelete(t *testing.T) {
	t.Parallel()
	srv := clienttest.NewServer(t)
	srv.On("POST /v1/schedules/nightly-report/pause", clienttest.JSON(200, nightly))
	srv.On("POST /v1/schedules/nightly-report/resume", clienttest.Reply{Status: 204})
	srv.On("DELETE /v1/schedules/nightly-report", clienttest.Reply{Status: 204})

	r := run(t, srv, "schedule", "pause", "nightly-report")
	requireOK(t, r)
	require.Equal(t, "paused schedule nightly-report (version 3)\n", r.Stdout)
	r = run(t, srv, "schedule", "pause", "nightly-report", "-o", "json")
	requireOK(t, r)
	require.JSONEq(t, nightly, r.Stdout)

	r = run(t, srv, "schedule", "resume", "nightly-report")
	requireOK(t, r)
	require.Equal(t, "resumed schedule nightly-report\n", r.Stdout)

	r = run(t, srv, "schedule", "delete", "nightly-report")
	requireOK(t, r)
	require.Equal(t, "deleted schedule nightly-report\n", r.Stdout)
	r = run(t, srv, "schedule", "delete", "nightly-report", "-o", "json")
	requireOK(t, r)
	require.Empty(t, r.Stdout)

	srv.On("POST /v1/schedules/gone/pause", clienttest.Error(404, "not_found", `schedule "gone" not found`, ""))
	requireFail(t, run(t, srv, "schedule", "pause", "gone"), 1, `szctl: schedule "gone" not found`)
	srv.On("POST /v1/schedules/x/resume", clienttest.Reply{Status: 503, Body: `{"error":{"code":"no_leader","message":"no leader: election in progress"}}`, Header: map[string]string{"Retry-After": "1"}})
	requireFail(t, run(t, srv, "schedule", "resume", "x"), 1, "szctl: no leader: election in progress")
}

func TestScheduleTrigger(t *testing.T) {
	t.Parallel()
	srv := clienttest.NewServer(t)
	srv.On("POST /v1/schedules/x/trigger", clienttest.JSON(202, `{"id":"run-1","schedule_id":"x","status":"fired"}`))
	r := run(t, srv, "schedule", "trigger", "x", "--request-id", "abc")
	requireOK(t, r)
	require.Equal(t, "triggered schedule x (run run-1)\n", r.Stdout)
	require.JSONEq(t, `{"request_id":"abc"}`, srv.Last(t).Body)

	srv.On("POST /v1/schedules/y/trigger", clienttest.Error(501, "not_implemented", "manual trigger is not implemented", ""))
	requireFail(t, run(t, srv, "schedule", "trigger", "y"), 1, "szctl: manual triggers are not yet available on this server")
}
