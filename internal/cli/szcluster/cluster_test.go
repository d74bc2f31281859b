package szcluster_test

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/client/clienttest"
)

const members = `{"members":[
{"id":"n1","http_addr":"127.0.0.1:8888","raft_addr":"127.0.0.1:4243","zmq_addr":"tcp://127.0.0.1:4242","suffrage":"voter","leader":true,"applied_index":42},
{"id":"n2","http_addr":"127.0.0.1:8889","raft_addr":"127.0.0.1:4245","zmq_addr":"tcp://127.0.0.1:4244","suffrage":"nonvoter","leader":false,"last_contact":"2026-11-28T00:59:59.75Z","applied_index":40,"extra":true}]}`

const membersTable = `ID  HTTP            RAFT            ZMQ                   SUFFRAGE  LEADER  LAST-CONTACT  APPLIED
n1  127.0.0.1:8888  127.0.0.1:4243  tcp://127.0.0.1:4242  voter     yes     -             42
n2  127.0.0.1:8889  127.0.0.1:4245  tcp://127.0.0.1:4244  nonvoter  no      250ms         40
`

func TestMembers(t *testing.T) {
	t.Parallel()
	srv := clienttest.NewServer(t)
	srv.On("GET /v1/cluster/members", clienttest.JSON(200, members))
	r := run(t, srv, "members")
	requireOK(t, r)
	require.Equal(t, membersTable, r.Stdout)

	r = run(t, srv, "members", "-o", "json")
	requireOK(t, r)
	require.JSONEq(t, members, r.Stdout)

	srv.On("GET /v1/cluster/members", clienttest.Error(500, "internal", "raft: configuration unavailable", ""))
	requireFail(t, run(t, srv, "members"), 1, "szcluster: raft: configuration unavailable")
}

func TestJoin(t *testing.T) {
	t.Parallel()
	srv := clienttest.NewServer(t)
	srv.On("POST /v1/cluster/join", clienttest.Reply{Status: 204})
	srv.On("GET /v1/cluster/members", clienttest.JSON(200, members))

	r := run(t, srv, "join", "http://127.0.0.1:8889")
	requireOK(t, r)
	require.Equal(t, "joined the cluster of http://127.0.0.1:8889\n"+membersTable, r.Stdout)
	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, "/v1/cluster/join", reqs[0].RequestURI)
	require.JSONEq(t, `{"member":"127.0.0.1:8889"}`, reqs[0].Body)

	r = run(t, srv, "join", "127.0.0.1:8889", "-o", "json")
	requireOK(t, r)
	require.JSONEq(t, members, r.Stdout)

	srv.On("POST /v1/cluster/join", clienttest.Error(409, "already_member", "node n2 is already a member of a cluster", ""))
	requireFail(t, run(t, srv, "join", "127.0.0.1:8889"), 1, "szcluster: node n2 is already a member of a cluster")
	requireFail(t, run(t, srv, "join"), 2, "szcluster: missing argument: want MEMBER-HTTP-ADDR (see 'szcluster join --help')")
	requireFail(t, run(t, srv, "join", "zmq://x:1"), 2,
		`szcluster: invalid member address: invalid address "zmq://x:1": scheme must be http or https (see 'szcluster join --help')`)
}

func TestLeaveRemoveTransfer(t *testing.T) {
	t.Parallel()
	srv := clienttest.NewServer(t)
	srv.On("POST /v1/cluster/leave", clienttest.Reply{Status: 204})
	srv.On("DELETE /v1/cluster/members/n3", clienttest.Reply{Status: 204})
	srv.On("POST /v1/cluster/transfer-leadership", clienttest.JSON(200, `{}`))

	r := run(t, srv, "leave")
	requireOK(t, r)
	require.Equal(t, "node at "+srv.URL+" left the cluster\n", r.Stdout)

	r = run(t, srv, "remove", "n3")
	requireOK(t, r)
	require.Equal(t, "removed member n3\n", r.Stdout)
	require.Equal(t, "DELETE", srv.Last(t).Method)

	r = run(t, srv, "transfer-leadership", "n2")
	requireOK(t, r)
	require.Equal(t, "leadership transferred to n2\n", r.Stdout)
	require.JSONEq(t, `{"id":"n2"}`, srv.Last(t).Body)

	r = run(t, srv, "transfer-leadership")
	requireOK(t, r)
	require.Equal(t, "leadership transferred\n", r.Stdout)
	require.JSONEq(t, `{}`, srv.Last(t).Body)

	srv.On("DELETE /v1/cluster/members/zz", clienttest.Error(404, "unknown_member", "cluster: unknown member zz", "id"))
	requireFail(t, run(t, srv, "remove", "zz"), 1, "szcluster: cluster: unknown member zz (field: id)")
	srv.On("POST /v1/cluster/leave", clienttest.Error(503, "no_leader", "cluster: no leader", ""))
	requireFail(t, run(t, srv, "leave"), 1, "szcluster: cluster: no leader")
}

