// Package governortest provides fake node and handler processes for
// testing the governor without the real binaries.
//
// A test binary becomes the fake when it is started under the name
// "schedulezero" or "szhandler": BinDir makes such names as symlinks to the
// running test binary, and the package's TestMain hands over to Main:
//
//	func TestMain(m *testing.M) {
//		if code, ok := governortest.Main(); ok {
//			os.Exit(code)
//		}
//		goleak.VerifyTestMain(m)
//	}
//
// The fake node accepts the schedulezero flags, listens on its HTTP, Raft
// and ZMQ addresses (Raft and ZMQ echo what they receive), answers /healthz,
// /readyz, /v1/cluster/self and DELETE /v1/cluster/members/{id}, and, with
// --join, calls the member's /v1/cluster/self from its own bind address as
// the real server does (it is ready only after that call succeeded). Files in its --data-dir change its behaviour:
// "crash" makes it exit 3 at once, "unready" makes /readyz answer 503,
// "ignore-term" makes it ignore SIGTERM. Both fakes print a line ending in
// "up" on stderr once their signal handling is in place.
package governortest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// Names of the fake executables.
const (
	NodeName    = "schedulezero"
	HandlerName = "szhandler"
)

// Main runs the fake whose name the process was started under and returns
// its exit code, or false when the process is an ordinary test binary.
func Main() (int, bool) {
	switch filepath.Base(os.Args[0]) {
	case NodeName:
		return runNode(os.Args[1:]), true
	case HandlerName:
		return runHandler(os.Args[1:]), true
	}
	return 0, false
}

// BinDir returns a temporary directory holding "schedulezero" and
// "szhandler" symlinks to the running test binary, plus any extra names.
func BinDir(t testing.TB, extra ...string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range append([]string{NodeName, HandlerName}, extra...) {
		if err := os.Symlink(exe, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var nextBase atomic.Int64

// BasePort returns a base port no other caller in this process got: each
// governor needs 400 ports from it. start separates test packages that run
// in parallel (keep them 6000 apart and below 32768).
func BasePort(start int) int {
	return start + int(nextBase.Add(1)-1)*400
}

type nodeFlags struct {
	id, dataDir, httpAddr, raftAddr, zmqAddr string
	join                                     []string
	bootstrap                                bool
}

func runNode(args []string) int {
	var f nodeFlags
	fs := pflag.NewFlagSet(NodeName, pflag.ContinueOnError)
	fs.ParseErrorsAllowlist.UnknownFlags = true
	fs.StringVar(&f.id, "node-id", "", "")
	fs.StringVar(&f.dataDir, "data-dir", "", "")
	fs.StringVar(&f.httpAddr, "http-addr", "", "")
	fs.StringVar(&f.raftAddr, "raft-addr", "", "")
	fs.StringVar(&f.zmqAddr, "zmq-addr", "", "")
	fs.StringSliceVar(&f.join, "join", nil, "")
	fs.BoolVar(&f.bootstrap, "bootstrap", false, "")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintln(os.Stderr, "fake node:", err)
		return 2
	}
	if exists(f.dataDir, "crash") {
		fmt.Fprintln(os.Stderr, "fake node: crash file present; exiting 3")
		return 3
	}
	ctx, stop := notifyTerm(f.dataDir)
	defer stop()
	for _, addr := range []string{f.raftAddr, strings.TrimPrefix(f.zmqAddr, "tcp://")} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fake node:", err)
			return 1
		}
		go echo(ln)
	}
	ln, err := net.Listen("tcp", f.httpAddr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake node:", err)
		return 1
	}
	var joined atomic.Bool
	joined.Store(len(f.join) == 0)
	go func() { _ = http.Serve(ln, nodeMux(f, &joined)) }()
	if !joined.Load() {
		go joinFrom(ctx, f, &joined)
	}
	fmt.Fprintln(os.Stderr, "fake node up:", f.id)
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "fake node: SIGTERM; exiting 0")
	return 0
}

func nodeMux(f nodeFlags, joined *atomic.Bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if exists(f.dataDir, "unready") || !joined.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("GET /v1/cluster/self", func(w http.ResponseWriter, _ *http.Request) {
		state := "follower"
		if f.bootstrap {
			state = "leader"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"id": f.id, "state": state, "term": 1, "ready": true})
	})
	mux.HandleFunc("DELETE /v1/cluster/members/{id}", func(w http.ResponseWriter, r *http.Request) {
		_ = os.WriteFile(filepath.Join(f.dataDir, "removed-"+r.PathValue("id")), nil, 0o644)
		_ = json.NewEncoder(w).Encode(map[string]bool{"ok": true})
	})
	return mux
}

// joinFrom calls the join target from the node's bind IP until it
// answers; the node is ready from then on.
func joinFrom(ctx context.Context, f nodeFlags, joined *atomic.Bool) {
	host, _, _ := net.SplitHostPort(f.httpAddr)
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(host)}}).DialContext,
	}}
	for ctx.Err() == nil {
		resp, err := hc.Get("http://" + f.join[0] + "/v1/cluster/self")
		if err == nil {
			resp.Body.Close()
			joined.Store(true)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func runHandler(args []string) int {
	ctx, stop := notifyTerm("")
	defer stop()
	fmt.Fprintln(os.Stderr, "fake handler up:", strings.Join(args, " "))
	<-ctx.Done()
	return 0
}

// notifyTerm returns a context ended by SIGTERM or SIGINT, unless dir
// holds an "ignore-term" file.
func notifyTerm(dir string) (context.Context, context.CancelFunc) {
	if dir != "" && exists(dir, "ignore-term") {
		signal.Ignore(syscall.SIGTERM)
		return context.WithCancel(context.Background())
	}
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
}

func echo(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					_, _ = c.Write(buf[:n])
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

func exists(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}
