package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/cluster"
)

func TestNew(t *testing.T) {
	t.Parallel()

	t.Run("ErrMissingCluster", func(t *testing.T) {
		t.Parallel()
		_, err := New(Config{NodeID: "n1"})
		require.ErrorIs(t, err, ErrInvalidConfig)
	})

	t.Run("ErrMissingNodeID", func(t *testing.T) {
		t.Parallel()
		_, err := New(Config{Cluster: newFakeCluster(nil)})
		require.ErrorIs(t, err, ErrInvalidConfig)
	})

	t.Run("SharedRegistry", func(t *testing.T) {
		t.Parallel()
		reg := prometheus.NewRegistry()
		for range 2 {
			_, err := New(Config{Cluster: newFakeCluster(nil), NodeID: "n1", Registerer: reg})
			require.NoError(t, err)
		}
	})

	t.Run("ErrRegistryConflict", func(t *testing.T) {
		t.Parallel()
		reg := prometheus.NewRegistry()
		reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "sz_http_requests_total", Help: "clash"}))
		_, err := New(Config{Cluster: newFakeCluster(nil), NodeID: "n1", Registerer: reg})
		require.Error(t, err)
	})
}

func TestServer_Healthz(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cluster.setReady(false, cluster.Self{})
	rec := b.do(t, http.MethodGet, "/healthz", "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `{"status":"ok"}`, rec.Body.String())
}

func TestServer_Readyz(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		ready  bool
		self   cluster.Self
		status int
		reason string
	}{
		{"Ready", true, cluster.Self{Member: true, LeaderID: "n1"}, http.StatusOK, ""},
		{"NotMember", false, cluster.Self{State: "follower"}, http.StatusServiceUnavailable, "not a member of a cluster"},
		{"NoLeader", false, cluster.Self{Member: true, State: "candidate"}, http.StatusServiceUnavailable, "no leader known"},
		{"CatchingUp", false, cluster.Self{Member: true, LeaderID: "n1", CommitIndex: 9, AppliedIndex: 3},
			http.StatusServiceUnavailable, "catching up: applied index 3, commit index 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.cluster.setReady(tt.ready, tt.self)
			rec := b.do(t, http.MethodGet, "/readyz", "")
			require.Equal(t, tt.status, rec.Code)
			got := decode[map[string]any](t, rec)
			require.Equal(t, tt.ready, got["ready"])
			if !tt.ready {
				require.Equal(t, tt.reason, got["reason"])
			}
		})
	}
}

func TestServer_Metrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.do(t, http.MethodGet, "/healthz", "")
	b.do(t, http.MethodGet, "/healthz", "")
	b.do(t, http.MethodGet, "/no/such/route", "")
	b.do(t, "BREW", "/v1/schedules", "")
	b.do(t, http.MethodGet, "/v1/schedules/x", "")

	rec := b.do(t, http.MethodGet, "/metrics", "")
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	require.Contains(t, body, `sz_http_requests_total{code="200",method="GET",route="GET /healthz"} 2`)
	require.Contains(t, body, `sz_http_requests_total{code="404",method="GET",route="unmatched"} 1`)
	require.Contains(t, body, `sz_http_requests_total{code="405",method="OTHER",route="unmatched"} 1`)
	require.Contains(t, body, `sz_http_requests_total{code="404",method="GET",route="GET /v1/schedules/{id}"} 1`)
	require.Contains(t, body, `sz_http_request_duration_seconds_count{method="GET",route="GET /healthz"} 2`)
}

func TestServer_Dashboard(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.do(t, http.MethodGet, "/", "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	body := rec.Body.String()
	require.True(t, strings.HasPrefix(body, "<!DOCTYPE html>"))
	for _, want := range []string{"/v1/cluster/self", "/v1/cluster/members", "/v1/schedules", "next_fire_at", "digest"} {
		require.Contains(t, body, want)
	}
	for _, external := range []string{`src="http`, `href="http`, "@import"} {
		require.NotContains(t, body, external, "the dashboard must be self-contained")
	}
	requireError(t, b.do(t, http.MethodGet, "/index.html", ""), http.StatusNotFound, codeNotFound, "")
}

func TestServer_Routing(t *testing.T) {
	t.Parallel()

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, path := range []string{"/nope", "/v1/schedules/a/b/c", "/v1/"} {
			requireError(t, b.do(t, http.MethodGet, path, ""), http.StatusNotFound, codeNotFound, "")
		}
	})

	t.Run("ErrMethodNotAllowed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rec := b.do(t, http.MethodPatch, "/v1/schedules/x", "")
		requireError(t, rec, http.StatusMethodNotAllowed, codeMethodNotAllowed, "")
		require.Equal(t, "DELETE, GET, HEAD, PUT", rec.Header().Get("Allow"))
		requireError(t, b.do(t, http.MethodPost, "/healthz", ""), http.StatusMethodNotAllowed, codeMethodNotAllowed, "")
	})

	t.Run("CleanPathRedirect", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rec := b.do(t, http.MethodGet, "/v1//schedules", "")
		require.Equal(t, http.StatusTemporaryRedirect, rec.Code)
		require.Equal(t, "/v1/schedules", rec.Header().Get("Location"))
	})
}

// panicCluster panics in Self, standing in for any handler bug.
type panicCluster struct{ *fakeCluster }

func (panicCluster) Self() cluster.Self { panic("boom") }

func TestServer_Recover(t *testing.T) {
	t.Parallel()

	t.Run("PanicBecomes500", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		srv, err := New(Config{Cluster: panicCluster{b.cluster}, NodeID: "n1", Registerer: b.registry})
		require.NoError(t, err)
		b.server = srv
		requireError(t, b.do(t, http.MethodGet, "/v1/cluster/self", ""), http.StatusInternalServerError, codeInternal, "")
		metrics := b.do(t, http.MethodGet, "/metrics", "")
		require.NotContains(t, metrics.Body.String(), "boom")
	})

	t.Run("RealServer", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		srv, err := New(Config{Cluster: panicCluster{b.cluster}, NodeID: "n1"})
		require.NoError(t, err)
		ts := httptest.NewServer(srv.Handler())
		defer ts.Close()
		resp, err := ts.Client().Get(ts.URL + "/v1/cluster/self")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		require.JSONEq(t, `{"error":{"code":"internal","message":"internal error"}}`, string(body))
	})
}
