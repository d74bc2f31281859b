package api

import (
	"cmp"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/internal/clock"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testNow is the fake clock's reading: 2026-11-27 12:00 UTC, so the DESIGN.md
// example (cron 0 30 2 * * * in Europe/Berlin) next fires at 01:30 UTC.
var testNow = time.Date(2026, time.November, 27, 12, 0, 0, 0, time.UTC)

type testBundle struct {
	clock    *clock.Fake
	cluster  *fakeCluster
	server   *Server
	registry *prometheus.Registry
}

type setupOpts struct {
	nodeID        string
	forwardClient *http.Client
	dispatcher    Dispatcher
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupWith(t, setupOpts{})
}

func setupWith(t *testing.T, opts setupOpts) *testBundle {
	t.Helper()
	c := clock.NewFake(testNow)
	fc := newFakeCluster(c)
	reg := prometheus.NewRegistry()
	srv, err := New(Config{
		Cluster:       fc,
		Logger:        slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clock:         c,
		Registerer:    reg,
		Gatherer:      reg,
		ForwardClient: opts.forwardClient,
		NodeID:        cmp.Or(opts.nodeID, "n1"),
		Dispatcher:    opts.dispatcher,
	})
	require.NoError(t, err)
	return &testBundle{clock: c, cluster: fc, server: srv, registry: reg}
}

// do serves one request in-process. headers are key, value pairs.
func (b *testBundle) do(t *testing.T, method, target, body string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	b.server.Handler().ServeHTTP(rec, req)
	return rec
}

// create creates a schedule from body and requires 201.
func (b *testBundle) create(t *testing.T, body string) scheduleResponse {
	t.Helper()
	rec := b.do(t, http.MethodPost, "/v1/schedules", body)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	return decode[scheduleResponse](t, rec)
}

// scheduleResponse mirrors the schedule object for assertions.
type scheduleResponse struct {
	ID         string          `json:"id"`
	Handler    string          `json:"handler"`
	Method     string          `json:"method"`
	Params     json.RawMessage `json:"params"`
	Trigger    map[string]any  `json:"trigger"`
	Policy     map[string]any  `json:"policy"`
	StartAt    *string         `json:"start_at"`
	EndAt      *string         `json:"end_at"`
	MaxRuns    int             `json:"max_runs"`
	Paused     bool            `json:"paused"`
	NextFireAt *string         `json:"next_fire_at"`
	Version    uint64          `json:"version"`
	CreatedAt  string          `json:"created_at"`
	UpdatedAt  string          `json:"updated_at"`
}

type errorResponse struct {
	Error struct {
		Code    string  `json:"code"`
		Message string  `json:"message"`
		Field   *string `json:"field"`
	} `json:"error"`
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var v T
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v), rec.Body.String())
	return v
}

// requireError checks an error response; field "" means the field must be
// absent.
func requireError(t *testing.T, rec *httptest.ResponseRecorder, status int, code, field string) errorResponse {
	t.Helper()
	require.Equal(t, status, rec.Code, rec.Body.String())
	e := decode[errorResponse](t, rec)
	require.Equal(t, code, e.Error.Code, rec.Body.String())
	require.NotEmpty(t, e.Error.Message)
	if field == "" {
		require.Nil(t, e.Error.Field, rec.Body.String())
	} else {
		require.NotNil(t, e.Error.Field, rec.Body.String())
		require.Equal(t, field, *e.Error.Field, rec.Body.String())
	}
	if code == codeNoLeader {
		require.Equal(t, "1", rec.Header().Get("Retry-After"))
	}
	return e
}

// scheduleJSON is the DESIGN.md example schedule with fields replaced
// (value != nil) or removed (value == nil) by overrides.
func scheduleJSON(overrides map[string]any) string {
	m := map[string]any{
		"id":      "nightly-report",
		"handler": "reports",
		"method":  "generate",
		"params":  map[string]any{"format": "pdf"},
		"trigger": map[string]any{"cron": "0 30 2 * * *", "timezone": "Europe/Berlin"},
	}
	for k, v := range overrides {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// obj is shorthand for a JSON object in overrides.
type obj = map[string]any

// jsonNull is an explicit null in overrides.
var jsonNull = json.RawMessage("null")
