// Package server assembles one ScheduleZero node process: logging, metrics
// registry, the Raft-backed cluster node, the HTTP API and the join loop. It
// owns their start order and the graceful stop on SIGTERM.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/schedulezero/schedulezero/api"
	"github.com/schedulezero/schedulezero/cluster"
	"github.com/schedulezero/schedulezero/dispatch"
	"github.com/schedulezero/schedulezero/internal/clock"
	"github.com/schedulezero/schedulezero/internal/sourcedial"
	"github.com/schedulezero/schedulezero/transport"
)

// httpDrainTimeout bounds how long Stop waits for in-flight HTTP requests.
const httpDrainTimeout = time.Second

// Server is one node process.
type Server struct {
	cfg     Config
	logger  *slog.Logger
	node    *cluster.Node
	reg     prometheus.Registerer
	zmq     transport.Listener
	disp    *dispatch.Dispatcher
	dispAPI *dispatcherProxy
	httpSrv *http.Server
	ln      net.Listener
	tempDir string

	mu       sync.Mutex
	started  bool
	stopped  bool
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	httpDone chan error
}

// New validates cfg and builds the node without starting anything.
func New(cfg Config, logOut io.Writer) (*Server, error) {
	s := &Server{cfg: cfg}
	if cfg.Dev {
		if err := s.applyDev(); err != nil {
			return nil, err
		}
	}
	if err := s.cfg.validate(); err != nil {
		return nil, err
	}
	logger, err := newLogger(logOut, s.cfg.LogFormat, s.cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	s.logger = logger.With("node", s.cfg.NodeID)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := s.build(reg); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) applyDev() error {
	dir, err := os.MkdirTemp("", "schedulezero-dev-*")
	if err != nil {
		return fmt.Errorf("dev data dir: %w", err)
	}
	s.tempDir = dir
	s.cfg.DataDir = dir
	s.cfg.Bootstrap = true
	s.cfg.Join = nil
	if s.cfg.LogLevel == "info" || s.cfg.LogLevel == "" {
		s.cfg.LogLevel = "debug"
	}
	if s.cfg.NodeID == "" {
		s.cfg.NodeID = "dev"
	}
	return nil
}

func (s *Server) build(reg *prometheus.Registry) error {
	httpAdv := advertised(s.cfg.AdvertiseHTTP, s.cfg.HTTPAddr)
	// Inter-node HTTP (join, promotion checks, write forwarding) leaves from
	// this node's HTTP bind address.
	dial, err := sourcedial.New(s.cfg.HTTPAddr, 5*time.Second)
	if err != nil {
		return err
	}
	peerHTTP := sourcedial.HTTPClient(dial, 30*time.Second)
	node, err := cluster.New(cluster.Config{
		NodeID:            s.cfg.NodeID,
		DataDir:           s.cfg.DataDir,
		RaftBind:          s.cfg.RaftAddr,
		RaftAdvertise:     advertised(s.cfg.AdvertiseRaft, s.cfg.RaftAddr),
		HTTPAdvertise:     httpAdv,
		ZMQAdvertise:      advertised(s.cfg.AdvertiseZMQ, s.cfg.ZMQAddr),
		Bootstrap:         s.cfg.Bootstrap,
		Profile:           s.cfg.RaftProfile,
		SnapshotThreshold: s.cfg.SnapshotThreshold,
		SnapshotInterval:  s.cfg.SnapshotInterval,
		TrailingLogs:      s.cfg.TrailingLogs,
		SnapshotLogBytes:  s.cfg.SnapshotLogBytes,
		TrailingLogBytes:  s.cfg.TrailingLogBytes,
		Logger:            s.logger,
		Clock:             clock.Real{},
		Registerer:        reg,
		HTTPClient:        peerHTTP,
	})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	s.reg = reg
	s.dispAPI = &dispatcherProxy{}
	apiSrv, err := api.New(api.Config{
		Cluster:       node,
		Dispatcher:    s.dispAPI,
		Logger:        s.logger,
		Clock:         clock.Real{},
		Registerer:    reg,
		Gatherer:      reg,
		NodeID:        s.cfg.NodeID,
		ForwardClient: peerHTTP,
	})
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	s.node = node
	s.httpSrv = &http.Server{Handler: withPprof(apiSrv.Handler(), s.cfg.Pprof), ReadHeaderTimeout: 10 * time.Second}
	return nil
}

// Start binds the HTTP listener, starts the Raft node, serves the API and,
// when --join is set, joins the cluster in the background (retrying until
// it succeeds or the server stops). Calling Start twice is a no-op.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen http %s: %w", s.cfg.HTTPAddr, err)
	}
	zl, err := transport.ListenZMQ(ctx, s.cfg.ZMQAddr, transport.ListenerConfig{})
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("listen zmq %s: %w", s.cfg.ZMQAddr, err)
	}
	disp, err := dispatch.New(dispatch.Config{
		Cluster: s.node, Listener: zl, NodeID: s.cfg.NodeID, Clock: clock.Real{},
		Logger: s.logger, Registerer: s.reg, Lookahead: s.cfg.DispatchLookahead,
	})
	if err != nil {
		_ = zl.Close()
		_ = ln.Close()
		return fmt.Errorf("dispatch: %w", err)
	}
	if err := s.node.Start(ctx); err != nil {
		_ = zl.Close()
		_ = ln.Close()
		return fmt.Errorf("start node: %w", err)
	}
	// After the node (it consumes LeadershipChanges), before serving.
	if err := disp.Start(ctx); err != nil {
		_ = zl.Close()
		_ = ln.Close()
		return fmt.Errorf("start dispatch: %w", err)
	}
	s.zmq, s.disp = zl, disp
	s.dispAPI.set(disp)
	s.ln = ln
	s.started = true
	s.httpDone = make(chan error, 1)
	go func() { s.httpDone <- s.httpSrv.Serve(ln) }()
	bg, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if len(s.cfg.Join) > 0 {
		s.wg.Add(1)
		go s.joinLoop(bg)
	}
	s.logger.Info("schedulezero started",
		"http", "http://"+ln.Addr().String(), "dashboard", "http://"+ln.Addr().String()+"/",
		"raft", s.cfg.RaftAddr, "zmq", zl.Endpoint(), "data_dir", s.cfg.DataDir, "bootstrap", s.cfg.Bootstrap)
	return nil
}

