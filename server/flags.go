package server

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// ErrHelp is returned by ParseFlags when --help was requested.
var ErrHelp = pflag.ErrHelp

// ParseFlags maps the schedulezero command line onto a Config. Every flag
// can also be set as SZ_<FLAG> in the environment (dashes become
// underscores: --data-dir ↔ SZ_DATA_DIR); the command line wins.
func ParseFlags(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	cfg := Defaults()
	host, _ := os.Hostname()
	fs := pflag.NewFlagSet("schedulezero", pflag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&cfg.NodeID, "node-id", host, "unique node ID (default: hostname)")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory for the Raft log, snapshots and node ID")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", cfg.HTTPAddr, "HTTP API bind address")
	fs.StringVar(&cfg.RaftAddr, "raft-addr", cfg.RaftAddr, "Raft bind address")
	fs.StringVar(&cfg.ZMQAddr, "zmq-addr", cfg.ZMQAddr, "ZeroMQ ROUTER bind endpoint for handlers")
	fs.StringVar(&cfg.AdvertiseHTTP, "advertise-http", "", "HTTP address other nodes and clients use (default: --http-addr)")
	fs.StringVar(&cfg.AdvertiseRaft, "advertise-raft", "", "Raft address peers use (default: --raft-addr)")
	fs.StringVar(&cfg.AdvertiseZMQ, "advertise-zmq", "", "ZeroMQ endpoint handlers use (default: --zmq-addr)")
	fs.BoolVar(&cfg.Bootstrap, "bootstrap", false, "form a new cluster if the data dir is empty")
	fs.StringSliceVar(&cfg.Join, "join", nil, "comma-separated HTTP addresses of members to join (retried until joined)")
	fs.BoolVar(&cfg.Dev, "dev", false, "single node: bootstraps, data under a temporary dir, verbose logs")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "log format: text or json")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "log level: debug, info, warn, error")
	fs.StringVar(&cfg.RaftProfile, "raft-profile", cfg.RaftProfile,
		"Raft timing profile: default (heartbeat/election 500ms, failover ~1s), fast (100ms, failover ~0.2s; LANs only) or test")
	fs.Uint64Var(&cfg.SnapshotThreshold, "snapshot-threshold", 0, "log entries between snapshots (default 8192)")
	fs.DurationVar(&cfg.SnapshotInterval, "snapshot-interval", 0, "how often to check whether to snapshot (default 30s)")
	fs.Uint64Var(&cfg.TrailingLogs, "trailing-logs", 0, "log entries kept after a snapshot (default 10240)")
	fs.Uint64Var(&cfg.SnapshotLogBytes, "snapshot-log-bytes", 0, "bytes of log entries between snapshots (default 128 MiB)")
	fs.Uint64Var(&cfg.TrailingLogBytes, "trailing-log-bytes", 0, "bytes of log entries kept after a snapshot, at least 32 entries (default 32 MiB)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "bound on graceful shutdown")
	fs.BoolVar(&cfg.Pprof, "pprof", false, "serve Go profiles under /debug/pprof/ on the HTTP address (diagnostics)")
	fs.DurationVar(&cfg.DispatchLookahead, "dispatch-lookahead", cfg.DispatchLookahead,
		"commit each fire decision up to this long before its due time so the Raft commit is off the fire path; the run is "+
			"still sent at its due time, never before (0 = decide at the due time). A pause, update or delete committed in "+
			"this window still applies to the run; schedules with an active run under an overlap policy other than allow "+
			"are decided at the due time")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var envErr error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || envErr != nil {
			return
		}
		name := "SZ_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", name, v, err)
			}
		}
	})
	if envErr != nil {
		return cfg, envErr
	}
	if cfg.NodeID == "" && !cfg.Dev {
		return cfg, errors.New("--node-id is required (hostname unavailable)")
	}
	return cfg, nil
}
