package governor

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/governor/governortest"
)

// TestProcessGovernor_DownWithoutGovernor is the cross-shell fallback: the supervisor is
// gone, its children are not, and Down works from state.json alone.
func TestProcessGovernor_DownWithoutGovernor(t *testing.T) {
	t.Parallel()
	bin := governortest.BinDir(t)
	dir := t.TempDir()
	start := func(args ...string) *exec.Cmd {
		cmd := exec.Command(args[0], args[1:]...)
		out := &syncBuffer{}
		cmd.Stderr = out
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(out.String(), " up") { // its signal handling is in place
			require.True(t, time.Now().Before(deadline), "%s never came up: %s", args[0], out.String())
			time.Sleep(10 * time.Millisecond)
		}
		return cmd
	}
	handler := start(filepath.Join(bin, governortest.HandlerName), "--servers", "tcp://x")
	nodeData := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(nodeData, "ignore-term"), nil, 0o644))
	stubborn := start(filepath.Join(bin, governortest.NodeName), "--data-dir", nodeData,
		"--http-addr", "127.0.0.1:0", "--raft-addr", "127.0.0.1:0", "--zmq-addr", "tcp://127.0.0.1:0")
	decoy := start(filepath.Join(bin, governortest.HandlerName), "--decoy")
	deadGov := exec.Command("true")
	require.NoError(t, deadGov.Run())

	rec := func(id string, kind Kind, cmd *exec.Cmd, argv []string) ProcessStatus {
		return ProcessStatus{ID: id, Kind: kind, PID: cmd.Process.Pid, State: StateRunning, Cmdline: argv}
	}
	require.NoError(t, writeStateFile(dir, stateFile{
		GovernorCmdline: []string{"true"},
		Status: Status{
			Governor: GovernorInfo{PID: deadGov.Process.Pid, State: phaseRunning, ControlAddr: "127.0.0.1:1"},
			Nodes:    []ProcessStatus{rec("n1", KindNode, stubborn, stubborn.Args)},
			Handlers: []ProcessStatus{
				rec("h1", KindHandler, handler, handler.Args),
				// A PID whose command line is not the recorded one is never signalled.
				rec("h2", KindHandler, decoy, []string{filepath.Join(bin, governortest.HandlerName), "--other"}),
			},
		},
	}))

	t.Run("StatusFallsBackToTheStateFile", func(t *testing.T) {
		st, live, err := StatusOf(t.Context(), dir)
		require.NoError(t, err)
		require.False(t, live)
		require.Equal(t, phaseGone, st.Governor.State)
		require.Equal(t, StateRunning, st.Nodes[0].State)
		require.Equal(t, StateRunning, st.Handlers[0].State)
		require.Equal(t, StateGone, st.Handlers[1].State, "h2's PID runs something else")
	})
	t.Run("DownStopsEveryRecordedProcess", func(t *testing.T) {
		_, err := Dial(dir)
		require.ErrorIs(t, err, ErrNoGovernor)
		require.NoError(t, Down(t.Context(), dir, DownOptions{Grace: 2 * time.Second}))
		requireExit(t, handler, "exit status 0")
		requireExit(t, stubborn, "signal: killed")
		require.NoError(t, decoy.Process.Signal(syscall.Signal(0)), "the decoy must survive")

		sf, err := readStateFile(dir)
		require.NoError(t, err)
		require.Equal(t, phaseStopped, sf.Governor.State)
		for _, p := range []ProcessStatus{sf.Nodes[0], sf.Handlers[0]} {
			require.Zero(t, p.PID)
			require.Equal(t, StateStopped, p.State)
		}
	})
}

// syncBuffer collects a child's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func requireExit(t *testing.T, cmd *exec.Cmd, want string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		got := "exit status 0"
		if err != nil {
			got = err.Error()
		}
		require.Equal(t, want, got)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still runs", cmd.Path)
	}
}
