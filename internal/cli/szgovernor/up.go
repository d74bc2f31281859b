package szgovernor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/governor"
	"github.com/schedulezero/schedulezero/internal/cli"
)

// upFlags are the flags of `szgovernor up`.
type upFlags struct {
	dir, binDir, handlerCmd, raftProfile, nodeLogLevel, logLevel string
	nodes, handlers, basePort                                    int
	grace, readyTimeout                                          time.Duration
	nodeArgs                                                     []string
}

func upCmd() *cli.Command {
	return &cli.Command{
		Name:  "up",
		Short: "Run a local cluster in the foreground (Ctrl-C or 'szgovernor down' stops it)",
		Long: `Starts --nodes schedulezero processes (n1 bootstraps, the others join n1
and are waited for) and --handlers handler processes, supervises them
(restart with exponential back-off, at most 10 crashes in 10 minutes) and
records everything in --dir/state.json so that other shells can run
'szgovernor status|down|kill|stop|cont|restart|partition|heal|add-node|
remove-node --dir DIR'.

Node i binds 127.0.1.i (HTTP B+i, Raft B+100+i, ZMQ B+200+i for --base-port
B); its peers reach it through the governor's proxies on 127.0.2.i, which
implement partitions. Handler h reaches node i through its own proxy on
127.0.3.h. In --handler-cmd, {servers} is replaced by the handler's ZMQ
endpoints, {dir} by its directory and {id} by its ID.`,
		SetupFunc: func(fs *pflag.FlagSet) cli.RunFunc {
			f := &upFlags{}
			fs.StringVar(&f.dir, "dir", DefaultDir, "governor directory (state.json, logs, node data)")
			fs.IntVar(&f.nodes, "nodes", 3, "number of schedulezero nodes")
			fs.IntVar(&f.handlers, "handlers", 0, "number of handler processes")
			fs.IntVar(&f.basePort, "base-port", governor.DefaultBasePort, "base port B (node i: HTTP B+i, Raft B+100+i, ZMQ B+200+i)")
			fs.StringVar(&f.raftProfile, "raft-profile", governor.DefaultRaftProfile, "Raft timing profile of the nodes: default, fast or test")
			fs.StringVar(&f.handlerCmd, "handler-cmd", governor.DefaultHandlerCommand, "handler command template")
			fs.StringVar(&f.binDir, "bin-dir", "", "directory holding schedulezero and szhandler (default: szgovernor's own directory)")
			fs.DurationVar(&f.grace, "grace", governor.DefaultGracePeriod, "time between SIGTERM and SIGKILL when stopping a process")
			fs.DurationVar(&f.readyTimeout, "ready-timeout", governor.DefaultReadyTimeout, "how long to wait for a node's /readyz")
			fs.StringVar(&f.nodeLogLevel, "node-log-level", "info", "--log-level of the nodes")
			fs.StringArrayVar(&f.nodeArgs, "node-arg", nil, "extra argument for every node (repeatable, e.g. --node-arg=--snapshot-threshold=64)")
			fs.StringVar(&f.logLevel, "log-level", "info", "level of the governor's own log on stderr")
			return func(ctx context.Context, inv *cli.Invocation) error { return runUp(ctx, inv, f) }
		},
	}
}

func runUp(ctx context.Context, inv *cli.Invocation, f *upFlags) error {
	cfg, err := f.config(inv)
	if err != nil {
		return err
	}
	g, err := governor.New(cfg)
	if errors.Is(err, governor.ErrCommandNotFound) {
		return fmt.Errorf("%s not found in %s or PATH: --handlers %d needs it (build it, pass --bin-dir or --handler-cmd, or use --handlers 0)",
			strings.Fields(f.handlerCmd)[0], cfg.BinDir, f.handlers)
	}
	if err != nil {
		return err
	}
	if err := g.Start(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("cluster did not come up: %w", err)
	}
	st, _ := g.Status(ctx)
	printUp(inv, st, f.dir)
	select {
	case <-ctx.Done():
		inv.Printf("stopping…\n")
		stopCtx, cancel := context.WithTimeout(context.Background(), 2*cfg.GracePeriod+30*time.Second)
		defer cancel()
		if err := g.Stop(stopCtx); err != nil {
			return err
		}
	case <-g.Done():
	}
	inv.Printf("stopped: every process of %s is down\n", f.dir)
	return nil
}

func (f *upFlags) config(inv *cli.Invocation) (governor.Config, error) {
	if f.nodes < 1 || f.nodes > governor.MaxNodes {
		return governor.Config{}, inv.Usagef("--nodes %d: want 1..%d", f.nodes, governor.MaxNodes)
	}
	if f.handlers < 0 || f.handlers > governor.MaxHandlers {
		return governor.Config{}, inv.Usagef("--handlers %d: want 0..%d", f.handlers, governor.MaxHandlers)
	}
	binDir := f.binDir
	if binDir == "" {
		exe, err := os.Executable()
		if err != nil {
			return governor.Config{}, fmt.Errorf("find szgovernor's directory (pass --bin-dir): %w", err)
		}
		binDir = filepath.Dir(exe)
	}
	node := filepath.Join(binDir, "schedulezero")
	if _, err := os.Stat(node); err != nil {
		return governor.Config{}, fmt.Errorf("schedulezero not found in %s (run 'make build' or pass --bin-dir)", binDir)
	}
	logger, err := newLogger(inv.Env.Stderr, f.logLevel)
	if err != nil {
		return governor.Config{}, inv.Usagef("%s", err.Error())
	}
	return governor.Config{
		Dir: f.dir, NodeBinary: node, BinDir: binDir,
		Nodes: f.nodes, Handlers: f.handlers, HandlerCommand: f.handlerCmd,
		BasePort: f.basePort, RaftProfile: f.raftProfile, NodeLogLevel: f.nodeLogLevel, NodeArgs: f.nodeArgs,
		GracePeriod: f.grace, ReadyTimeout: f.readyTimeout, Logger: logger,
	}, nil
}

func printUp(inv *cli.Invocation, st governor.Status, dir string) {
	inv.Printf("ScheduleZero cluster up: %d nodes, %d handlers, in %s\n\n", len(st.Nodes), len(st.Handlers), st.Governor.Dir)
	tw := inv.Table()
	for _, n := range st.Nodes {
		tw.Row("  "+n.ID, "pid "+pid(n.PID), "http://"+n.HTTPAddr, "raft "+n.RaftAddr, "zmq "+n.ZMQAddr)
	}
	for _, h := range st.Handlers {
		tw.Row("  "+h.ID, "pid "+pid(h.PID), "servers "+h.Servers)
	}
	_ = tw.Flush()
	first := st.Nodes[0].HTTPAddr
	inv.Printf("\nDashboard:  http://%s/\n", first)
	inv.Printf("API:        http://%s  (any node; e.g. szctl --addr %s)\n", first, first)
	inv.Printf("Peers talk through the governor's proxies on 127.0.2.i; control API on %s.\n", st.Governor.ControlAddr)
	inv.Printf("From another shell: szgovernor status|kill n2|stop n2|cont n2|restart n2|partition n1 n2,n3|heal|down --dir %s\n", dir)
	inv.Printf("Ctrl-C stops everything.\n")
}
