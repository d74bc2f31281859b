package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/client/clienttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNormalizeAddr(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"127.0.0.1:8888":           "http://127.0.0.1:8888",
		"  localhost:8888 ":        "http://localhost:8888",
		"http://127.0.0.1:8888":    "http://127.0.0.1:8888",
		"http://127.0.0.1:8888/":   "http://127.0.0.1:8888",
		"HTTP://node1:8888":        "http://node1:8888",
		"https://sz.example:443":   "https://sz.example:443",
		"https://sz.example/base/": "https://sz.example/base",
		"[::1]:8888":               "http://[::1]:8888",
		":8888":                    "http://:8888",
	} {
		got, err := client.NormalizeAddr(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "  ", "tcp://127.0.0.1:4242", "http://", "http://h:port", "http://u@h:1", "h:1?x=1", "h:1#frag"} {
		_, err := client.NormalizeAddr(in)
		require.Error(t, err, "%q", in)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		c, err := client.New("127.0.0.1:9")
		require.NoError(t, err)
		require.Equal(t, "http://127.0.0.1:9", c.Addr())
		c.CloseIdleConnections()
	})
	t.Run("ErrInvalidAddr", func(t *testing.T) {
		t.Parallel()
		_, err := client.New("zmq://x:1")
		require.ErrorContains(t, err, "scheme must be http or https")
	})
}

func TestClient_Errors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("Envelope", func(t *testing.T) {
		t.Parallel()
		c, f := newFake(t)
		f.On("GET /v1/schedules/x", clienttest.Reply{Status: 400, Body: `{"error":{"code":"invalid","message":"bad cron","field":"trigger.cron"}}`})
		_, err := c.GetSchedule(ctx, "x")
		var e *client.APIError
		require.ErrorAs(t, err, &e)
		require.Equal(t, client.APIError{Status: 400, Code: "invalid", Message: "bad cron", Field: "trigger.cron"}, *e)
		require.Equal(t, "client: 400 invalid: bad cron (field: trigger.cron)", e.Error())
		require.Equal(t, "bad cron (field: trigger.cron)", e.Text())
		require.False(t, client.IsNotFound(err))
	})
	t.Run("PlainBody", func(t *testing.T) {
		t.Parallel()
		c, f := newFake(t)
		f.On("GET /v1/schedules/x", clienttest.Reply{Status: 502, Body: "upstream down\nmore", Header: map[string]string{"Content-Type": "text/plain"}})
		_, err := c.GetSchedule(ctx, "x")
		var e *client.APIError
		require.ErrorAs(t, err, &e)
		require.Equal(t, client.APIError{Status: 502, Message: "upstream down"}, *e)
	})
	t.Run("EmptyBody", func(t *testing.T) {
		t.Parallel()
		c, f := newFake(t)
		f.On("DELETE /v1/schedules/x", clienttest.Reply{Status: 404})
		err := c.DeleteSchedule(ctx, "x")
		require.True(t, client.IsNotFound(err))
		require.Equal(t, "client: 404: not found", err.Error())
	})
	t.Run("Helpers", func(t *testing.T) {
		t.Parallel()
		wrap := func(e *client.APIError) error { return errors.Join(errors.New("ctx"), e) }
		require.True(t, client.IsNotFound(wrap(&client.APIError{Status: 404})))
		require.True(t, client.IsConflict(wrap(&client.APIError{Status: 409})))
		require.True(t, client.IsNotImplemented(wrap(&client.APIError{Status: 501})))
		require.True(t, client.IsNoLeader(wrap(&client.APIError{Status: 503, Code: "no_leader"})))
		require.False(t, client.IsNoLeader(wrap(&client.APIError{Status: 503, Code: "not_ready"})))
		require.False(t, client.IsNotFound(errors.New("404")))
		require.False(t, client.IsConflict(nil))
	})
	t.Run("RetryAfter", func(t *testing.T) {
		t.Parallel()
		c, f := newFake(t)
		f.On("POST /v1/schedules/x/pause", clienttest.Reply{Status: 503, Body: `{"error":{"code":"no_leader","message":"no leader"}}`, Header: map[string]string{"Retry-After": "2"}})
		_, err := c.PauseSchedule(ctx, "x")
		var e *client.APIError
		require.ErrorAs(t, err, &e)
		require.Equal(t, 2*time.Second, e.RetryAfter)
		require.True(t, client.IsNoLeader(err))
		require.Len(t, f.Requests(), 1, "writes are not retried without WithRetry")
	})
	t.Run("ErrEmptyID", func(t *testing.T) {
		t.Parallel()
		c, f := newFake(t)
		_, err := c.GetSchedule(ctx, "")
		require.ErrorIs(t, err, client.ErrEmptyID)
		_, err = c.GetRun(ctx, "")
		require.ErrorIs(t, err, client.ErrEmptyID)
		require.ErrorIs(t, c.RemoveMember(ctx, ""), client.ErrEmptyID)
		require.ErrorIs(t, c.DeleteSchedule(ctx, ""), client.ErrEmptyID)
		require.Empty(t, f.Requests())
	})
	t.Run("BadJSON", func(t *testing.T) {
		t.Parallel()
		c, f := newFake(t)
		f.On("GET /v1/cluster/self", clienttest.Reply{Status: 200, Body: `{"id":`})
		_, err := c.Self(ctx)
		require.ErrorContains(t, err, "client: decode GET /v1/cluster/self response")
	})
	t.Run("Unreachable", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		addr := srv.URL
		srv.Close()
		c, err := client.New(addr)
		require.NoError(t, err)
		defer c.CloseIdleConnections()
		require.Error(t, c.Healthz(ctx))
	})
}

