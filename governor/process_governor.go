package governor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/client"
)

// Governor phases (GovernorInfo.State).
const (
	phaseNew      = "new"
	phaseStarting = "starting"
	phaseRunning  = "running"
	phaseStopping = "stopping"
	phaseStopped  = "stopped"
	// phaseGone is reported by the state-file fallback.
	phaseGone = "gone"
)

// ProcessGovernor is the Governor that runs every node and handler as a
// real OS process on this machine, each behind userspace TCP proxies that
// implement partitions. See the package documentation and DESIGN.md.
type ProcessGovernor struct {
	cfg          Config
	log          *slog.Logger
	handlerWords []string
	sv           *supervision
	net          *network
	hc           *http.Client
	tl           *timeline // set by open; nil-safe through record

	runCtx     context.Context // cancelled by Stop: aborts waits of running operations
	runCancel  context.CancelFunc
	opSem      chan struct{} // 1 slot: serialises Start, Stop and the Controller operations
	finishOnce sync.Once
	downOnce   sync.Once

	mu         sync.Mutex
	phase      string
	nodes      []*nodeProc
	handlers   []*proc
	startedAt  time.Time
	lock       *os.File
	token      string
	cmdline    []string
	ctl        *controlServer
	changed    chan struct{} // capacity 1: state.json must be rewritten
	writerStop chan struct{}
	writerDone chan struct{}
	done       chan struct{}
	writeFails bool // state.json could not be written last time
}

// nodeProc is one node: its addresses, its supervisor and an API client
// on its direct (bind) address.
type nodeProc struct {
	addrs   nodeAddrs
	proc    *proc
	api     *client.Client
	removed bool // guarded by ProcessGovernor.mu
}

var _ Governor = (*ProcessGovernor)(nil)

// New validates cfg and returns a governor that has not started anything.
func New(cfg Config) (*ProcessGovernor, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var words []string
	if cfg.Handlers > 0 {
		var err error
		if words, err = parseTemplate(cfg.HandlerCommand, cfg.BinDir); err != nil {
			return nil, fmt.Errorf("%w: handler command: %w", ErrInvalidConfig, err)
		}
	}
	runCtx, runCancel := context.WithCancel(context.Background())
	g := &ProcessGovernor{
		cfg: cfg, log: cfg.Logger, handlerWords: words,
		net:    newNetwork(cfg.Logger),
		runCtx: runCtx, runCancel: runCancel,
		phase:   phaseNew,
		opSem:   make(chan struct{}, 1),
		changed: make(chan struct{}, 1),
		done:    make(chan struct{}),
		hc: &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: dialTimeout}).DialContext,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     30 * time.Second,
		}},
	}
	g.sv = &supervision{policy: cfg.Restart, clock: cfg.Clock, log: cfg.Logger,
		env: childEnv(cfg.Env), grace: cfg.GracePeriod, notify: g.notify, record: g.record}
	return g, nil
}

// childEnv is the governor's environment without SZ_* variables (they
// would override node flags) plus extra.
func childEnv(extra []string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "SZ_") })
	return append(env, extra...)
}

// Done is closed once the governor has stopped (by Stop, by a failed
// Start, or by `szgovernor down` through the control API).
func (g *ProcessGovernor) Done() <-chan struct{} { return g.done }

// Start implements Governor.
func (g *ProcessGovernor) Start(ctx context.Context) error {
	ctx, cancel := g.opCtx(ctx)
	defer cancel()
	if err := g.acquire(ctx); err != nil {
		return err
	}
	defer g.release()
	g.mu.Lock()
	if g.phase != phaseNew {
		g.mu.Unlock()
		return errors.New("governor: Start may be called only once")
	}
	g.phase = phaseStarting
	g.mu.Unlock()
	if err := g.start(ctx); err != nil {
		g.finish(context.Background())
		return err
	}
	g.setPhase(phaseRunning)
	g.log.Info("cluster up", "dir", g.cfg.Dir, "nodes", g.cfg.Nodes, "handlers", g.cfg.Handlers)
	g.warnUnattributed()
	return nil
}

