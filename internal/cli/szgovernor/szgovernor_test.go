package szgovernor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/governor"
	"github.com/schedulezero/schedulezero/governor/governortest"
	"github.com/schedulezero/schedulezero/internal/cli"
	"github.com/schedulezero/schedulezero/internal/cli/clitest"
	"github.com/schedulezero/schedulezero/internal/cli/szgovernor"
)

// basePortStart keeps this package's ports apart from governor's tests.
const basePortStart = 26000

// TestMain turns the test binary into szgovernor, a fake node or a fake
// handler when it is started under those names.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "szgovernor" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := szgovernor.Run(ctx, os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr})
		stop()
		os.Exit(code)
	}
	if code, ok := governortest.Main(); ok {
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}

func run(t *testing.T, args ...string) clitest.Result {
	t.Helper()
	return clitest.Invocation{Ctx: t.Context()}.Run(t, szgovernor.Run, args...)
}

// lockedBuffer collects a subprocess's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// upProcess is `szgovernor up` running in its own process, as in a
// terminal; the test acts on it from "another shell" (in-process Run).
type upProcess struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	dir  string
	done chan error
}

func startUp(t *testing.T, args ...string) *upProcess {
	t.Helper()
	bin := governortest.BinDir(t, "szgovernor")
	dir := t.TempDir()
	up := &upProcess{out: &lockedBuffer{}, dir: dir, done: make(chan error, 1)}
	argv := append([]string{"up", "--dir", dir, "--bin-dir", bin, "--grace", "2s",
		"--base-port", strconv.Itoa(governortest.BasePort(basePortStart))}, args...)
	up.cmd = exec.Command(filepath.Join(bin, "szgovernor"), argv...)
	up.cmd.Stdout, up.cmd.Stderr = up.out, up.out
	require.NoError(t, up.cmd.Start())
	go func() { up.done <- up.cmd.Wait() }()
	t.Cleanup(func() {
		_ = up.cmd.Process.Kill()
		<-up.done
		requireAllGone(t, dir)
		if t.Failed() {
			t.Logf("szgovernor up output:\n%s", up.out.String())
		}
	})
	waitFor(t, 30*time.Second, "the cluster to come up", func() bool {
		st, err := governor.ReadState(dir)
		return err == nil && st.Governor.State == "running" && st.Governor.PID == up.cmd.Process.Pid
	})
	return up
}

// wait returns the exit error of `up`.
func (u *upProcess) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-u.done:
		u.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("szgovernor up did not exit")
		return nil
	}
}

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

// requireAllGone checks every PID the timeline says was spawned.
func requireAllGone(t *testing.T, dir string) {
	t.Helper()
	events, err := governor.ReadTimeline(filepath.Join(dir, governor.TimelineFile))
	require.NoError(t, err)
	for _, ev := range events {
		if ev.Op == "spawn" {
			waitFor(t, 5*time.Second, "pid "+strconv.Itoa(ev.PID)+" to be gone", func() bool { return !alive(ev.PID) })
		}
	}
}

func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// statusJSON runs `status -o json` and decodes it generically, as a user
// script would.
func statusJSON(t *testing.T, dir string) map[string]any {
	t.Helper()
	r := run(t, "status", "-o", "json", "--dir", dir)
	clitest.RequireOK(t, r)
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &out))
	return out
}

func processes(st map[string]any, kind string) []map[string]any {
	var out []map[string]any
	for _, p := range st[kind].([]any) {
		out = append(out, p.(map[string]any))
	}
	return out
}

func pidOf(t *testing.T, dir, id string) int {
	t.Helper()
	for _, kind := range []string{"nodes", "handlers"} {
		for _, p := range processes(statusJSON(t, dir), kind) {
			if p["id"] == id && p["state"] == "running" {
				return int(p["pid"].(float64))
			}
		}
	}
	return 0
}