func TestClient_Retry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	noLeader := clienttest.Reply{Status: 503, Body: `{"error":{"code":"no_leader","message":"no leader"}}`}

	t.Run("GetRetriedUntilLeader", func(t *testing.T) {
		t.Parallel()
		c, f := newFake(t, client.WithRetry(10*time.Second))
		client.SetBackoff(c, time.Millisecond)
		f.On("GET /v1/cluster/members", noLeader, noLeader, clienttest.Reply{Status: 200, Body: `{"members":[{"id":"n1"}]}`})
		ms, err := c.Members(ctx)
		require.NoError(t, err)
		require.Len(t, ms, 1)
		require.Len(t, f.Requests(), 3)
	})
	t.Run("BudgetSpent", func(t *testing.T) {
		t.Parallel()
		c, f := newFake(t, client.WithRetry(30*time.Millisecond))
		client.SetBackoff(c, 10*time.Millisecond)
		f.On("GET /v1/cluster/members", noLeader)
		_, err := c.Members(ctx)
		require.True(t, client.IsNoLeader(err))
		n := len(f.Requests())
		require.GreaterOrEqual(t, n, 2)
		require.LessOrEqual(t, n, 5)
	})
	t.Run("OtherErrorsNotRetried", func(t *testing.T) {
		t.Parallel()
		c, f := newFake(t, client.WithRetry(10*time.Second))
		f.On("GET /readyz", clienttest.Reply{Status: 500})
		_, err := c.Readyz(ctx)
		require.Error(t, err)
		require.Len(t, f.Requests(), 1)
	})
	t.Run("ReadyzNotRetried", func(t *testing.T) {
		t.Parallel()
		c, f := newFake(t, client.WithRetry(10*time.Second))
		f.On("GET /readyz", noLeader)
		ready, err := c.Readyz(ctx)
		require.NoError(t, err)
		require.False(t, ready)
		require.Len(t, f.Requests(), 1)
	})
	t.Run("WritesNotRetried", func(t *testing.T) {
		t.Parallel()
		c, f := newFake(t, client.WithRetry(10*time.Second))
		client.SetBackoff(c, time.Millisecond)
		f.On("POST /v1/cluster/leave", noLeader)
		require.True(t, client.IsNoLeader(c.Leave(ctx)))
		require.Len(t, f.Requests(), 1)
	})
	t.Run("ContextCancelled", func(t *testing.T) {
		t.Parallel()
		c, f := newFake(t, client.WithRetry(time.Minute))
		f.On("GET /v1/cluster/members", clienttest.Reply{Status: 503, Body: noLeader.Body, Header: map[string]string{"Retry-After": "30"}})
		ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := c.Members(ctx)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestClient_Timeout(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, client.WithTimeout(50*time.Millisecond), client.WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	err = c.Healthz(context.Background())
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestClient_Health(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, f := newFake(t, client.WithUserAgent("test-agent"))
	f.On("GET /healthz", clienttest.Reply{Status: 200, Body: "ok", Header: map[string]string{"Content-Type": "text/plain"}})
	require.NoError(t, c.Healthz(ctx))
	require.Equal(t, "test-agent", f.Last(t).Header.Get("User-Agent"))

	f.On("GET /readyz", clienttest.Reply{Status: 200}, clienttest.Reply{Status: 503, Body: `{"error":{"code":"not_ready","message":"catching up"}}`}, clienttest.Reply{Status: 500})
	for _, want := range []bool{true, false} {
		ready, err := c.Readyz(ctx)
		require.NoError(t, err)
		require.Equal(t, want, ready)
	}
	ready, err := c.Readyz(ctx)
	require.Error(t, err)
	require.False(t, ready)
}
