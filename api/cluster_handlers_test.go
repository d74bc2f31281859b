package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/cluster"
)

func TestServer_ClusterMembers(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rec := b.do(t, http.MethodGet, "/v1/cluster/members", "")
		require.Equal(t, http.StatusOK, rec.Code)
		require.JSONEq(t, `{"members":[{"id":"n1","http_addr":"127.0.0.1:8888","raft_addr":"127.0.0.1:4243",
			"zmq_addr":"tcp://127.0.0.1:4242","suffrage":"voter","leader":true}]}`, rec.Body.String())
	})

	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.cluster.members = nil
		rec := b.do(t, http.MethodGet, "/v1/cluster/members", "")
		require.JSONEq(t, `{"members":[]}`, rec.Body.String())
	})
}

func TestServer_ClusterSelf(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cluster.setReady(true, cluster.Self{ID: "n1", HTTPAddr: "127.0.0.1:8888", State: "leader", LeaderID: "n1",
		Term: 4, CommitIndex: 10, AppliedIndex: 9, Digest: "abc", Member: true, Ready: true})
	rec := b.do(t, http.MethodGet, "/v1/cluster/self", "")
	require.Equal(t, http.StatusOK, rec.Code)
	got := decode[map[string]any](t, rec)
	for _, k := range []string{"id", "http_addr", "raft_addr", "zmq_addr", "state", "leader_id", "term",
		"commit_index", "applied_index", "digest"} {
		require.Contains(t, got, k)
	}
	require.Equal(t, "leader", got["state"])
	require.Equal(t, 4.0, got["term"])
	require.Equal(t, "abc", got["digest"])
}

func TestServer_ClusterJoin(t *testing.T) {
	t.Parallel()

	t.Run("JoinMember", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rec := b.do(t, http.MethodPost, "/v1/cluster/join", `{"member":"10.0.0.2:8888"}`)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		got := decode[map[string]any](t, rec)
		require.Equal(t, true, got["joined"])
		require.Equal(t, "n1", got["self"].(map[string]any)["id"])
		require.Equal(t, "10.0.0.2:8888", b.cluster.joinedVia)
		require.Equal(t, []string{"JoinCluster"}, b.cluster.callLog())
	})

	t.Run("AddMember", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rec := b.do(t, http.MethodPost, "/v1/cluster/join",
			`{"id":"n2","raft_addr":"10.0.0.2:4243","http_addr":"10.0.0.2:8888","zmq_addr":"tcp://10.0.0.2:4242"}`)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.JSONEq(t, `{"joined":true,"id":"n2"}`, rec.Body.String())
		require.Equal(t, cluster.JoinRequest{ID: "n2", RaftAddr: "10.0.0.2:4243", HTTPAddr: "10.0.0.2:8888",
			ZMQAddr: "tcp://10.0.0.2:4242"}, b.cluster.joinReq)
	})

	t.Run("ErrJoinFailed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.cluster.setErr(cluster.ErrTimeout)
		requireError(t, b.do(t, http.MethodPost, "/v1/cluster/join", `{"member":"10.0.0.2:8888"}`),
			http.StatusServiceUnavailable, codeTimeout, "")
	})

	tests := []struct {
		name  string
		body  string
		field string
	}{
		{"Empty", ``, "body"},
		{"EmptyObject", `{}`, "member"},
		{"Both", `{"member":"a:1","id":"n2","raft_addr":"b:2"}`, "member"},
		{"MemberWhitespace", `{"member":"a b:1"}`, "member"},
		{"UnknownField", `{"member":"a:1","force":true}`, "force"},
		{"MissingID", `{"raft_addr":"10.0.0.2:4243","http_addr":"10.0.0.2:8888"}`, "id"},
		{"BadRaftAddr", `{"id":"n2","raft_addr":"10.0.0.2","http_addr":"10.0.0.2:8888"}`, "raft_addr"},
		{"MissingHTTPAddr", `{"id":"n2","raft_addr":"10.0.0.2:4243"}`, "http_addr"},
		{"WrongType", `{"member":5}`, "member"},
	}
	for _, tt := range tests {
		t.Run("Err"+tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			requireError(t, b.do(t, http.MethodPost, "/v1/cluster/join", tt.body), http.StatusBadRequest, codeInvalidArgument, tt.field)
			require.Empty(t, b.cluster.callLog())
		})
	}
}

func TestServer_ClusterLeave(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rec := b.do(t, http.MethodPost, "/v1/cluster/leave", "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.JSONEq(t, `{"left":true,"id":"n1"}`, rec.Body.String())
		require.Equal(t, []string{"Leave"}, b.cluster.callLog())
	})

	t.Run("ErrNotMember", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.cluster.setErr(cluster.ErrNotMember)
		requireError(t, b.do(t, http.MethodPost, "/v1/cluster/leave", ""), http.StatusServiceUnavailable, codeNoLeader, "")
	})

	t.Run("ErrOnlyVoter", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.cluster.setErr(fmt.Errorf("%w: n1 is the only voter; it cannot leave", cluster.ErrInvalidRequest))
		requireError(t, b.do(t, http.MethodPost, "/v1/cluster/leave", ""), http.StatusBadRequest, codeInvalidArgument, "")
	})
}

