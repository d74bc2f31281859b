package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/governor"
)

// journalLine is what szhandler --journal appends (and fsyncs) before it
// runs a job.
type journalLine struct {
	RunID      string    `json:"run_id"`
	ScheduleID string    `json:"schedule_id"`
	NominalAt  time.Time `json:"nominal_at"`
	Attempt    int       `json:"attempt"`
	Instance   string    `json:"instance"`
	ReceivedAt time.Time `json:"received_at"`
}

func readJournals(t *testing.T, dir string, handlers int) []journalLine {
	t.Helper()
	var out []journalLine
	for h := 1; h <= handlers; h++ {
		f, err := os.Open(filepath.Join(dir, "handlers", fmt.Sprintf("h%d", h), "journal.jsonl"))
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var l journalLine
			require.NoError(t, json.Unmarshal(sc.Bytes(), &l), sc.Text())
			out = append(out, l)
		}
		require.NoError(t, f.Close())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NominalAt.Before(out[j].NominalAt) })
	return out
}

// TestDispatch_EverySecondThroughLeaderKill is the dispatch acceptance test:
// with 3 nodes and 2 szhandler --journal instances, a {"every":"1s"}
// schedule keeps firing through kill -9 of the leader, and the journals show
// every nominal second exactly once — caught-up fires late, none missing,
// none doubled.
func TestDispatch_EverySecondThroughLeaderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	dir := t.TempDir()
	g, err := governor.New(governor.Config{
		Dir: dir, NodeBinary: filepath.Join(binDir, "schedulezero"), BinDir: binDir,
		Nodes: 3, Handlers: 2, BasePort: 30000,
		HandlerCommand: "szhandler --name demo --servers {servers} --journal {dir}/journal.jsonl --drain-timeout 2s",
		GracePeriod:    5 * time.Second,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, g.Start(ctx))
	t.Cleanup(func() { require.NoError(t, g.Stop(context.Background())) })
	st, err := g.Status(ctx)
	require.NoError(t, err)
	addrs := map[string]string{}
	var nodes []*node
	for _, n := range st.Nodes {
		addrs[n.ID] = n.HTTPAddr
		nodes = append(nodes, &node{id: n.ID, http: n.HTTPAddr})
	}

	waitFor(t, 30*time.Second, "two live handlers", func() error {
		code, b, err := do(http.MethodGet, addrs["n1"], "/v1/handlers", nil)
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("handlers: %d %s %v", code, b, err)
		}
		var hs struct {
			Handlers []struct{ State string } `json:"handlers"`
		}
		if err := json.Unmarshal(b, &hs); err != nil {
			return err
		}
		live := 0
		for _, h := range hs.Handlers {
			if h.State == "live" {
				live++
			}
		}
		if live != 2 {
			return fmt.Errorf("%d live handlers: %s", live, b)
		}
		return nil
	})
	code, body, err := do(http.MethodPost, addrs["n2"], "/v1/schedules", map[string]any{
		"id": "tick", "handler": "demo", "method": "echo", "trigger": map[string]any{"every": "1s"},
	})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, code, string(body))

	waitFor(t, 20*time.Second, "five executions", func() error {
		if n := len(readJournals(t, dir, 2)); n < 5 {
			return fmt.Errorf("%d executions", n)
		}
		return nil
	})
	leader, err := leaderOf(nodes)
	require.NoError(t, err)
	killedAt := time.Now()
	require.NoError(t, g.Kill(ctx, leader.id))
	waitFor(t, 30*time.Second, "executions after the failover", func() error {
		lines := readJournals(t, dir, 2)
		if len(lines) == 0 || !lines[len(lines)-1].NominalAt.After(killedAt.Add(5*time.Second)) {
			return fmt.Errorf("%d executions, none 5 s after the kill yet", len(lines))
		}
		return nil
	})

	lines := readJournals(t, dir, 2)
	var steady []time.Duration // latencies of fires due while the first leader was alive
	for _, l := range lines {
		if l.NominalAt.Before(killedAt.Add(-time.Second)) {
			steady = append(steady, l.ReceivedAt.Sub(l.NominalAt))
		}
	}
	sort.Slice(steady, func(i, j int) bool { return steady[i] < steady[j] })
	if len(steady) > 0 {
		t.Logf("MEASURED steady-state nominal→handler latency over %d fires: p50 %v, max %v",
			len(steady), steady[len(steady)/2].Round(10*time.Microsecond), steady[len(steady)-1].Round(10*time.Microsecond))
	}
	seen := map[string]bool{}
	var worst time.Duration
	for i, l := range lines {
		require.Equal(t, "tick", l.ScheduleID)
		require.False(t, seen[l.RunID], "run %s executed twice", l.RunID)
		seen[l.RunID] = true
		if i > 0 {
			require.Equal(t, time.Second, l.NominalAt.Sub(lines[i-1].NominalAt),
				"nominal seconds must be contiguous: %s then %s", lines[i-1].NominalAt, l.NominalAt)
		}
		require.False(t, l.ReceivedAt.Before(l.NominalAt), "run %s executed before its time", l.RunID)
		worst = max(worst, l.ReceivedAt.Sub(l.NominalAt))
	}
	t.Logf("MEASURED %d consecutive seconds executed once each; latest fire %v after its nominal time (failover of %s)",
		len(lines), worst.Round(time.Millisecond), leader.id)
}
