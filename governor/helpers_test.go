package governor_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/governor"
	"github.com/schedulezero/schedulezero/governor/governortest"
)

// basePortStart keeps this package's ports apart from other test packages.
const basePortStart = 20000

type testBundle struct {
	g   *governor.ProcessGovernor
	cfg governor.Config
	bin string
}

// setup starts a governor over fake processes; cleanup stops it and checks
// that every process it ever spawned is gone.
func setup(t *testing.T, configure func(*governor.Config)) *testBundle {
	t.Helper()
	bin := governortest.BinDir(t)
	cfg := governor.Config{
		Dir:        t.TempDir(),
		NodeBinary: filepath.Join(bin, governortest.NodeName),
		BinDir:     bin,
		Nodes:      1,
		BasePort:   governortest.BasePort(basePortStart),
		Restart: governor.RestartPolicy{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond,
			MaxRestarts: 3, Window: time.Minute, ResetAfter: time.Minute},
		GracePeriod:  2 * time.Second,
		ReadyTimeout: 15 * time.Second,
		Logger:       testLogger(t),
	}
	if configure != nil {
		configure(&cfg)
	}
	g, err := governor.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, g.Stop(context.Background()))
		requireAllGone(t, cfg.Dir)
	})
	require.NoError(t, g.Start(t.Context()))
	return &testBundle{g: g, cfg: cfg, bin: bin}
}

// requireAllGone checks every PID the timeline says was spawned: none may
// be alive. Survivors are killed so that a failing test leaks nothing.
func requireAllGone(t *testing.T, dir string) {
	t.Helper()
	events, err := governor.ReadTimeline(filepath.Join(dir, governor.TimelineFile))
	require.NoError(t, err)
	var alive []int
	for _, ev := range events {
		if ev.Op == "spawn" && pidAlive(ev.PID) {
			alive = append(alive, ev.PID)
			_ = syscall.Kill(ev.PID, syscall.SIGKILL)
		}
	}
	require.Empty(t, alive, "processes left behind")
}

// pidAlive reports whether pid exists and is not a zombie.
func pidAlive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func (b *testBundle) status(t *testing.T) governor.Status {
	t.Helper()
	st, err := b.g.Status(t.Context())
	require.NoError(t, err)
	return st
}

func (b *testBundle) process(t *testing.T, id string) governor.ProcessStatus {
	t.Helper()
	p, ok := b.status(t).Process(id)
	require.True(t, ok, id)
	return p
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *testBundle) dataDir(id string) string {
	return filepath.Join(b.cfg.Dir, "nodes", id, "data")
}

func touch(t *testing.T, path string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, nil, 0o644))
}

// testLogger sends the governor's log to t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func timelineOps(t *testing.T, dir string) []string {
	t.Helper()
	events, err := governor.ReadTimeline(filepath.Join(dir, governor.TimelineFile))
	require.NoError(t, err)
	var ops []string
	for _, ev := range events {
		require.LessOrEqual(t, ev.StartMonoNS, ev.EndMonoNS, "event %d", ev.Seq)
		ops = append(ops, ev.Kind+":"+ev.Op+":"+ev.Target)
	}
	return ops
}

func itoa(i int) string { return strconv.Itoa(i) }

func readTail(path string, n int) (string, error) {
	b, err := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b), err
}