func TestServer_ClusterRemoveMember(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rec := b.do(t, http.MethodDelete, "/v1/cluster/members/n3", "")
		require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
		require.Equal(t, []string{"RemoveMember n3"}, b.cluster.callLog())
	})

	t.Run("ErrUnknownMember", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.cluster.setErr(cluster.ErrUnknownMember)
		requireError(t, b.do(t, http.MethodDelete, "/v1/cluster/members/n9", ""), http.StatusNotFound, codeNotFound, "")
	})
}

func TestServer_ClusterTransferLeadership(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name, body, want string
	}{
		{"ToMember", `{"id":"n2"}`, "TransferLeadership n2"},
		{"ToAnyEmptyBody", ``, "TransferLeadership "},
		{"ToAnyEmptyObject", `{}`, "TransferLeadership "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			rec := b.do(t, http.MethodPost, "/v1/cluster/transfer-leadership", tt.body)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Equal(t, true, decode[map[string]any](t, rec)["transferred"])
			require.Equal(t, []string{tt.want}, b.cluster.callLog())
		})
	}

	t.Run("ErrUnknownField", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		requireError(t, b.do(t, http.MethodPost, "/v1/cluster/transfer-leadership", `{"to":"n2"}`),
			http.StatusBadRequest, codeInvalidArgument, "to")
	})

	t.Run("ErrNoLeader", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.cluster.setErr(cluster.ErrNoLeader)
		requireError(t, b.do(t, http.MethodPost, "/v1/cluster/transfer-leadership", ""),
			http.StatusServiceUnavailable, codeNoLeader, "")
	})
}

func TestServer_ClusterSnapshot(t *testing.T) {
	t.Parallel()

	t.Run("SaveRestore", func(t *testing.T) {
		t.Parallel()
		src := setup(t)
		src.create(t, scheduleJSON(nil))
		src.create(t, scheduleJSON(obj{"id": "second"}))
		rec := src.do(t, http.MethodGet, "/v1/cluster/snapshot", "")
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "application/octet-stream", rec.Header().Get("Content-Type"))
		snap := rec.Body.String()

		dst := setup(t)
		rec = dst.do(t, http.MethodPost, "/v1/cluster/snapshot", snap)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.JSONEq(t, `{"restored":true}`, rec.Body.String())
		require.Equal(t, 2, dst.cluster.fsm.Count())
		require.Equal(t, src.cluster.fsm.Digest(), dst.cluster.fsm.Digest())
	})

	t.Run("ErrCorruptSnapshot", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		requireError(t, b.do(t, http.MethodPost, "/v1/cluster/snapshot", "garbage"), http.StatusBadRequest, codeInvalidArgument, "body")
	})

	t.Run("ErrRestoreInvalidRequest", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.cluster.setErr(fmt.Errorf("%w: snapshot does not decode", cluster.ErrInvalidRequest))
		requireError(t, b.do(t, http.MethodPost, "/v1/cluster/snapshot", "x"), http.StatusBadRequest, codeInvalidArgument, "body")
	})

	t.Run("ErrSaveNoLeader", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.cluster.setErr(cluster.ErrNoLeader)
		requireError(t, b.do(t, http.MethodGet, "/v1/cluster/snapshot", ""), http.StatusServiceUnavailable, codeNoLeader, "")
	})

	t.Run("ErrRestoreNotLeaderAfterReading", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.cluster.setErr(nil)
		rc := &readThenFail{fakeCluster: b.cluster}
		srv, err := New(Config{Cluster: rc, NodeID: "n1"})
		require.NoError(t, err)
		b.server = srv
		rec := b.do(t, http.MethodPost, "/v1/cluster/snapshot", strings.Repeat("x", 100))
		requireError(t, rec, http.StatusServiceUnavailable, codeNoLeader, "")
	})
}

// readThenFail reads part of the snapshot before discovering it is not the
// leader, so the request can no longer be forwarded.
type readThenFail struct{ *fakeCluster }

func (r *readThenFail) RestoreSnapshot(_ context.Context, body io.Reader) error {
	_, _ = body.Read(make([]byte, 10))
	return cluster.ErrNotLeader
}

// failMidStream writes part of a snapshot and then fails.
type failMidStream struct{ *fakeCluster }

func (failMidStream) WriteSnapshot(_ context.Context, w io.Writer) error {
	_, _ = w.Write([]byte(`{"v":1,"index":3,"schedules":2,"nodes":0}` + "\n"))
	return io.ErrUnexpectedEOF
}

func TestServer_ClusterSnapshot_AbortMidStream(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv, err := New(Config{Cluster: failMidStream{b.cluster}, NodeID: "n1"})
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	// Depending on buffering the abort hits before or after the header.
	resp, err := ts.Client().Get(ts.URL + "/v1/cluster/snapshot")
	if err == nil {
		defer resp.Body.Close()
		_, err = io.ReadAll(resp.Body)
	}
	require.Error(t, err, "a failed stream must not look like a complete download")
}
