package cluster

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// slogLevelTrace is the slog level hclog's Trace maps to (below Debug).
const slogLevelTrace = slog.LevelDebug - 4

// extraValueKey is the key hclog uses for a trailing value without a key.
const extraValueKey = "EXTRA_VALUE_AT_END"

// raftLogger implements hclog.Logger on top of a slog.Handler, so the Raft
// library, its transport and its snapshot store write into the same log
// stream as the rest of the process. Levels map Trace→Debug-4, Debug,
// Info, Warn, Error. By default filtering is left to the slog handler;
// SetLevel adds an hclog-side floor shared by the logger and every logger
// derived from it (hclog's default, non-independent levels).
type raftLogger struct {
	handler slog.Handler
	name    string
	implied []any
	level   *atomic.Int32 // hclog.Level; NoLevel means "defer to the handler"
}

var _ hclog.Logger = (*raftLogger)(nil)

// newRaftLogger returns an hclog.Logger writing to l's handler.
func newRaftLogger(l *slog.Logger) *raftLogger {
	return &raftLogger{handler: l.Handler(), level: new(atomic.Int32)}
}

// clone returns a copy sharing the handler and the level.
func (l *raftLogger) clone() *raftLogger {
	c := *l
	c.implied = slices.Clone(l.implied)
	return &c
}

// toSlogLevel maps an hclog level to a slog level. NoLevel logs at Info.
func toSlogLevel(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace:
		return slogLevelTrace
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// enabled reports whether a record at level would be written.
func (l *raftLogger) enabled(level hclog.Level) bool {
	if level == hclog.Off {
		return false
	}
	if floor := hclog.Level(l.level.Load()); floor != hclog.NoLevel && level != hclog.NoLevel && level < floor {
		return false
	}
	return l.handler.Enabled(context.Background(), toSlogLevel(level))
}

// Log emits a record at level with hclog-style alternating key/value args.
func (l *raftLogger) Log(level hclog.Level, msg string, args ...any) {
	if !l.enabled(level) {
		return
	}
	attrs := make([]slog.Attr, 0, 1+(len(l.implied)+len(args)+1)/2)
	if l.name != "" {
		attrs = append(attrs, slog.String(logKeyLogger, l.name))
	}
	attrs = appendHCLogArgs(attrs, l.implied)
	attrs = appendHCLogArgs(attrs, args)
	slog.New(l.handler).LogAttrs(context.Background(), toSlogLevel(level), msg, attrs...)
}

// appendHCLogArgs converts hclog key/value args to slog attributes,
// rendering hclog's formatting wrappers the way hclog does.
func appendHCLogArgs(attrs []slog.Attr, args []any) []slog.Attr {
	for i := 0; i < len(args); i += 2 {
		if i+1 == len(args) {
			attrs = append(attrs, slog.Any(extraValueKey, hclogValue(args[i])))
			break
		}
		key, ok := args[i].(string)
		if !ok {
			key = fmt.Sprint(args[i])
		}
		attrs = append(attrs, slog.Any(key, hclogValue(args[i+1])))
	}
	return attrs
}

func hclogValue(v any) any {
	switch v := v.(type) {
	case hclog.Format:
		if len(v) == 0 {
			return ""
		}
		format, ok := v[0].(string)
		if !ok {
			return fmt.Sprint(v...)
		}
		return fmt.Sprintf(format, v[1:]...)
	case hclog.Hex:
		return "0x" + strconv.FormatInt(int64(v), 16)
	case hclog.Octal:
		return "0" + strconv.FormatInt(int64(v), 8)
	case hclog.Binary:
		return "0b" + strconv.FormatInt(int64(v), 2)
	case hclog.Quote:
		return strconv.Quote(string(v))
	}
	return v
}

// Trace logs at trace level.
func (l *raftLogger) Trace(msg string, args ...any) { l.Log(hclog.Trace, msg, args...) }

// Debug logs at debug level.
func (l *raftLogger) Debug(msg string, args ...any) { l.Log(hclog.Debug, msg, args...) }

// Info logs at info level.
func (l *raftLogger) Info(msg string, args ...any) { l.Log(hclog.Info, msg, args...) }

// Warn logs at warn level.
func (l *raftLogger) Warn(msg string, args ...any) { l.Log(hclog.Warn, msg, args...) }

// Error logs at error level.
func (l *raftLogger) Error(msg string, args ...any) { l.Log(hclog.Error, msg, args...) }

// IsTrace reports whether trace records are written.
func (l *raftLogger) IsTrace() bool { return l.enabled(hclog.Trace) }

// IsDebug reports whether debug records are written.
func (l *raftLogger) IsDebug() bool { return l.enabled(hclog.Debug) }

// IsInfo reports whether info records are written.
func (l *raftLogger) IsInfo() bool { return l.enabled(hclog.Info) }

// IsWarn reports whether warn records are written.
func (l *raftLogger) IsWarn() bool { return l.enabled(hclog.Warn) }

// IsError reports whether error records are written.
func (l *raftLogger) IsError() bool { return l.enabled(hclog.Error) }

// ImpliedArgs returns the args added with With.
func (l *raftLogger) ImpliedArgs() []any { return slices.Clone(l.implied) }

// With returns a logger that adds args to every record.
func (l *raftLogger) With(args ...any) hclog.Logger {
	c := l.clone()
	c.implied = append(c.implied, args...)
	return c
}

// Name returns the logger's name ("" for the root).
func (l *raftLogger) Name() string { return l.name }

// Named returns a sub-logger whose name is appended to this one's with a dot.
func (l *raftLogger) Named(name string) hclog.Logger {
	c := l.clone()
	if c.name != "" && name != "" {
		c.name += "." + name
	} else if name != "" {
		c.name = name
	}
	return c
}

// ResetNamed returns a sub-logger with exactly the given name.
func (l *raftLogger) ResetNamed(name string) hclog.Logger {
	c := l.clone()
	c.name = name
	return c
}

// SetLevel sets the hclog-side floor for this logger and the loggers
// derived from it; NoLevel removes it (the handler alone decides).
func (l *raftLogger) SetLevel(level hclog.Level) { l.level.Store(int32(level)) }

// GetLevel returns the floor set with SetLevel or, without one, the lowest
// hclog level the slog handler accepts (Off when it accepts none).
func (l *raftLogger) GetLevel() hclog.Level {
	if floor := hclog.Level(l.level.Load()); floor != hclog.NoLevel {
		return floor
	}
	for _, level := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if l.handler.Enabled(context.Background(), toSlogLevel(level)) {
			return level
		}
	}
	return hclog.Off
}

