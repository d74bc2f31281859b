package handlerclient

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
)

// Errors returned by Run.
var (
	// ErrInvalidHandler: a Handle call named an invalid or duplicate method
	// or passed a nil function, or no method was registered at all.
	ErrInvalidHandler = errors.New("handlerclient: invalid handler registration")
	// ErrRunning: Run was called while (or after) another Run call.
	ErrRunning = errors.New("handlerclient: Run called twice")
	// ErrAbandoned: jobs ignored the cancellation of their context and were
	// still running when Run returned.
	ErrAbandoned = errors.New("handlerclient: jobs still running at exit")
)

// processInstance is generated once per process start.
var processInstance = newInstanceID()

// connSeq numbers connections process-wide, so identities never repeat
// even with several clients of the same name in one process.
var connSeq atomic.Uint64

// Instance returns the random identifier of this process start, the
// default instance of every Client. Connection identities are
// "<name>/<instance>/<n>".
func Instance() string { return processInstance }

func newInstanceID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b[:])
}

// Client is a handler process's connection to a ScheduleZero cluster.
// Register methods with Handle, then call Run once.
type Client struct {
	cfg     Config
	metrics *metrics

	mu       sync.Mutex
	handlers map[string]HandlerFunc
	errs     []error // bad Handle calls, reported by Run
	started  bool
}

// New validates cfg, applies defaults and returns a Client. Errors wrap
// ErrInvalidConfig, or come from registering metrics with cfg.Registerer.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, metrics: m, handlers: make(map[string]HandlerFunc)}, nil
}

// Instance returns the instance this client announces (Config.Instance).
func (c *Client) Instance() string { return c.cfg.Instance }

// Handle registers fn for method. Call it before Run; an invalid or
// duplicate method name or a nil fn makes Run fail with ErrInvalidHandler
// (as does a call after Run started, which also has no effect).
func (c *Client) Handle(method string, fn HandlerFunc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.started:
		c.errs = append(c.errs, fmt.Errorf("%w: Handle(%q) after Run started", ErrInvalidHandler, method))
	case !validName(method, true):
		c.errs = append(c.errs, fmt.Errorf("%w: method %q: want 1-128 printable characters without spaces", ErrInvalidHandler, method))
	case fn == nil:
		c.errs = append(c.errs, fmt.Errorf("%w: method %q: nil HandlerFunc", ErrInvalidHandler, method))
	case c.handlers[method] != nil:
		c.errs = append(c.errs, fmt.Errorf("%w: method %q registered twice", ErrInvalidHandler, method))
	default:
		c.handlers[method] = fn
	}
}

// Run connects to every server, registers, executes dispatched jobs and
// keeps going through leader changes and connection losses until ctx ends.
// Then it stops accepting jobs, waits up to DrainTimeout for running ones
// (cancelling them afterwards), waits up to FlushTimeout for their results
// to be acknowledged, says goodbye on every connection and returns nil.
// Run may be called once.
func (c *Client) Run(ctx context.Context) error {
	handlers, err := c.start()
	if err != nil {
		return err
	}
	s := newSession(c.cfg, handlers, c.metrics)
	if err := s.run(ctx); err != nil {
		return err
	}
	return c.lateErr()
}

// start freezes the handler set.
func (c *Client) start() (map[string]HandlerFunc, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return nil, ErrRunning
	}
	c.started = true
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	if len(c.handlers) == 0 {
		return nil, fmt.Errorf("%w: no method registered", ErrInvalidHandler)
	}
	return maps.Clone(c.handlers), nil
}

// lateErr reports Handle calls made while Run was running.
func (c *Client) lateErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return errors.Join(c.errs...)
}

// sortedMethods returns the registered method names in order.
func sortedMethods(h map[string]HandlerFunc) []string {
	return slices.Sorted(maps.Keys(h))
}
