package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/schedulezero/schedulezero/client"
)

// Output formats accepted by -o.
const (
	OutputTable = "table"
	OutputJSON  = "json"
)

// Globals are the flags every command accepts.
type Globals struct {
	Addr   string
	Output string
}

func (g *Globals) validate() error {
	if g.Output != OutputTable && g.Output != OutputJSON {
		return fmt.Errorf("invalid value %q for -o/--output: want table or json", g.Output)
	}
	if _, err := client.NormalizeAddr(g.Addr); err != nil {
		return fmt.Errorf("invalid --addr: %s", strings.TrimPrefix(err.Error(), "client: "))
	}
	return nil
}

// Invocation is one run of a leaf command: its parsed flags and
// arguments, the process environment and the API clients it opened.
type Invocation struct {
	Program *Program
	// Path is the command path ("szctl schedule get").
	Path    string
	Args    []string
	Globals Globals
	Env     Env
	clients []*client.Client
}

// Client returns a client for --addr with the program's options.
func (inv *Invocation) Client() (*client.Client, error) {
	return inv.ClientFor(inv.Globals.Addr)
}

// ClientFor returns a client for addr with the program's options plus
// opts; it is closed when the invocation ends.
func (inv *Invocation) ClientFor(addr string, opts ...client.Option) (*client.Client, error) {
	all := append([]client.Option{client.WithUserAgent(inv.Program.Name)}, inv.Program.ClientOptions...)
	c, err := client.New(addr, append(all, opts...)...)
	if err != nil {
		return nil, err
	}
	inv.clients = append(inv.clients, c)
	return c, nil
}

func (inv *Invocation) closeClients() {
	for _, c := range inv.clients {
		c.CloseIdleConnections()
	}
}

// JSON reports whether -o json was given.
func (inv *Invocation) JSON() bool { return inv.Globals.Output == OutputJSON }

// Usagef returns a UsageError pointing at this command's help.
func (inv *Invocation) Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...), Path: inv.Path}
}

// Printf writes to stdout.
func (inv *Invocation) Printf(format string, args ...any) {
	fmt.Fprintf(inv.Env.Stdout, format, args...)
}

// PrintJSON writes v to stdout as indented JSON without HTML escaping.
// A json.RawMessage is re-indented as is.
func (inv *Invocation) PrintJSON(v any) error { return WriteJSON(inv.Env.Stdout, v) }

// WriteJSON writes v to w as indented JSON without HTML escaping.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Raw returns raw when set and v encoded otherwise: the API's own JSON for
// decoded objects, a faithful encoding for constructed ones.
func Raw(raw json.RawMessage, v any) json.RawMessage {
	if len(raw) > 0 {
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`null`)
	}
	return b
}

// Table returns a table writer on stdout.
func (inv *Invocation) Table() *Table { return NewTable(inv.Env.Stdout) }
