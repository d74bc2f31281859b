package server

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"
)

// Config is everything a node process needs; cmd/schedulezero maps flags and
// SZ_* environment variables onto it one to one.
type Config struct {
	NodeID        string
	DataDir       string
	HTTPAddr      string
	RaftAddr      string
	ZMQAddr       string
	AdvertiseHTTP string
	AdvertiseRaft string
	AdvertiseZMQ  string
	Bootstrap     bool
	Join          []string
	Dev           bool
	LogFormat     string
	LogLevel      string

	RaftProfile       string
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	SnapshotLogBytes  uint64
	TrailingLogBytes  uint64
	// ShutdownTimeout bounds the graceful stop (leadership transfer, drain).
	ShutdownTimeout time.Duration
	// Pprof mounts net/http/pprof under /debug/pprof/ on the HTTP listener
	// (off by default: profiles expose internals; szbench and BENCHMARKS.md
	// use it).
	Pprof bool
	// DispatchLookahead is dispatch.Config.Lookahead: how long before its
	// due time an occurrence's fire decision is committed, so the Raft
	// commit is off the fire path (the run is still sent at its due time,
	// never before). 0 decides at the due time. Default 100 ms: above a
	// loaded cluster's commit p99, small enough that changes to a schedule
	// within the window are rare (dispatch/DESIGN.md "Fire lookahead").
	DispatchLookahead time.Duration
}

// DefaultDispatchLookahead is the default of --dispatch-lookahead.
const DefaultDispatchLookahead = 100 * time.Millisecond

// Defaults returns the documented defaults of DESIGN.md.
func Defaults() Config {
	return Config{
		DataDir:           "./sz-data",
		HTTPAddr:          "127.0.0.1:8888",
		RaftAddr:          "127.0.0.1:4243",
		ZMQAddr:           "tcp://127.0.0.1:4242",
		LogFormat:         "text",
		LogLevel:          "info",
		RaftProfile:       "default",
		ShutdownTimeout:   15 * time.Second,
		DispatchLookahead: DefaultDispatchLookahead,
	}
}

func (c *Config) validate() error {
	if c.NodeID == "" {
		return fmt.Errorf("--node-id is required")
	}
	if c.DataDir == "" {
		return fmt.Errorf("--data-dir is required")
	}
	for flag, addr := range map[string]string{"--http-addr": c.HTTPAddr, "--raft-addr": c.RaftAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%s %q: %w", flag, addr, err)
		}
	}
	if !strings.HasPrefix(c.ZMQAddr, "tcp://") {
		return fmt.Errorf("--zmq-addr %q: must start with tcp://", c.ZMQAddr)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format %q: must be text or json", c.LogFormat)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if c.DispatchLookahead < 0 {
		return fmt.Errorf("--dispatch-lookahead %s: must not be negative", c.DispatchLookahead)
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 15 * time.Second
	}
	return nil
}

// advertised returns the advertised address or, when unset, the bind address.
func advertised(adv, bind string) string {
	if adv != "" {
		return adv
	}
	return bind
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: must be debug, info, warn or error", s)
	}
	return l, nil
}
