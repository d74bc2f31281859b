package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/internal/clock"
)

// Exit codes of the tools.
const (
	ExitOK          = 0
	ExitFailure     = 1   // the operation failed
	ExitUsage       = 2   // bad command line
	ExitInterrupted = 130 // the context was cancelled (SIGINT, SIGTERM)
)

// DefaultAddr is the default --addr, overridden by SZ_ADDR.
const DefaultAddr = "127.0.0.1:8888"

// AddrEnv names the environment variable that sets the default --addr.
const AddrEnv = "SZ_ADDR"

// Env is what a tool needs from its process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// LookupEnv reads an environment variable (os.LookupEnv).
	LookupEnv func(key string) (string, bool)
	// Now reads the wall clock (time.Now); used for ages in tables.
	Now func() time.Time
}

func (e Env) withDefaults() Env {
	if e.Stdin == nil {
		e.Stdin = strings.NewReader("")
	}
	if e.Stdout == nil {
		e.Stdout = io.Discard
	}
	if e.Stderr == nil {
		e.Stderr = io.Discard
	}
	if e.LookupEnv == nil {
		e.LookupEnv = func(string) (string, bool) { return "", false }
	}
	if e.Now == nil {
		e.Now = clock.Real{}.Now
	}
	return e
}

// Program is one tool: a name, its command tree and the options of the
// API clients its commands create.
type Program struct {
	Name string
	// Short is the one-line description shown in the root help.
	Short string
	// Commands are the top-level commands.
	Commands []*Command
	// ClientOptions are passed to client.New by Invocation.Client.
	ClientOptions []client.Option
}

// Run parses args, runs the selected command and returns the exit code.
// Errors are reported as one line "<name>: <message>" on env.Stderr.
func (p *Program) Run(ctx context.Context, args []string, env Env) int {
	env = env.withDefaults()
	inv := &Invocation{Program: p, Env: env, Globals: p.defaultGlobals(env)}
	defer inv.closeClients()
	err := p.dispatch(ctx, inv, args)
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, errHelpShown):
		return ExitOK
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		fmt.Fprintf(env.Stderr, "%s: interrupted\n", p.Name)
		return ExitInterrupted
	}
	fmt.Fprintf(env.Stderr, "%s: %s\n", p.Name, ErrorText(err))
	var ue *UsageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	return ExitFailure
}

func (p *Program) defaultGlobals(env Env) Globals {
	g := Globals{Addr: DefaultAddr, Output: OutputTable}
	if v, ok := env.LookupEnv(AddrEnv); ok && strings.TrimSpace(v) != "" {
		g.Addr = strings.TrimSpace(v)
	}
	return g
}

// dispatch walks the command tree: each level parses its flags (globals
// are accepted at every level) up to the next command word.
func (p *Program) dispatch(ctx context.Context, inv *Invocation, args []string) error {
	root := &Command{Name: p.Name, Short: p.Short, Sub: p.Commands}
	cmd, path := root, []string{p.Name}
	for {
		fs := newFlagSet(&inv.Globals)
		var run RunFunc
		if cmd.SetupFunc != nil {
			run = cmd.SetupFunc(fs)
		} else {
			fs.SetInterspersed(false)
		}
		inv.Path = strings.Join(path, " ")
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, pflag.ErrHelp) {
				printHelp(inv.Env.Stdout, inv.Path, cmd, fs)
				return errHelpShown
			}
			return inv.Usagef("%s", err.Error())
		}
		if err := inv.Globals.validate(); err != nil {
			return inv.Usagef("%s", err.Error())
		}
		args = fs.Args()
		if run != nil {
			if err := cmd.checkArgs(args); err != nil {
				return inv.Usagef("%s", err.Error())
			}
			inv.Args = args
			return run(ctx, inv)
		}
		if len(args) == 0 {
			return inv.Usagef("missing command")
		}
		if args[0] == "help" {
			printHelp(inv.Env.Stdout, inv.Path, cmd, fs)
			return errHelpShown
		}
		sub := cmd.find(args[0])
		if sub == nil {
			return inv.Usagef("unknown command %q", args[0])
		}
		cmd, path, args = sub, append(path, sub.Name), args[1:]
	}
}

// errHelpShown ends a run whose only output is help text.
var errHelpShown = errors.New("help shown")

// UsageError is a bad command line (exit code 2).
type UsageError struct {
	Msg  string
	Path string // the command whose help to point at
}

// Error returns the message and where to find help.
func (e *UsageError) Error() string {
	return fmt.Sprintf("%s (see '%s --help')", e.Msg, e.Path)
}

// ErrorText formats err for the one-line error report: API errors as
// "message (field: f)", unreachable servers as "cannot reach ADDR: …",
// everything else by its message, on one line.
func ErrorText(err error) string {
	var (
		apiErr *client.APIError
		urlErr *url.Error
		msg    string
	)
	switch {
	case errors.As(err, &apiErr):
		msg = apiErr.Text()
	case errors.As(err, &urlErr):
		msg = "cannot reach " + hostOf(urlErr.URL) + ": " + ErrorText(urlErr.Err)
	default:
		msg = strings.TrimPrefix(err.Error(), "client: ")
	}
	return strings.Join(strings.Fields(msg), " ")
}

func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	return u.Scheme + "://" + u.Host
}
