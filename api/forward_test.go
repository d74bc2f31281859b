package api

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/cluster"
	"github.com/schedulezero/schedulezero/fsm"
)

// forwardBundle is a follower (n2, in-process) whose fake cluster answers
// ErrNotLeader and names a leader (n1) served by a real httptest.Server.
type forwardBundle struct {
	follower *testBundle
	leader   *testBundle
	leaderTS *httptest.Server

	mu   sync.Mutex
	seen []*http.Request // requests the leader received
	body [][]byte        // and their bodies
}

func setupForward(t *testing.T) *forwardBundle {
	t.Helper()
	fb := &forwardBundle{leader: setup(t)}
	fb.leaderTS = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fb.mu.Lock()
		fb.seen = append(fb.seen, r.Clone(context.Background()))
		fb.body = append(fb.body, body)
		fb.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		fb.leader.server.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(fb.leaderTS.Close)
	fb.follower = setupWith(t, setupOpts{nodeID: "n2", forwardClient: fb.leaderTS.Client()})
	fb.follower.cluster.setErr(cluster.ErrNotLeader)
	fb.follower.cluster.setLeader(cluster.LeaderInfo{ID: "n1", HTTPAddr: fb.leaderTS.Listener.Addr().String()})
	return fb
}

// received returns the requests the leader got and their bodies.
func (fb *forwardBundle) received() ([]*http.Request, [][]byte) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	return append([]*http.Request(nil), fb.seen...), append([][]byte(nil), fb.body...)
}

