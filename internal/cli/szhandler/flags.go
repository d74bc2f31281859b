package szhandler

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/schedulezero/schedulezero/handlerclient"
)

// EnvPrefix prefixes the environment variable of every flag:
// --log-level ↔ SZ_HANDLER_LOG_LEVEL. The command line wins.
const EnvPrefix = "SZ_HANDLER_"

// flags are szhandler's command line.
type flags struct {
	name, journal, token string
	servers              []string
	capacity             int
	logFormat, logLevel  string
	drainTimeout         time.Duration
}

// parseFlags parses args, then fills unset flags from SZ_HANDLER_<FLAG>.
// Help goes to usage and returns pflag.ErrHelp.
func parseFlags(args []string, lookupEnv func(string) (string, bool), usage io.Writer) (*flags, error) {
	f := &flags{}
	fs := pflag.NewFlagSet(Name, pflag.ContinueOnError)
	fs.SetOutput(usage)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprintf(usage, "Usage: %s --name NAME --servers tcp://a:4242,tcp://b:4242,… [flags]\n\n"+
			"Runs a ScheduleZero handler with the methods echo (returns its params), sleep\n"+
			"({\"ms\": N}), fail (always errors) and noop. Every flag can also be set as\n"+
			"%s<FLAG> in the environment (--log-level: %sLOG_LEVEL).\n\nFlags:\n%s",
			Name, EnvPrefix, EnvPrefix, fs.FlagUsages())
	}
	fs.StringVar(&f.name, "name", "", "handler name schedules target (required)")
	fs.StringSliceVar(&f.servers, "servers", nil, "comma-separated ZeroMQ endpoints of the cluster nodes, tcp://host:port (required)")
	fs.StringVar(&f.journal, "journal", "", "append and fsync one JSON line per execution to this file before running it")
	fs.IntVar(&f.capacity, "capacity", handlerclient.DefaultCapacity, "jobs run at once")
	fs.StringVar(&f.token, "token", "", "shared secret sent when registering")
	fs.DurationVar(&f.drainTimeout, "drain-timeout", handlerclient.DefaultDrainTimeout, "on SIGTERM, how long running jobs may finish before they are cancelled")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := fromEnv(fs, lookupEnv); err != nil {
		return nil, err
	}
	switch {
	case f.name == "":
		return nil, errors.New("--name is required")
	case len(f.servers) == 0:
		return nil, errors.New("--servers is required")
	}
	for i, s := range f.servers {
		f.servers[i] = strings.TrimSpace(s)
	}
	return f, nil
}

// fromEnv sets every flag not given on the command line from its
// environment variable.
func fromEnv(fs *pflag.FlagSet, lookupEnv func(string) (string, bool)) error {
	var err error
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Changed || err != nil {
			return
		}
		key := EnvPrefix + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := lookupEnv(key); ok && v != "" {
			if serr := fs.Set(fl.Name, v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", key, v, serr)
			}
		}
	})
	return err
}