func TestSzgovernor_CrossShell(t *testing.T) {
	t.Parallel()
	up := startUp(t, "--nodes", "2", "--handlers", "1", "--handler-cmd", "szhandler --servers {servers}")
	dir := up.dir

	t.Run("StatusJSONContract", func(t *testing.T) {
		st := statusJSON(t, dir)
		nodes, handlers := processes(st, "nodes"), processes(st, "handlers")
		require.Len(t, nodes, 2)
		require.Len(t, handlers, 1)
		for _, n := range nodes {
			for _, k := range []string{"id", "pid", "state", "http_addr", "raft_addr", "zmq_addr"} {
				require.Contains(t, n, k)
			}
			require.Equal(t, "running", n["state"])
		}
		for _, k := range []string{"id", "pid", "state"} {
			require.Contains(t, handlers[0], k)
		}
		require.Contains(t, up.out.String(), "Dashboard:  http://127.0.1.1:")
	})
	t.Run("SecondUpIsLocked", func(t *testing.T) {
		r := run(t, "up", "--dir", dir, "--bin-dir", filepath.Dir(up.cmd.Path),
			"--base-port", strconv.Itoa(governortest.BasePort(basePortStart)))
		require.Equal(t, cli.ExitFailure, r.Code)
		require.Contains(t, r.Stderr, "directory in use by another governor")
		require.Equal(t, 1, strings.Count(r.Stderr, "\n"), "one-line error: %q", r.Stderr)
	})
	t.Run("Kill", func(t *testing.T) {
		pid := pidOf(t, dir, "n2")
		r := run(t, "kill", "n2", "--dir", dir)
		clitest.RequireOK(t, r)
		require.Equal(t, "killed n2\n", r.Stdout)
		waitFor(t, 15*time.Second, "n2 to be restarted", func() bool {
			p := pidOf(t, dir, "n2")
			return p != 0 && p != pid
		})
		require.False(t, alive(pid))
	})
	t.Run("StopCont", func(t *testing.T) {
		clitest.RequireOK(t, run(t, "stop", "h1", "--dir", dir))
		require.Equal(t, "paused", processes(statusJSON(t, dir), "handlers")[0]["state"])
		clitest.RequireOK(t, run(t, "cont", "h1", "--dir", dir))
		require.Equal(t, "running", processes(statusJSON(t, dir), "handlers")[0]["state"])
	})
	t.Run("PartitionHeal", func(t *testing.T) {
		clitest.RequireOK(t, run(t, "partition", "n1", "n2,h1", "--dir", dir))
		require.Len(t, statusJSON(t, dir)["blocked"], 4)
		clitest.RequireOK(t, run(t, "partition", "--one-way", "n1", "n2", "--dir", dir))
		require.Equal(t, []any{[]any{"n1", "n2"}}, statusJSON(t, dir)["blocked"])
		clitest.RequireOK(t, run(t, "heal", "--dir", dir))
		require.Empty(t, statusJSON(t, dir)["blocked"])
	})
	t.Run("AddRemoveNode", func(t *testing.T) {
		r := run(t, "add-node", "--dir", dir)
		clitest.RequireOK(t, r)
		require.Equal(t, "added n3\n", r.Stdout)
		clitest.RequireOK(t, run(t, "remove-node", "n3", "--dir", dir))
		require.Equal(t, "removed", processes(statusJSON(t, dir), "nodes")[2]["state"])
	})
	t.Run("Errors", func(t *testing.T) {
		clitest.RequireFail(t, run(t, "kill", "n7", "--dir", dir), cli.ExitFailure,
			`szgovernor: governor: unknown process: "n7" (nodes n1..n3, handlers h1..h1)`)
		clitest.RequireFail(t, run(t, "kill", "--dir", dir), cli.ExitUsage,
			"szgovernor: missing argument: want ID (see 'szgovernor kill --help')")
		clitest.RequireFail(t, run(t, "partition", "--one-way", "n1", "n2", "h1", "--dir", dir), cli.ExitUsage,
			"szgovernor: --one-way takes exactly two groups (see 'szgovernor partition --help')")
	})
	t.Run("Down", func(t *testing.T) {
		st, err := governor.ReadState(dir)
		require.NoError(t, err)
		r := run(t, "down", "--dir", dir)
		clitest.RequireOK(t, r)
		require.NoError(t, up.wait(t), "up exits 0 after down")
		require.Contains(t, up.out.String(), "stopped: every process")
		for _, p := range append(st.Nodes, st.Handlers...) {
			require.False(t, alive(p.PID), "%s pid %d", p.ID, p.PID)
		}
		r = run(t, "status", "--dir", dir)
		clitest.RequireOK(t, r)
		require.Contains(t, r.Stdout, "governor stopped")
	})
}

