package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// leaderOf returns the node that reports itself leader and ready.
func leaderOf(nodes []*node) (*node, error) {
	for _, n := range nodes {
		s, err := getSelf(n.http)
		if err == nil && s.State == "leader" && s.Ready {
			return n, nil
		}
	}
	return nil, fmt.Errorf("no ready leader among %d nodes", len(nodes))
}

func schedule(id, every string) map[string]any {
	return map[string]any{
		"id": id, "handler": "reports", "method": "generate",
		"params":  map[string]any{"format": "pdf"},
		"trigger": map[string]any{"every": every},
	}
}

// requireSchedule asserts that addr serves schedule id (linearizable read,
// forwarded to the leader by followers).
func getSchedule(addr, id, query string) error {
	code, b, err := do(http.MethodGet, addr, "/v1/schedules/"+id+query, nil)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s on %s: HTTP %d: %s", id, addr, code, b)
	}
	var got struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &got); err != nil || got.ID != id {
		return fmt.Errorf("GET %s on %s: unexpected body %s", id, addr, b)
	}
	return nil
}

// converged reports nil once every node is at the same applied index with
// the same digest.
func converged(nodes []*node) error {
	var first self
	for i, n := range nodes {
		s, err := getSelf(n.http)
		if err != nil {
			return err
		}
		if i == 0 {
			first = s
			continue
		}
		if s.AppliedIndex != first.AppliedIndex || s.Digest != first.Digest {
			return fmt.Errorf("%s at %d/%s, %s at %d/%s", first.ID, first.AppliedIndex, first.Digest, s.ID, s.AppliedIndex, s.Digest)
		}
	}
	return nil
}

func TestCluster_ThreeNodeFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	n1, n2, n3 := newNode(t, "n1", true), newNode(t, "n2", false), newNode(t, "n3", false)
	nodes := []*node{n1, n2, n3}
	for _, n := range nodes {
		n.start(t)
	}
	waitFor(t, 20*time.Second, "n1 to lead", func() error { _, err := leaderOf([]*node{n1}); return err })

	for _, n := range []*node{n2, n3} {
		out, err := szcluster(t, "--addr", n.http, "join", n1.http)
		require.NoError(t, err, out)
	}
	waitFor(t, 30*time.Second, "three voters", func() error {
		out, err := szcluster(t, "--addr", n1.http, "members", "-o", "json")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		var m struct {
			Members []struct{ ID, Suffrage string } `json:"members"`
		}
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		voters := 0
		for _, mem := range m.Members {
			if mem.Suffrage == "voter" {
				voters++
			}
		}
		if voters != 3 {
			return fmt.Errorf("%d voters: %s", voters, out)
		}
		return nil
	})

	// A write through a follower is forwarded to the leader.
	code, body, err := do(http.MethodPost, n2.http, "/v1/schedules", schedule("first", "1h"))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, code, string(body))
	for _, n := range nodes {
		require.NoError(t, getSchedule(n.http, "first", ""))
	}
	waitFor(t, 10*time.Second, "convergence", func() error { return converged(nodes) })
	for _, n := range nodes {
		require.NoError(t, getSchedule(n.http, "first", "?stale=true"), "stale read on %s", n.id)
	}

	// kill -9 the leader and time the election of a new ready leader.
	old, err := leaderOf(nodes)
	require.NoError(t, err)
	var survivors []*node
	for _, n := range nodes {
		if n != old {
			survivors = append(survivors, n)
		}
	}
	killedAt := time.Now()
	old.kill(t)
	var leader *node
	waitFor(t, 30*time.Second, "a new leader", func() error { leader, err = leaderOf(survivors); return err })
	t.Logf("MEASURED failover: new ready leader %s %v after kill -9 of %s", leader.id, time.Since(killedAt).Round(time.Millisecond), old.id)

	for _, n := range survivors {
		require.NoError(t, getSchedule(n.http, "first", ""), "after failover on %s", n.id)
	}
	code, body, err = do(http.MethodPost, survivors[1].http, "/v1/schedules", schedule("second", "30s"))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, code, string(body))

	// The killed node restarts from its data dir and catches up.
	old.start(t)
	waitFor(t, 30*time.Second, "restarted node to catch up", func() error { return converged(nodes) })
	require.NoError(t, getSchedule(old.http, "second", "?stale=true"))
	require.NoError(t, getSchedule(old.http, "first", "?stale=true"))
}
