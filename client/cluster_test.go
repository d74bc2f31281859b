package client_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/client/clienttest"
)

func TestClient_Members(t *testing.T) {
	t.Parallel()
	c, f := newFake(t)
	f.On("GET /v1/cluster/members", clienttest.Reply{Status: 200, Body: `{"members":[
{"id":"n1","http_addr":"127.0.0.1:8888","raft_addr":"127.0.0.1:4243","zmq_addr":"tcp://127.0.0.1:4242","suffrage":"voter","leader":true,"applied_index":42},
{"id":"n2","http_addr":"127.0.0.1:8889","suffrage":"nonvoter","leader":false,"last_contact":"2026-11-28T01:30:00Z"}]}`})
	ms, err := c.Members(context.Background())
	require.NoError(t, err)
	require.Len(t, ms, 2)
	require.True(t, ms[0].Leader)
	require.Equal(t, uint64(42), ms[0].AppliedIndex)
	require.Equal(t, "tcp://127.0.0.1:4242", ms[0].ZMQAddr)
	require.Equal(t, "nonvoter", ms[1].Suffrage)
	require.NotNil(t, ms[1].LastContact)
	require.Contains(t, string(ms[1].Raw), `"id":"n2"`)
}

func TestClient_Self(t *testing.T) {
	t.Parallel()
	c, f := newFake(t)
	f.On("GET /v1/cluster/self", clienttest.Reply{Status: 200, Body: `{"id":"n1","http_addr":"127.0.0.1:8888","state":"leader","leader_id":"n1",
"term":3,"commit_index":42,"applied_index":41,"digest":"abc","member":true,"ready":true}`})
	s, err := c.Self(context.Background())
	require.NoError(t, err)
	require.Equal(t, "leader", s.State)
	require.Equal(t, uint64(3), s.Term)
	require.Equal(t, uint64(42), s.CommitIndex)
	require.Equal(t, uint64(41), s.AppliedIndex)
	require.Equal(t, "abc", s.Digest)
	require.True(t, s.Ready)
	require.NotEmpty(t, s.Raw)
}

func TestClient_Join(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, f := newFake(t)
	f.On("POST /v1/cluster/join", clienttest.Reply{Status: 200})
	for in, want := range map[string]string{
		"127.0.0.1:8889":         `{"member":"127.0.0.1:8889"}`,
		"http://127.0.0.1:8889/": `{"member":"127.0.0.1:8889"}`,
		"https://n2.example:443": `{"member":"https://n2.example:443"}`,
	} {
		require.NoError(t, c.Join(ctx, in))
		require.JSONEq(t, want, f.Last(t).Body, in)
	}
	require.Error(t, c.Join(ctx, "udp://x:1"))

	f.On("POST /v1/cluster/join", clienttest.Reply{Status: 409, Body: `{"error":{"code":"already_member","message":"already a member of a cluster"}}`})
	require.True(t, client.IsConflict(c.Join(ctx, "127.0.0.1:8889")))
}

func TestClient_LeaveRemoveTransfer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, f := newFake(t)
	f.On("POST /v1/cluster/leave", clienttest.Reply{Status: 204})
	f.On("DELETE /v1/cluster/members/n%202", clienttest.Reply{Status: 204})
	f.On("POST /v1/cluster/transfer-leadership", clienttest.Reply{Status: 200, Body: `{}`})

	require.NoError(t, c.Leave(ctx))
	require.Equal(t, "POST", f.Last(t).Method)

	require.NoError(t, c.RemoveMember(ctx, "n 2"))
	require.Equal(t, "/v1/cluster/members/n%202", f.Last(t).RequestURI)

	require.NoError(t, c.TransferLeadership(ctx, "n3"))
	require.JSONEq(t, `{"id":"n3"}`, f.Last(t).Body)
	require.NoError(t, c.TransferLeadership(ctx, ""))
	require.JSONEq(t, `{}`, f.Last(t).Body)

	f.On("DELETE /v1/cluster/members/zz", clienttest.Reply{Status: 404, Body: `{"error":{"code":"unknown_member","message":"unknown member zz"}}`})
	require.True(t, client.IsNotFound(c.RemoveMember(ctx, "zz")))
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestClient_Snapshot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	data := strings.Repeat("snapshot-bytes\x00\x01", 1000)
	c, f := newFake(t)
	f.On("GET /v1/cluster/snapshot", clienttest.Reply{Status: 200, Body: data, Header: map[string]string{"Content-Type": "application/octet-stream"}})
	f.On("POST /v1/cluster/snapshot", clienttest.Reply{Status: 204})

	var buf bytes.Buffer
	n, err := c.SnapshotSave(ctx, &buf)
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), n)
	require.Equal(t, data, buf.String())

	_, err = c.SnapshotSave(ctx, failingWriter{})
	require.ErrorContains(t, err, "disk full")

	require.NoError(t, c.SnapshotRestore(ctx, strings.NewReader(data)))
	req := f.Last(t)
	require.Equal(t, data, req.Body)
	require.Equal(t, "application/octet-stream", req.Header.Get("Content-Type"))

	f.On("POST /v1/cluster/snapshot", clienttest.Reply{Status: 400, Body: `{"error":{"code":"invalid_snapshot","message":"bad magic"}}`})
	err = c.SnapshotRestore(ctx, strings.NewReader("junk"))
	var e *client.APIError
	require.ErrorAs(t, err, &e)
	require.Equal(t, "bad magic", e.Message)
}