func TestSzgovernor_DownWithHungGovernor(t *testing.T) {
	t.Parallel()
	up := startUp(t, "--nodes", "1")
	st, err := governor.ReadState(up.dir)
	require.NoError(t, err)
	require.NoError(t, up.cmd.Process.Signal(syscall.SIGSTOP)) // its control API no longer answers
	r := run(t, "down", "--grace", "1s", "--dir", up.dir)
	require.Equal(t, cli.ExitOK, r.Code, r.Stderr)
	require.Contains(t, r.Stderr, "governor does not stop through its control API; signalling it")
	require.False(t, alive(st.Nodes[0].PID))
	_ = up.wait(t)
}

func TestSzgovernor_GovernorKilled(t *testing.T) {
	t.Parallel()
	up := startUp(t, "--nodes", "1")
	st, err := governor.ReadState(up.dir)
	require.NoError(t, err)
	require.NoError(t, up.cmd.Process.Kill())
	_ = up.wait(t)
	waitFor(t, 5*time.Second, "Pdeathsig to kill the node", func() bool { return !alive(st.Nodes[0].PID) })

	r := run(t, "status", "--dir", up.dir)
	clitest.RequireOK(t, r)
	require.Contains(t, r.Stdout, "governor gone")
	require.Equal(t, "gone", processes(statusJSON(t, up.dir), "nodes")[0]["state"])
	clitest.RequireFail(t, run(t, "kill", "n1", "--dir", up.dir), cli.ExitFailure,
		"szgovernor: no running szgovernor for "+up.dir+" (start one with 'szgovernor up --dir "+up.dir+"')")
	clitest.RequireOK(t, run(t, "down", "--dir", up.dir))
}

// TestSzgovernor_UpWithoutHandlerBinary is not parallel: it empties PATH.
func TestSzgovernor_UpWithoutHandlerBinary(t *testing.T) {
	full := governortest.BinDir(t)
	bin := t.TempDir()
	require.NoError(t, os.Symlink(filepath.Join(full, governortest.NodeName), filepath.Join(bin, governortest.NodeName)))
	t.Setenv("PATH", bin) // PATH must not hold a szhandler either
	r := run(t, "up", "--handlers", "2", "--bin-dir", bin, "--dir", t.TempDir())
	clitest.RequireFail(t, r, cli.ExitFailure, "szgovernor: szhandler not found in "+bin+
		" or PATH: --handlers 2 needs it (build it, pass --bin-dir or --handler-cmd, or use --handlers 0)")
}

func TestSzgovernor_Up(t *testing.T) {
	t.Parallel()
	t.Run("ErrNodeBinaryMissing", func(t *testing.T) {
		t.Parallel()
		bin := t.TempDir()
		clitest.RequireFail(t, run(t, "up", "--bin-dir", bin, "--dir", t.TempDir()), cli.ExitFailure,
			"szgovernor: schedulezero not found in "+bin+" (run 'make build' or pass --bin-dir)")
	})
	t.Run("ErrUsage", func(t *testing.T) {
		t.Parallel()
		r := run(t, "up", "--nodes", "0", "--dir", t.TempDir())
		require.Equal(t, cli.ExitUsage, r.Code)
	})
}

func TestSzgovernor_NoState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clitest.RequireFail(t, run(t, "status", "--dir", dir), cli.ExitFailure,
		"szgovernor: no governor state in "+dir+" (start a cluster with 'szgovernor up --dir "+dir+"')")
	r := run(t, "down", "--dir", dir)
	clitest.RequireOK(t, r)
	require.Equal(t, "nothing to stop in "+dir+"\n", r.Stdout)
}