func (g *ProcessGovernor) start(ctx context.Context) error {
	if err := g.open(ctx); err != nil {
		return err
	}
	ev := g.tl.begin()
	ev.Kind, ev.Op = "governor", "up"
	defer func() { g.tl.record(ev) }()
	for i := 1; i <= g.cfg.Nodes; i++ {
		var join []string
		if i > 1 {
			join = []string{planNode(g.cfg.BasePort, 1, g.cfg.Direct).advHTTP()}
		}
		if err := g.startNode(ctx, i, join); err != nil {
			ev.Error = err.Error()
			return err
		}
	}
	for h := 1; h <= g.cfg.Handlers; h++ {
		if err := g.startHandler(h); err != nil {
			ev.Error = err.Error()
			return err
		}
	}
	g.mu.Lock()
	handlers := slices.Clone(g.handlers)
	g.mu.Unlock()
	for _, p := range handlers {
		if err := g.waitReady(ctx, p); err != nil { // a handler is ready once spawned
			ev.Error = err.Error()
			return err
		}
	}
	return nil
}

// open prepares the directory: lock, leftovers of a crashed governor,
// timeline, control API, state writer.
func (g *ProcessGovernor) open(ctx context.Context) error {
	for _, d := range []string{g.cfg.Dir, filepath.Join(g.cfg.Dir, "nodes"), filepath.Join(g.cfg.Dir, "handlers")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	lock, err := lockDir(g.cfg.Dir)
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.lock = lock
	g.mu.Unlock()
	g.reapLeftovers(ctx)
	tl, err := openTimeline(filepath.Join(g.cfg.Dir, TimelineFile), g.cfg.Clock)
	if err != nil {
		return err
	}
	token, err := newToken()
	if err != nil {
		return err
	}
	cmdline, _ := procCmdline(os.Getpid())
	g.mu.Lock()
	g.tl, g.token, g.cmdline, g.startedAt = tl, token, cmdline, g.cfg.Clock.Now()
	g.mu.Unlock()
	ctl, err := startControl(g, token)
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.ctl = ctl
	g.writerStop, g.writerDone = make(chan struct{}), make(chan struct{})
	go g.writer(g.writerStop, g.writerDone)
	g.mu.Unlock()
	g.notify()
	return nil
}

// reapLeftovers stops processes recorded by a previous governor of this
// directory that are still running (it died without Pdeathsig taking them).
func (g *ProcessGovernor) reapLeftovers(ctx context.Context) {
	old, err := readStateFile(g.cfg.Dir)
	if err != nil {
		return
	}
	procs := append(slices.Clone(old.Nodes), old.Handlers...)
	if left := terminate(ctx, g.cfg.Clock, procs, g.cfg.GracePeriod); len(left) > 0 {
		g.log.Error("processes of a previous governor survive SIGKILL", "pids", left)
	}
}

func newToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("control token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// startNode creates node i's proxies and supervisor and waits until it is
// ready. join lists the advertised HTTP addresses it joins through; none
// means --bootstrap.
func (g *ProcessGovernor) startNode(ctx context.Context, i int, join []string) error {
	id, a := nodeID(i), planNode(g.cfg.BasePort, i, g.cfg.Direct)
	dir := filepath.Join(g.cfg.Dir, "nodes", id)
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := g.nodeProxies(a); err != nil {
		return err
	}
	api, err := client.New(a.bindHTTP(), client.WithHTTPClient(g.hc), client.WithTimeout(0))
	if err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	nd := &nodeProc{addrs: a, api: api}
	argv := g.nodeArgv(a, dir, join)
	nd.proc = newProc(procSpec{
		id: id, kind: KindNode, dir: dir, logPath: filepath.Join(dir, "node.log"),
		argv:  func() []string { return slices.Clone(argv) },
		ready: func(ctx context.Context) bool { ok, err := api.Readyz(ctx); return ok && err == nil },
	}, g.sv)
	g.mu.Lock()
	g.nodes = append(g.nodes, nd)
	g.mu.Unlock()
	nd.proc.start()
	return g.waitReady(ctx, nd.proc)
}

// nodeProxies starts the proxies in front of node a: its own three, and
// one per handler for its ZMQ endpoint.
func (g *ProcessGovernor) nodeProxies(a nodeAddrs) error {
	if a.direct {
		return nil
	}
	id := nodeID(a.index)
	for _, p := range [][3]string{{a.advHTTP(), a.bindHTTP(), "http"}, {a.advRaft(), a.bindRaft(), "raft"}, {a.advZMQ(), a.bindZMQ(), "zmq"}} {
		if _, err := g.net.listen(p[0], p[1], id, p[2], callerBySource); err != nil {
			return err
		}
	}
	g.mu.Lock()
	handlers := len(g.handlers)
	g.mu.Unlock()
	for h := 1; h <= handlers; h++ {
		if err := g.handlerProxy(h, a); err != nil {
			return err
		}
	}
	return nil
}

func (g *ProcessGovernor) handlerProxy(h int, a nodeAddrs) error {
	if a.direct {
		return nil
	}
	caller := handlerID(h)
	_, err := g.net.listen(a.handlerZMQ(h), a.bindZMQ(), nodeID(a.index), "zmq", func(net.Addr) string { return caller })
	return err
}

func (g *ProcessGovernor) nodeArgv(a nodeAddrs, dir string, join []string) []string {
	argv := []string{g.cfg.NodeBinary,
		"--node-id", nodeID(a.index),
		"--data-dir", filepath.Join(dir, "data"),
		"--http-addr", a.bindHTTP(),
		"--raft-addr", a.bindRaft(),
		"--zmq-addr", zmqURL(a.bindZMQ()),
		"--advertise-http", a.advHTTP(),
		"--advertise-raft", a.advRaft(),
		"--advertise-zmq", zmqURL(a.advZMQ()),
		"--raft-profile", g.cfg.RaftProfile,
		"--log-format", "json",
		"--log-level", g.cfg.NodeLogLevel,
	}
	if len(join) == 0 {
		argv = append(argv, "--bootstrap")
	} else {
		argv = append(argv, "--join", strings.Join(join, ","))
	}
	return append(argv, g.cfg.NodeArgs...)
}

// startHandler creates handler h's proxies (one per live node) and starts
// its supervisor. Handlers are not waited for.
func (g *ProcessGovernor) startHandler(h int) error {
	id := handlerID(h)
	dir := filepath.Join(g.cfg.Dir, "handlers", id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for _, a := range g.liveNodeAddrs() {
		if err := g.handlerProxy(h, a); err != nil {
			return err
		}
	}
	p := newProc(procSpec{
		id: id, kind: KindHandler, dir: dir, logPath: filepath.Join(dir, "handler.log"),
		argv: func() []string {
			return expandTemplate(g.handlerWords, map[string]string{"servers": g.handlerServers(h), "dir": dir, "id": id})
		},
	}, g.sv)
	g.mu.Lock()
	g.handlers = append(g.handlers, p)
	g.mu.Unlock()
	p.start()
	return nil
}

func (g *ProcessGovernor) liveNodeAddrs() []nodeAddrs {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []nodeAddrs
	for _, nd := range g.nodes {
		if !nd.removed {
			out = append(out, nd.addrs)
		}
	}
	return out
}

// handlerServers is handler h's --servers value: its own proxy for every
// live node's ZMQ endpoint.
func (g *ProcessGovernor) handlerServers(h int) string {
	var hps []string
	for _, a := range g.liveNodeAddrs() {
		hps = append(hps, a.handlerZMQ(h))
	}
	return joinZMQ(hps)
}

// waitReady waits until p is running (a node answered /readyz).
func (g *ProcessGovernor) waitReady(ctx context.Context, p *proc) error {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.ReadyTimeout)
	defer cancel()
	for {
		st := p.status()
		switch st.State {
		case StateRunning:
			return nil
		case StateFailed, StateStopped, StateRemoved:
			return fmt.Errorf("%s is %s before it became ready (last exit: %s; log: %s)", st.ID, st.State, st.LastExit, st.LogFile)
		}
		t := g.cfg.Clock.NewTimer(readyPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s not ready within %s (state %s; log: %s): %w", st.ID, g.cfg.ReadyTimeout, st.State, st.LogFile, context.Cause(ctx))
		case <-t.C():
		}
	}
}

// warnUnattributed logs when the proxies saw no node dial Raft or HTTP
// from its bind address: partitions then cannot cut that traffic (the
// leader dials every follower's Raft port at once, joins use HTTP).
func (g *ProcessGovernor) warnUnattributed() {
	if len(g.liveNodeAddrs()) < 2 {
		return
	}
	for _, service := range []string{"raft", "http"} {
		if g.net.serviceConns(service) == 0 {
			g.log.Warn("no node dialled its peers' "+service+" port from its bind address 127.0.1.i; partitions will not cut "+service+" traffic",
				"service", service)
		}
	}
}

// Stop implements Governor.
func (g *ProcessGovernor) Stop(ctx context.Context) error {
	g.runCancel()         // a running operation (or Start) gives up its waits…
	g.opSem <- struct{}{} // …and releases the slot; queued ones fail fast
	defer g.release()
	g.finish(ctx)
	return nil
}

// acquire takes the operation slot, or fails when ctx ends first (the
// governor is stopping, or the caller gave up).
func (g *ProcessGovernor) acquire(ctx context.Context) error {
	select {
	case g.opSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		if g.runCtx.Err() != nil {
			return fmt.Errorf("%w: governor stopping", ErrNotStarted)
		}
		return context.Cause(ctx)
	}
}

func (g *ProcessGovernor) release() { <-g.opSem }

// finish stops everything once; concurrent callers wait for the first.
func (g *ProcessGovernor) finish(ctx context.Context) {
	g.finishOnce.Do(func() {
		g.runCancel()
		g.mu.Lock()
		started := g.phase != phaseNew
		g.phase = phaseStopping
		g.mu.Unlock()
		if started {
			g.shutdown(ctx)
		}
		g.setPhase(phaseStopped)
		close(g.done)
	})
	<-g.done
}

func (g *ProcessGovernor) shutdown(ctx context.Context) {
	ev := g.tl.begin()
	ev.Kind, ev.Op = "governor", "down"
	g.notify()
	g.mu.Lock()
	handlers := slices.Clone(g.handlers)
	var nodes []*proc
	for _, nd := range g.nodes {
		nodes = append(nodes, nd.proc)
	}
	ctl, writerStop, writerDone := g.ctl, g.writerStop, g.writerDone
	g.mu.Unlock()
	stopAll(ctx, handlers)
	stopAll(ctx, nodes)
	g.net.close()
	if ctl != nil {
		ctl.close(ctx)
	}
	if writerStop != nil {
		close(writerStop)
		<-writerDone
	}
	g.tl.record(ev)
	_ = g.tl.close()
	g.mu.Lock()
	g.phase = phaseStopped
	g.mu.Unlock()
	g.hc.CloseIdleConnections()
	opened := g.tl != nil // false: locked by another governor, or failed early
	if opened {
		g.writeState() // leave a final state behind, under the lock
	}
	g.mu.Lock()
	lock := g.lock
	g.lock = nil
	g.mu.Unlock()
	_ = unlockDir(lock)
	if opened {
		g.log.Info("cluster down", "dir", g.cfg.Dir)
	}
}

// stopAll stops processes in parallel and waits for all of them.
func stopAll(ctx context.Context, procs []*proc) {
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(func() { p.stop(ctx) })
	}
	wg.Wait()
}

// requestDown stops the governor in the background (control API `down`).
func (g *ProcessGovernor) requestDown() {
	g.downOnce.Do(func() {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*g.cfg.GracePeriod+30*time.Second)
			defer cancel()
			_ = g.Stop(ctx)
		}()
	})
}