func TestServer_Forward(t *testing.T) {
	t.Parallel()

	t.Run("CreateForwardedToLeader", func(t *testing.T) {
		t.Parallel()
		fb := setupForward(t)
		body := scheduleJSON(nil)
		rec := fb.follower.do(t, http.MethodPost, "/v1/schedules?x=1", body)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		require.Equal(t, `"1"`, rec.Header().Get("ETag"))
		require.Equal(t, "nightly-report", decode[scheduleResponse](t, rec).ID)

		_, onLeader := fb.leader.cluster.fsm.Get("nightly-report")
		require.True(t, onLeader)
		_, onFollower := fb.follower.cluster.fsm.Get("nightly-report")
		require.False(t, onFollower)

		reqs, bodies := fb.received()
		require.Len(t, reqs, 1)
		require.Equal(t, http.MethodPost, reqs[0].Method)
		require.Equal(t, "/v1/schedules", reqs[0].URL.Path)
		require.Equal(t, "x=1", reqs[0].URL.RawQuery)
		require.Equal(t, "n2", reqs[0].Header.Get(HeaderForwardedBy))
		require.Equal(t, "application/json", reqs[0].Header.Get("Content-Type"))
		require.Equal(t, body, string(bodies[0]), "the original body bytes are forwarded")
	})

	t.Run("ValidationIsLocal", func(t *testing.T) {
		t.Parallel()
		fb := setupForward(t)
		rec := fb.follower.do(t, http.MethodPost, "/v1/schedules", scheduleJSON(obj{"trigger": obj{"cron": "nope"}}))
		requireError(t, rec, http.StatusBadRequest, codeInvalidArgument, "trigger.cron")
		reqs, _ := fb.received()
		require.Empty(t, reqs)
	})

	t.Run("UpdateWithIfMatch", func(t *testing.T) {
		t.Parallel()
		fb := setupForward(t)
		fb.leader.create(t, scheduleJSON(nil))
		rec := fb.follower.do(t, http.MethodPut, "/v1/schedules/nightly-report", scheduleJSON(nil), "If-Match", `"7"`)
		requireError(t, rec, http.StatusConflict, codeVersionConflict, "")
		reqs, _ := fb.received()
		require.Len(t, reqs, 1)
		require.Equal(t, `"7"`, reqs[0].Header.Get("If-Match"))
	})

	t.Run("PauseAndDelete", func(t *testing.T) {
		t.Parallel()
		fb := setupForward(t)
		fb.leader.create(t, scheduleJSON(nil))
		rec := fb.follower.do(t, http.MethodPost, "/v1/schedules/nightly-report/pause", "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.True(t, decode[scheduleResponse](t, rec).Paused)
		rec = fb.follower.do(t, http.MethodDelete, "/v1/schedules/nightly-report", "")
		require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
		require.Zero(t, fb.leader.cluster.fsm.Count())
	})

	t.Run("LinearizableReadForwarded", func(t *testing.T) {
		t.Parallel()
		fb := setupForward(t)
		fb.leader.create(t, scheduleJSON(nil))
		rec := fb.follower.do(t, http.MethodGet, "/v1/schedules/nightly-report", "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		rec = fb.follower.do(t, http.MethodGet, "/v1/schedules?limit=10", "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.Len(t, decode[listPage](t, rec).Schedules, 1)

		// A stale read answers from the follower's (empty) replica.
		rec = fb.follower.do(t, http.MethodGet, "/v1/schedules/nightly-report?stale=true", "")
		requireError(t, rec, http.StatusNotFound, codeNotFound, "")
		reqs, _ := fb.received()
		require.Len(t, reqs, 2)
		require.Equal(t, "limit=10", reqs[1].URL.RawQuery)
	})

	t.Run("ClusterOpsForwarded", func(t *testing.T) {
		t.Parallel()
		fb := setupForward(t)
		rec := fb.follower.do(t, http.MethodDelete, "/v1/cluster/members/n3", "")
		require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
		rec = fb.follower.do(t, http.MethodPost, "/v1/cluster/transfer-leadership", `{"id":"n3"}`)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		rec = fb.follower.do(t, http.MethodPost, "/v1/cluster/join", `{"id":"n4","raft_addr":"10.0.0.4:4243","http_addr":"10.0.0.4:8888","zmq_addr":"tcp://10.0.0.4:4242"}`)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.Equal(t, []string{"RemoveMember n3", "TransferLeadership n3", "AddMember"}, fb.leader.cluster.callLog())
	})

	t.Run("SnapshotForwarded", func(t *testing.T) {
		t.Parallel()
		fb := setupForward(t)
		fb.leader.create(t, scheduleJSON(nil))
		rec := fb.follower.do(t, http.MethodGet, "/v1/cluster/snapshot", "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.Equal(t, "application/octet-stream", rec.Header().Get("Content-Type"))
		snap := rec.Body.String()
		require.Contains(t, snap, "nightly-report") // the record holds the ID (binary format 2)

		rec = fb.follower.do(t, http.MethodPost, "/v1/cluster/snapshot", snap)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		_, bodies := fb.received()
		require.Equal(t, snap, string(bodies[1]), "the restore body is streamed to the leader intact")
	})

	t.Run("ErrLoop", func(t *testing.T) {
		t.Parallel()
		fb := setupForward(t)
		rec := fb.follower.do(t, http.MethodPost, "/v1/schedules", scheduleJSON(nil), HeaderForwardedBy, "n3")
		e := requireError(t, rec, http.StatusServiceUnavailable, codeNoLeader, "")
		require.Contains(t, e.Error.Message, "n3")
		rec = fb.follower.do(t, http.MethodGet, "/v1/schedules", "", HeaderForwardedBy, "n3")
		requireError(t, rec, http.StatusServiceUnavailable, codeNoLeader, "")
		reqs, _ := fb.received()
		require.Empty(t, reqs)
	})

	t.Run("ErrNoLeaderAddress", func(t *testing.T) {
		t.Parallel()
		fb := setupForward(t)
		for _, l := range []cluster.LeaderInfo{{}, {ID: "n1"}, {ID: "n2", HTTPAddr: "127.0.0.1:1"}, {ID: "n1", HTTPAddr: "http://"}} {
			fb.follower.cluster.setLeader(l)
			rec := fb.follower.do(t, http.MethodPost, "/v1/schedules", scheduleJSON(nil))
			requireError(t, rec, http.StatusServiceUnavailable, codeNoLeader, "")
		}
		reqs, _ := fb.received()
		require.Empty(t, reqs)
	})

	t.Run("ErrLeaderUnreachable", func(t *testing.T) {
		t.Parallel()
		fb := setupForward(t)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		fb.follower.cluster.setLeader(cluster.LeaderInfo{ID: "n1", HTTPAddr: "http://" + addr})
		rec := fb.follower.do(t, http.MethodPost, "/v1/schedules", scheduleJSON(nil))
		requireError(t, rec, http.StatusServiceUnavailable, codeNoLeader, "")
	})
}

func TestServer_ProposeErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"NoLeader", cluster.ErrNoLeader, http.StatusServiceUnavailable, codeNoLeader},
		{"Stopped", cluster.ErrStopped, http.StatusServiceUnavailable, codeNoLeader},
		{"Timeout", cluster.ErrTimeout, http.StatusServiceUnavailable, codeTimeout},
		{"DeadlineExceeded", context.DeadlineExceeded, http.StatusServiceUnavailable, codeTimeout},
		{"InvalidEvent", fsm.ErrInvalidEvent, http.StatusBadRequest, codeInvalidArgument},
		{"InvalidRequest", cluster.ErrInvalidRequest, http.StatusBadRequest, codeInvalidArgument},
		{"Unknown", io.ErrClosedPipe, http.StatusInternalServerError, codeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.cluster.setErr(tt.err)
			rec := b.do(t, http.MethodPost, "/v1/schedules", scheduleJSON(nil))
			e := requireError(t, rec, tt.status, tt.code, "")
			if tt.code == codeTimeout {
				require.True(t, strings.Contains(e.Error.Message, "outcome is unknown"), e.Error.Message)
			}
		})
	}
}