// joinLoop asks each --join address in turn until one admits this node.
func (s *Server) joinLoop(ctx context.Context) {
	defer s.wg.Done()
	if s.node.Self().Member {
		s.logger.Info("already a cluster member; not joining")
		return
	}
	for attempt := 0; ctx.Err() == nil; attempt++ {
		target := s.cfg.Join[attempt%len(s.cfg.Join)]
		jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := s.node.JoinCluster(jctx, target)
		cancel()
		if err == nil {
			s.logger.Info("joined cluster", "via", target)
			return
		}
		s.logger.Warn("join failed; retrying", "via", target, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// HTTPAddr returns the bound HTTP address (useful with port 0).
func (s *Server) HTTPAddr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop transfers leadership if this node leads, stops Raft, then drains the
// HTTP server. It is idempotent.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started || s.stopped {
		return nil
	}
	s.stopped = true
	s.cancel()
	s.wg.Wait()
	var errs []error
	// The leader stops dispatching before it transfers leadership.
	s.disp.Stop()
	if err := s.zmq.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close zmq: %w", err))
	}
	if err := s.node.Stop(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop node: %w", err))
	}
	// Drain in-flight requests briefly. http.Server.Shutdown also waits up
	// to 5 s for connections that never sent a request; a stopping node
	// has nothing to serve them, so close whatever is left after the drain.
	drainCtx, cancel := context.WithTimeout(ctx, httpDrainTimeout)
	if err := s.httpSrv.Shutdown(drainCtx); err != nil {
		_ = s.httpSrv.Close()
	}
	cancel()
	if err := <-s.httpDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("http serve: %w", err))
	}
	if s.tempDir != "" {
		_ = os.RemoveAll(s.tempDir)
	}
	s.logger.Info("schedulezero stopped")
	return errors.Join(errs...)
}

// Run starts a server and blocks until ctx is cancelled (SIGTERM/SIGINT in
// the binary), then stops it within cfg.ShutdownTimeout.
func Run(ctx context.Context, cfg Config, logOut io.Writer) error {
	s, err := New(cfg, logOut)
	if err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	s.logger.Info("shutting down", "cause", context.Cause(ctx))
	stopCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	return s.Stop(stopCtx)
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	lvl, err := parseLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}
