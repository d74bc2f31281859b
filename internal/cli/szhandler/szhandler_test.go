package szhandler

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/handlerclient"
	"github.com/schedulezero/schedulezero/handlerclient/handlerclienttest"
	"github.com/schedulezero/schedulezero/internal/cli"
	"github.com/schedulezero/schedulezero/transport"
	"github.com/schedulezero/schedulezero/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
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

func envOf(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestRun_Flags(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
		code int
		msg  string
	}{
		"Help":          {args: []string{"--help"}, code: cli.ExitOK},
		"NoName":        {args: []string{"--servers", "tcp://a:1"}, code: cli.ExitUsage, msg: "--name is required"},
		"NoServers":     {args: []string{"--name", "h"}, code: cli.ExitUsage, msg: "--servers is required"},
		"BadServer":     {args: []string{"--name", "h", "--servers", "a:1"}, code: cli.ExitUsage, msg: "want tcp://host:port"},
		"BadLogFormat":  {args: []string{"--name", "h", "--servers", "tcp://a:1", "--log-format", "xml"}, code: cli.ExitUsage, msg: "--log-format"},
		"BadLogLevel":   {args: []string{"--name", "h", "--servers", "tcp://a:1", "--log-level", "loud"}, code: cli.ExitUsage, msg: "--log-level"},
		"UnknownFlag":   {args: []string{"--nmae", "h"}, code: cli.ExitUsage, msg: "unknown flag"},
		"ExtraArgument": {args: []string{"--name", "h", "--servers", "tcp://a:1", "x"}, code: cli.ExitUsage, msg: "unexpected argument"},
		"BadEnv":        {env: map[string]string{"SZ_HANDLER_CAPACITY": "many"}, code: cli.ExitUsage, msg: "SZ_HANDLER_CAPACITY"},
		"BadJournalDir": {args: []string{"--name", "h", "--servers", "tcp://a:1", "--journal", "/nonexistent/dir/j"},
			code: cli.ExitFailure, msg: "journal"},
	} {
		var stdout, stderr syncBuffer
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		code := run(ctx, tc.args, cli.Env{Stdout: &stdout, Stderr: &stderr, LookupEnv: envOf(tc.env)}, nil)
		require.Equal(t, tc.code, code, "%s: %s", name, stderr.String())
		require.Contains(t, stderr.String(), tc.msg, name)
		if name == "Help" {
			require.Contains(t, stdout.String(), "--journal")
			require.Contains(t, stdout.String(), "SZ_HANDLER_")
		}
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	t.Run("EnvFillsUnsetFlags", func(t *testing.T) {
		t.Parallel()
		f, err := parseFlags([]string{"--capacity", "9"}, envOf(map[string]string{
			"SZ_HANDLER_NAME": "demo", "SZ_HANDLER_SERVERS": "tcp://a:1, tcp://b:2",
			"SZ_HANDLER_CAPACITY": "3", "SZ_HANDLER_LOG_LEVEL": "debug", "SZ_HANDLER_DRAIN_TIMEOUT": "5s",
		}), nil)
		require.NoError(t, err)
		require.Equal(t, "demo", f.name)
		require.Equal(t, []string{"tcp://a:1", "tcp://b:2"}, f.servers)
		require.Equal(t, 9, f.capacity, "the command line wins")
		require.Equal(t, "debug", f.logLevel)
		require.Equal(t, 5*time.Second, f.drainTimeout)
	})
	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		f, err := parseFlags([]string{"--name", "h", "--servers", "tcp://a:1"}, envOf(nil), nil)
		require.NoError(t, err)
		require.Equal(t, handlerclient.DefaultCapacity, f.capacity)
		require.Equal(t, "text", f.logFormat)
		require.Equal(t, "info", f.logLevel)
		require.Empty(t, f.journal)
	})
}

// handlerBundle is szhandler running in-process against a fake leader.
type handlerBundle struct {
	node   *handlerclienttest.Node
	peer   string
	cancel context.CancelFunc
	code   chan int
	stderr *syncBuffer
}

func startHandler(t *testing.T, extra ...string) *handlerBundle {
	t.Helper()
	net := transport.NewInmemNetwork()
	ln, err := net.Listen("tcp://n1:4242", transport.ListenerConfig{})
	require.NoError(t, err)
	node := handlerclienttest.NewNode("n1", ln)
	t.Cleanup(node.Close)
	node.Lead(1)
	node.AutoAck(true)
	ctx, cancel := context.WithCancel(context.Background())
	b := &handlerBundle{node: node, cancel: cancel, code: make(chan int, 1), stderr: &syncBuffer{}}
	args := append([]string{"--name", "demo", "--servers", "tcp://n1:4242", "--log-level", "debug"}, extra...)
	go func() {
		b.code <- run(ctx, args, cli.Env{Stderr: b.stderr}, net.Dialer(transport.DialerConfig{}))
	}()
	t.Cleanup(func() {
		cancel()
		<-b.code
	})
	in := next(t, node, wire.TypeHello)
	require.Equal(t, []string{"echo", "fail", "noop", "sleep"}, in.Msg.Methods)
	b.peer = in.Peer
	return b
}

func next(t *testing.T, n *handlerclienttest.Node, types ...wire.Type) transport.Inbound {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	in, err := n.Next(ctx, types...)
	require.NoError(t, err)
	return in
}

