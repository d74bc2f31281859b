package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// binDir holds the binaries built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "sz-e2e-bin-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("go", "build", "-o", dir+"/", "../cmd/schedulezero", "../cmd/szcluster", "../cmd/szhandler")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build binaries:", err)
		return 1
	}
	binDir = dir
	return m.Run()
}

// freePort returns a currently unused TCP port on host.
func freePort(t *testing.T, host string) int {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// node is one schedulezero process.
type node struct {
	id, dir, http, raft, zmq string
	bootstrap                bool
	cmd                      *exec.Cmd
	log                      *os.File
	waitErr                  chan error
}

func newNode(t *testing.T, id string, bootstrap bool) *node {
	t.Helper()
	return &node{
		id: id, dir: filepath.Join(t.TempDir(), id), bootstrap: bootstrap,
		http: fmt.Sprintf("127.0.0.1:%d", freePort(t, "127.0.0.1")),
		raft: fmt.Sprintf("127.0.0.1:%d", freePort(t, "127.0.0.1")),
		zmq:  fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t, "127.0.0.1")),
	}
}

// start launches the process and registers a cleanup that kills it by PID.
func (n *node) start(t *testing.T) {
	t.Helper()
	require.NoError(t, os.MkdirAll(n.dir, 0o755))
	args := []string{"--node-id", n.id, "--data-dir", n.dir, "--http-addr", n.http,
		"--raft-addr", n.raft, "--zmq-addr", n.zmq, "--log-format", "json", "--log-level", "debug"}
	if n.bootstrap {
		args = append(args, "--bootstrap")
	}
	logf, err := os.OpenFile(filepath.Join(n.dir, "node.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	cmd := exec.Command(filepath.Join(binDir, "schedulezero"), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	n.cmd, n.log, n.waitErr = cmd, logf, make(chan error, 1)
	go func() { n.waitErr <- cmd.Wait() }()
	t.Cleanup(func() { n.kill(t) })
}

// kill sends SIGKILL to the process (if running) and reaps it.
func (n *node) kill(t *testing.T) {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	<-n.waitErr
	_ = n.log.Close()
	n.cmd = nil
	if t.Failed() {
		b, _ := os.ReadFile(filepath.Join(n.dir, "node.log"))
		t.Logf("---- log of %s (last 4 KiB) ----\n%s", n.id, tail(b, 4096))
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

type self struct {
	ID           string `json:"id"`
	State        string `json:"state"`
	LeaderID     string `json:"leader_id"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	Digest       string `json:"digest"`
	Ready        bool   `json:"ready"`
}

var httpc = &http.Client{Timeout: 5 * time.Second}

// do sends a JSON request and returns status and body.
func do(method, addr, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, "http://"+addr+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func getSelf(addr string) (self, error) {
	var s self
	code, b, err := do(http.MethodGet, addr, "/v1/cluster/self", nil)
	if err != nil {
		return s, err
	}
	if code != http.StatusOK {
		return s, fmt.Errorf("self: HTTP %d: %s", code, b)
	}
	return s, json.Unmarshal(b, &s)
}

// szcluster runs the szcluster binary and returns its combined output.
func szcluster(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, "szcluster"), args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// waitFor polls cond until it returns nil or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if last = cond(); last == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, last)
}
