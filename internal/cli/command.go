package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

// RunFunc runs a leaf command once its flags are parsed.
type RunFunc func(ctx context.Context, inv *Invocation) error

// Command is a node of a tool's command tree: either a group with Sub
// commands or a leaf with a SetupFunc.
type Command struct {
	// Name is the word that selects the command.
	Name string
	// Args is the synopsis of the positional arguments ("ID", "[NODE-ID]").
	Args string
	// Short is the one-line description; Long the optional help text.
	Short string
	Long  string
	// MinArgs and MaxArgs bound the positional arguments of a leaf.
	MinArgs, MaxArgs int
	// Sub are the commands of a group.
	Sub []*Command
	// SetupFunc registers a leaf's flags on fs and returns the function
	// that runs the command (reading the flags it registered).
	SetupFunc func(fs *pflag.FlagSet) RunFunc
}

func (c *Command) find(name string) *Command {
	for _, s := range c.Sub {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func (c *Command) checkArgs(args []string) error {
	switch {
	case len(args) < c.MinArgs:
		return fmt.Errorf("missing argument: want %s", c.Args)
	case len(args) > c.MaxArgs:
		if c.MaxArgs == 0 {
			return fmt.Errorf("unexpected argument %q", args[0])
		}
		return fmt.Errorf("too many arguments: want %s", c.Args)
	}
	return nil
}

// newFlagSet returns a flag set with the global flags bound to g.
func newFlagSet(g *Globals) *pflag.FlagSet {
	fs := pflag.NewFlagSet("", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.SortFlags = false
	fs.StringVar(&g.Addr, "addr", g.Addr, "HTTP address of a node: host:port or http(s)://host:port (env "+AddrEnv+")")
	fs.StringVarP(&g.Output, "output", "o", g.Output, "output format: table or json")
	return fs
}

func printHelp(w io.Writer, path string, c *Command, fs *pflag.FlagSet) {
	own, global := pflag.NewFlagSet("", pflag.ContinueOnError), pflag.NewFlagSet("", pflag.ContinueOnError)
	own.SortFlags, global.SortFlags = false, false
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "addr" || f.Name == "output" {
			global.AddFlag(f)
		} else {
			own.AddFlag(f)
		}
	})
	synopsis := path
	switch {
	case c.SetupFunc == nil:
		synopsis += " <command>"
	case c.Args != "":
		synopsis += " " + c.Args
	}
	fmt.Fprintf(w, "Usage: %s [flags]\n\n%s\n", synopsis, c.Short)
	if c.Long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.Long))
	}
	if len(c.Sub) > 0 {
		fmt.Fprintf(w, "\nCommands:\n")
		tw := NewTable(w)
		for _, s := range c.Sub {
			tw.Row("  "+s.Name, s.Short)
		}
		_ = tw.Flush()
	}
	if own.HasFlags() {
		fmt.Fprintf(w, "\nFlags:\n%s", own.FlagUsages())
	}
	fmt.Fprintf(w, "\nGlobal flags:\n%s", global.FlagUsages())
	if len(c.Sub) > 0 {
		fmt.Fprintf(w, "\nRun '%s <command> --help' for the flags of a command.\n", path)
	}
}