// StandardLogger returns a *log.Logger that writes through this logger.
func (l *raftLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(l.StandardWriter(opts), "", 0)
}

// StandardWriter returns an io.Writer that logs each write as one record,
// inferring or forcing the level as opts says (default Info).
func (l *raftLogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	w := &stdLogWriter{l: l}
	if opts != nil {
		w.opts = *opts
	}
	return w
}

type stdLogWriter struct {
	l    *raftLogger
	opts hclog.StandardLoggerOptions
}

var levelPrefixes = []struct {
	prefix string
	level  hclog.Level
}{
	{"[TRACE]", hclog.Trace}, {"[DEBUG]", hclog.Debug}, {"[INFO]", hclog.Info},
	{"[WARN]", hclog.Warn}, {"[ERROR]", hclog.Error}, {"[ERR]", hclog.Error},
}

// Write logs p (trailing newlines trimmed) as one record.
func (w *stdLogWriter) Write(p []byte) (int, error) {
	str := strings.TrimRight(string(p), "\r\n")
	level, msg := w.split(str)
	w.l.Log(level, msg)
	return len(p), nil
}

// split finds the level of a standard-log line and strips its prefix.
func (w *stdLogWriter) split(str string) (hclog.Level, string) {
	if !w.opts.InferLevels && w.opts.ForceLevel == hclog.NoLevel {
		return hclog.Info, str
	}
	candidate := str
	if w.opts.InferLevelsWithTimestamp {
		if i := strings.Index(candidate, "["); i > 0 {
			candidate = candidate[i:]
		}
	}
	level, msg := hclog.Info, str
	for _, lp := range levelPrefixes {
		if rest, ok := strings.CutPrefix(candidate, lp.prefix); ok {
			level, msg = lp.level, strings.TrimSpace(rest)
			break
		}
	}
	if w.opts.ForceLevel != hclog.NoLevel {
		level = w.opts.ForceLevel
	}
	return level, msg
}
