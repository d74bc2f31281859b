package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/schedulezero/schedulezero/internal/clock"
)

// HeaderForwardedBy names the node that forwarded a request to the leader. A
// request that already carries it is never forwarded again.
const HeaderForwardedBy = "X-SZ-Forwarded-By"

// Request deadlines. Propose and LinearizableRead run under readWriteTimeout;
// a write that hits it may still commit, which the client learns as 503
// "timeout".
const (
	readWriteTimeout  = 10 * time.Second
	membershipTimeout = 30 * time.Second
	joinTimeout       = 60 * time.Second
	snapshotTimeout   = 10 * time.Minute
	forwardTimeout    = 30 * time.Second
)

// ErrInvalidConfig is returned by New when a required Config field is missing.
var ErrInvalidConfig = errors.New("api: invalid config")

// Config configures a Server. Cluster and NodeID are required.
type Config struct {
	// Cluster is the replicated core the API reads from and proposes to.
	Cluster Cluster
	// Logger receives request logs (Debug) and internal errors; nil discards.
	Logger *slog.Logger
	// Clock is the time source for next_fire_at; default clock.Real{}.
	Clock clock.Clock
	// Registerer receives the HTTP metrics; nil registers none.
	Registerer prometheus.Registerer
	// Gatherer is served at /metrics; nil means prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// ForwardClient carries requests forwarded to the leader; default is a
	// client with a 30 s timeout.
	ForwardClient *http.Client
	// NodeID is this node's ID, sent in the X-SZ-Forwarded-By header.
	NodeID string
	// Dispatcher serves trigger and handlers; nil answers 503 there.
	Dispatcher Dispatcher
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Gatherer == nil {
		c.Gatherer = prometheus.DefaultGatherer
	}
	if c.ForwardClient == nil {
		c.ForwardClient = &http.Client{Timeout: forwardTimeout}
	}
	return c
}

func (c Config) validate() error {
	if c.Cluster == nil {
		return fmt.Errorf("%w: Cluster is required", ErrInvalidConfig)
	}
	if c.NodeID == "" {
		return fmt.Errorf("%w: NodeID is required", ErrInvalidConfig)
	}
	return nil
}

// Server serves the HTTP API of one node. It is safe for concurrent use.
type Server struct {
	cluster Cluster
	log     *slog.Logger
	clock   clock.Clock
	client  *http.Client
	// streamClient is client without its overall timeout, for snapshots.
	streamClient *http.Client
	nodeID       string
	dispatcher   Dispatcher
	metrics      *metrics
	mux          *http.ServeMux
	patterns     map[string]bool // registered route patterns, the metric's route label values
}

// New validates cfg, registers the HTTP metrics and builds the route table.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	streamClient := *cfg.ForwardClient // shares the Transport
	streamClient.Timeout = 0
	s := &Server{
		cluster:      cfg.Cluster,
		log:          cfg.Logger,
		clock:        cfg.Clock,
		client:       cfg.ForwardClient,
		streamClient: &streamClient,
		nodeID:       cfg.NodeID,
		dispatcher:   cfg.Dispatcher,
		metrics:      m,
		mux:          http.NewServeMux(),
		patterns:     make(map[string]bool),
	}
	s.routes(promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	return s, nil
}

// Handler returns the http.Handler serving every route of the API.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

func (s *Server) routes(metricsHandler http.Handler) {
	s.handle("POST /v1/schedules", s.createSchedule)
	s.handle("POST /v1/schedules:batch", s.createSchedules)
	s.handle("GET /v1/schedules", s.listSchedules)
	s.handle("GET /v1/schedules/{id}", s.getSchedule)
	s.handle("PUT /v1/schedules/{id}", s.updateSchedule)
	s.handle("DELETE /v1/schedules/{id}", s.deleteSchedule)
	s.handle("POST /v1/schedules/{id}/pause", s.pauseSchedule)
	s.handle("POST /v1/schedules/{id}/resume", s.resumeSchedule)
	s.handle("POST /v1/schedules/{id}/trigger", s.triggerSchedule)
	s.handle("GET /v1/runs", s.listRuns)
	s.handle("GET /v1/runs/{run_id}", s.getRun)
	s.handle("GET /v1/handlers", s.listHandlers)

	s.handle("GET /v1/cluster/members", s.listMembers)
	s.handle("GET /v1/cluster/self", s.getSelf)
	s.handle("POST /v1/cluster/join", s.join)
	s.handle("POST /v1/cluster/leave", s.leave)
	s.handle("DELETE /v1/cluster/members/{id}", s.removeMember)
	s.handle("POST /v1/cluster/transfer-leadership", s.transferLeadership)
	s.handle("GET /v1/cluster/snapshot", s.saveSnapshot)
	s.handle("POST /v1/cluster/snapshot", s.restoreSnapshot)
	s.handle("POST /v1/cluster/bench/commits", s.benchCommits)

	s.handle("GET /healthz", s.healthz)
	s.handle("GET /readyz", s.readyz)
	s.handle("GET /metrics", metricsHandler.ServeHTTP)
	s.handle("GET /{$}", serveDashboard)
}

func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, h)
	s.patterns[pattern] = true
}

// serve is the outermost handler: it records metrics and the request log and
// turns a panic into a 500 JSON response.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := s.clock.Now()
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		p := recover()
		if p != nil && p != http.ErrAbortHandler {
			s.log.ErrorContext(r.Context(), "api: handler panic", slog.Any(logKeyPanic, p),
				slog.String(logKeyPath, r.URL.Path), slog.String(logKeyStack, string(debug.Stack())))
			if !sw.wroteHeader {
				writeError(sw, errInternal("internal error"))
			}
		}
		s.finish(r, sw, s.clock.Since(start))
		if p == http.ErrAbortHandler {
			panic(p)
		}
	}()
	s.route(sw, r)
}

func (s *Server) finish(r *http.Request, sw *statusWriter, d time.Duration) {
	status := sw.status
	if !sw.wroteHeader {
		status = http.StatusOK
	}
	route := r.Pattern
	if !s.patterns[route] {
		route = "unmatched"
	}
	s.metrics.observe(route, r.Method, status, d)
	s.log.DebugContext(r.Context(), "api: request",
		slog.String(logKeyMethod, r.Method), slog.String(logKeyPath, r.URL.Path),
		slog.String(logKeyRoute, route), slog.Int(logKeyStatus, status),
		slog.Duration(logKeyDuration, d), slog.String(logKeyForwardedBy, r.Header.Get(HeaderForwardedBy)))
}

// route dispatches through the ServeMux, replacing its plain-text 404 and 405
// answers with the JSON error shape.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r) // sets r.Pattern and the path values
		return
	}
	c := &captureWriter{header: make(http.Header)}
	h.ServeHTTP(c, r)
	switch c.status {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", c.header.Get("Allow"))
		writeError(w, &apiError{status: http.StatusMethodNotAllowed, Code: codeMethodNotAllowed,
			Message: fmt.Sprintf("method %s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, c.header.Get("Allow"))})
	case http.StatusNotFound:
		writeError(w, &apiError{status: http.StatusNotFound, Code: codeNotFound,
			Message: fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path)})
	default: // a path-cleaning redirect
		for k, v := range c.header {
			w.Header()[k] = v
		}
		w.WriteHeader(c.status)
	}
}

// statusWriter remembers the status written through it.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// captureWriter records the ServeMux's own not-found, method-not-allowed or
// redirect answer so route can rewrite it.
type captureWriter struct {
	header http.Header
	status int
}

func (c *captureWriter) Header() http.Header { return c.header }

func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return len(b), nil
}