// opCtx derives a context that also ends when the governor stops.
func (g *ProcessGovernor) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(g.runCtx, func() { cancel(errors.New("governor stopping")) })
	return ctx, func() { stop(); cancel(nil) }
}

func (g *ProcessGovernor) setPhase(p string) {
	g.mu.Lock()
	g.phase = p
	g.mu.Unlock()
	g.notify()
}

// notify asks the writer to rewrite state.json; it never blocks.
func (g *ProcessGovernor) notify() {
	select {
	case g.changed <- struct{}{}:
	default:
	}
}

func (g *ProcessGovernor) record(ev TimelineEvent) {
	g.mu.Lock()
	tl := g.tl
	g.mu.Unlock()
	if tl != nil {
		tl.record(ev)
	}
}

func (g *ProcessGovernor) writer(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case <-stop:
			return
		case <-g.changed:
			g.writeState()
		}
	}
}

func (g *ProcessGovernor) writeState() {
	st := g.status()
	g.mu.Lock()
	sf := stateFile{Token: g.token, GovernorCmdline: g.cmdline, Status: st}
	g.mu.Unlock()
	err := writeStateFile(g.cfg.Dir, sf)
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil && !g.writeFails { // log once per failure streak
		g.log.Error("cannot write state file", "err", err)
	}
	g.writeFails = err != nil
}