func TestSnapshot(t *testing.T) {
	t.Parallel()
	data := strings.Repeat("\x00snapshot\xff", 4096)
	srv := clienttest.NewServer(t)
	srv.On("GET /v1/cluster/snapshot", clienttest.Reply{Status: 200, Body: data, Header: map[string]string{"Content-Type": "application/octet-stream"}})
	srv.On("POST /v1/cluster/snapshot", clienttest.Reply{Status: 204})
	dir := t.TempDir()
	path := filepath.Join(dir, "state.snap")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))

	r := run(t, srv, "snapshot", "save", path)
	requireOK(t, r)
	require.Equal(t, fmt.Sprintf("saved snapshot to %s (%d bytes)\n", path, len(data)), r.Stdout)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, data, string(got))

	r = run(t, srv, "snapshot", "restore", path)
	requireOK(t, r)
	require.Equal(t, "restored snapshot from "+path+"\n", r.Stdout)
	require.Equal(t, data, srv.Last(t).Body)

	t.Run("ErrSaveKeepsOldFile", func(t *testing.T) {
		srv.On("GET /v1/cluster/snapshot", clienttest.Error(503, "no_leader", "cluster: no leader", ""))
		requireFail(t, run(t, srv, "snapshot", "save", path), 1, "szcluster: cluster: no leader")
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, data, string(got), "a failed save leaves the file alone")
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Len(t, entries, 1, "no temporary file left behind")
	})
	t.Run("ErrRestore", func(t *testing.T) {
		srv.On("POST /v1/cluster/snapshot", clienttest.Error(400, "invalid_snapshot", "snapshot: bad magic", ""))
		requireFail(t, run(t, srv, "snapshot", "restore", path), 1, "szcluster: snapshot: bad magic")
		r := run(t, srv, "snapshot", "restore", filepath.Join(dir, "missing"))
		require.Equal(t, 1, r.Code)
		require.Contains(t, r.Stderr, "no such file or directory")
	})
	t.Run("ErrUsage", func(t *testing.T) {
		requireFail(t, run(t, srv, "snapshot", "save"), 2, "szcluster: missing argument: want FILE (see 'szcluster snapshot save --help')")
		requireFail(t, run(t, srv, "snapshot"), 2, "szcluster: missing command (see 'szcluster snapshot --help')")
	})
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(nil)
	addr := srv.URL
	srv.Close()
	r := invocation{Env: map[string]string{"SZ_ADDR": strings.TrimPrefix(addr, "http://")}}.run(t, "members")
	require.Equal(t, 1, r.Code)
	require.True(t, strings.HasPrefix(r.Stderr, "szcluster: cannot reach "+addr+": "), r.Stderr)
	require.Equal(t, 1, strings.Count(r.Stderr, "\n"))
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--help"}, {"join", "--help"}, {"members", "--help"}, {"leave", "--help"}, {"remove", "--help"},
		{"transfer-leadership", "--help"}, {"status", "--help"}, {"snapshot", "--help"},
		{"snapshot", "save", "--help"}, {"snapshot", "restore", "--help"},
	} {
		r := invocation{}.run(t, args...)
		requireOK(t, r)
		require.True(t, strings.HasPrefix(r.Stdout, "Usage: szcluster"), "%v: %s", args, r.Stdout)
	}
	requireFail(t, invocation{}.run(t, "promote"), 2, `szcluster: unknown command "promote" (see 'szcluster --help')`)
}