func (b *handlerBundle) call(t *testing.T, runID, method, params string) wire.Message {
	t.Helper()
	d := wire.Message{RunID: runID, ScheduleID: "s1", Method: method}
	if params != "" {
		d.Params = json.RawMessage(params)
	}
	require.NoError(t, b.node.Dispatch(context.Background(), b.peer, d))
	return next(t, b.node, wire.TypeResult).Msg
}

func TestRun_Methods(t *testing.T) {
	t.Parallel()
	t.Run("Echo", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := startHandler(t)
			res := b.call(t, "r1", "echo", `{"a":[1,"x"]}`)
			require.True(t, res.OK)
			require.JSONEq(t, `{"a":[1,"x"]}`, string(res.Result))
			res = b.call(t, "r2", "echo", "")
			require.True(t, res.OK)
			require.JSONEq(t, "null", string(res.Result))
		})
	})
	t.Run("Sleep", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := startHandler(t)
			start := time.Now()
			res := b.call(t, "r1", "sleep", `{"ms":2500}`)
			require.True(t, res.OK)
			require.JSONEq(t, `{"slept_ms":2500}`, string(res.Result))
			require.Equal(t, 2500*time.Millisecond, time.Since(start))
			require.False(t, b.call(t, "r2", "sleep", `{"ms":-1}`).OK)
			require.False(t, b.call(t, "r3", "sleep", `"soon"`).OK)
		})
	})
	t.Run("SleepCancelled", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := startHandler(t)
			require.NoError(t, b.node.Dispatch(context.Background(), b.peer,
				wire.Message{RunID: "r1", Method: "sleep", Params: json.RawMessage(`{"ms":3600000}`)}))
			next(t, b.node, wire.TypeAccepted)
			start := time.Now()
			require.NoError(t, b.node.Send(context.Background(), b.peer, wire.Message{Type: wire.TypeCancel, RunID: "r1"}))
			res := next(t, b.node, wire.TypeResult).Msg
			require.False(t, res.OK)
			require.Contains(t, res.Error, "sleep interrupted")
			require.Zero(t, time.Since(start))
		})
	})
	t.Run("FailAndNoop", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := startHandler(t)
			res := b.call(t, "r1", "fail", "")
			require.False(t, res.OK)
			require.Equal(t, "fail: requested failure", res.Error)
			res = b.call(t, "r2", "noop", `{"ignored":true}`)
			require.True(t, res.OK)
			require.JSONEq(t, "null", string(res.Result))
		})
	})
}

func TestRun_Journal(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	require.NoError(t, os.WriteFile(path, []byte("{\"earlier\":true}\n"), 0o644))
	synctest.Test(t, func(t *testing.T) {
		b := startHandler(t, "--journal", path)
		nominal := time.Date(2026, 11, 28, 1, 30, 0, 0, time.FixedZone("CET", 3600))
		received := time.Now()
		require.NoError(t, b.node.Dispatch(context.Background(), b.peer, wire.Message{RunID: "r1", ScheduleID: "s1",
			Method: "sleep", Params: json.RawMessage(`{"ms":1000}`), NominalAt: &nominal, Attempt: 2}))
		next(t, b.node, wire.TypeAccepted)
		// Written and synced before the job runs: the job is still sleeping.
		lines := readLines(t, path)
		require.Len(t, lines, 2)
		var got map[string]any
		require.NoError(t, json.Unmarshal([]byte(lines[1]), &got))
		require.Equal(t, map[string]any{
			"run_id": "r1", "schedule_id": "s1", "nominal_at": "2026-11-28T00:30:00Z", "attempt": 2.0,
			"instance": handlerclient.Instance(), "received_at": received.UTC().Format(time.RFC3339Nano),
		}, got)
		require.True(t, next(t, b.node, wire.TypeResult).Msg.OK)

		// A duplicate dispatch is not executed, so not journalled, again.
		require.NoError(t, b.node.Dispatch(context.Background(), b.peer, wire.Message{RunID: "r1", Method: "sleep",
			Params: json.RawMessage(`{"ms":1000}`), Attempt: 2}))
		next(t, b.node, wire.TypeAccepted)
		require.Len(t, readLines(t, path), 2)

		require.NoError(t, b.node.Dispatch(context.Background(), b.peer, wire.Message{RunID: "r2", Method: "noop"}))
		next(t, b.node, wire.TypeResult)
		lines = readLines(t, path)
		require.Len(t, lines, 3)
		require.Contains(t, lines[2], `"nominal_at":null`)
	})
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	require.NoError(t, sc.Err())
	return lines
}

func TestRun_SIGTERM(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := startHandler(t)
		require.NoError(t, b.node.Dispatch(context.Background(), b.peer,
			wire.Message{RunID: "r1", Method: "sleep", Params: json.RawMessage(`{"ms":4000}`)}))
		next(t, b.node, wire.TypeAccepted)
		start := time.Now()
		b.cancel()
		require.True(t, next(t, b.node, wire.TypeResult).Msg.OK, "the running job finishes")
		next(t, b.node, wire.TypeGoodbye)
		require.Equal(t, cli.ExitOK, <-b.code)
		b.code <- cli.ExitOK // for the cleanup
		require.Equal(t, 4*time.Second, time.Since(start))
		require.True(t, strings.Contains(b.stderr.String(), "handler stopped"), b.stderr.String())
	})
}
