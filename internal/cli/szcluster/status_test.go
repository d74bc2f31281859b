package szcluster_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/client/clienttest"
)

// cluster is three fake nodes: n1 (leader, at --addr), n2 (follower), and
// n3 whose address refuses connections.
type cluster struct {
	n1, n2 *clienttest.Server
	n3Addr string
}

func selfJSON(id, state string, applied uint64, digest string) string {
	return fmt.Sprintf(`{"id":%q,"http_addr":"a","state":%q,"leader_id":"n1","leader_http_addr":"127.0.0.1:8888","term":7,
"commit_index":45,"applied_index":%d,"last_index":45,"digest":%q,"schedules":12,"member":true,"ready":true,"last_contact_ms":120}`,
		id, state, applied, digest)
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	dead := httptest.NewServer(nil)
	c := &cluster{n1: clienttest.NewServer(t), n2: clienttest.NewServer(t), n3Addr: strings.TrimPrefix(dead.URL, "http://")}
	dead.Close()
	c.n1.On("GET /v1/cluster/self", clienttest.JSON(200, selfJSON("n1", "leader", 45, "d45")))
	c.n1.On("GET /readyz", clienttest.JSON(200, `{"ready":true}`))
	c.n1.On("GET /v1/cluster/members", clienttest.JSON(200, fmt.Sprintf(`{"members":[
{"id":"n1","http_addr":%q,"suffrage":"voter","leader":true},
{"id":"n2","http_addr":%q,"suffrage":"voter","leader":false},
{"id":"n3","http_addr":%q,"suffrage":"nonvoter","leader":false}]}`,
		strings.TrimPrefix(c.n1.URL, "http://"), c.n2.URL, c.n3Addr)))
	c.n2.On("GET /v1/cluster/self", clienttest.JSON(200, selfJSON("n2", "follower", 44, "d44")))
	return c
}

func TestStatus(t *testing.T) {
	t.Parallel()

	t.Run("Ready", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t)
		r := run(t, c.n1, "status")
		requireOK(t, r)
		head, table, ok := strings.Cut(r.Stdout, "\n\n")
		require.True(t, ok, r.Stdout)
		require.Equal(t, `Node:           n1 (a)
State:          leader
Leader:         n1 (127.0.0.1:8888)
Term:           7
Commit index:   45
Applied index:  45
Digest:         d45
Schedules:      12
Ready:          yes
Members:        3 (2 voters, 1 non-voters)`, head)
		lines := strings.Split(strings.TrimSpace(table), "\n")
		require.Len(t, lines, 4)
		require.Equal(t, []string{"ID", "HTTP", "SUFFRAGE", "LEADER", "REACHABLE", "STATE", "APPLIED", "DIGEST", "ERROR"}, strings.Fields(lines[0]))
		require.Equal(t, []string{"n1", strings.TrimPrefix(c.n1.URL, "http://"), "voter", "yes", "yes", "leader", "45", "d45", "-"}, strings.Fields(lines[1]))
		require.Equal(t, []string{"n2", c.n2.URL, "voter", "no", "yes", "follower", "44", "d44", "-"}, strings.Fields(lines[2]))
		require.True(t, strings.HasPrefix(strings.Join(strings.Fields(lines[3]), " "),
			"n3 "+c.n3Addr+" nonvoter no no - - - cannot reach http://"+c.n3Addr+": "), lines[3])
	})
	t.Run("JSON", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t)
		r := run(t, c.n1, "status", "-o", "json")
		requireOK(t, r)
		var out struct {
			Self    map[string]any `json:"self"`
			Ready   bool           `json:"ready"`
			Members []struct {
				Member    map[string]any `json:"member"`
				Reachable bool           `json:"reachable"`
				Self      map[string]any `json:"self"`
				Error     string         `json:"error"`
			} `json:"members"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.Stdout), &out))
		require.True(t, out.Ready)
		require.Equal(t, "n1", out.Self["id"])
		require.Len(t, out.Members, 3)
		require.True(t, out.Members[1].Reachable)
		require.Equal(t, float64(44), out.Members[1].Self["applied_index"])
		require.False(t, out.Members[2].Reachable)
		require.Contains(t, out.Members[2].Error, "cannot reach")
	})
	t.Run("NotReady", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t)
		c.n1.On("GET /v1/cluster/self", clienttest.JSON(200, `{"id":"n1","state":"follower","leader_id":"","member":true}`))
		c.n1.On("GET /readyz", clienttest.Error(503, "not_ready", "no leader known", ""))
		c.n1.On("GET /v1/cluster/members", clienttest.Error(503, "no_leader", "cluster: no leader", ""))
		r := run(t, c.n1, "status")
		requireFail(t, r, 1, "szcluster: node n1 is not ready")
		require.Contains(t, r.Stdout, "Leader:         none known\n")
		require.Contains(t, r.Stdout, "Ready:          no\n")
		require.Contains(t, r.Stdout, "Members:        unavailable: cluster: no leader\n")
	})
	t.Run("Divergence", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t)
		c.n2.On("GET /v1/cluster/self", clienttest.JSON(200, selfJSON("n2", "follower", 45, "bad")))
		r := run(t, c.n1, "status")
		requireOK(t, r)
		require.Contains(t, r.Stdout, "WARNING: digests differ at applied index 45: n2=bad n1=d45\n")
	})
	t.Run("ErrUnreachable", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t)
		r := invocation{}.run(t, "--addr", c.n3Addr, "status")
		require.Equal(t, 1, r.Code)
		require.True(t, strings.HasPrefix(r.Stderr, "szcluster: cannot reach http://"+c.n3Addr), r.Stderr)
	})
}
