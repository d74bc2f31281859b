package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
)

// records parses the JSON lines a slog.JSONHandler wrote.
func records(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m))
		out = append(out, m)
	}
	buf.Reset()
	return out
}

func newTestRaftLogger(level slog.Level) (*raftLogger, *bytes.Buffer) {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	return newRaftLogger(slog.New(h)), &buf
}

func TestRaftLogger_Levels(t *testing.T) {
	t.Parallel()
	l, buf := newTestRaftLogger(slogLevelTrace)
	l.Trace("t")
	l.Debug("d")
	l.Info("i")
	l.Warn("w")
	l.Error("e")
	l.Log(hclog.NoLevel, "n")
	l.Log(hclog.Off, "off")
	var got []string
	for _, r := range records(t, buf) {
		got = append(got, r["level"].(string)+":"+r["msg"].(string))
	}
	require.Equal(t, []string{"DEBUG-4:t", "DEBUG:d", "INFO:i", "WARN:w", "ERROR:e", "INFO:n"}, got)
	require.True(t, l.IsTrace())
	require.Equal(t, hclog.Trace, l.GetLevel())

	t.Run("HandlerLevel", func(t *testing.T) {
		l, buf := newTestRaftLogger(slog.LevelWarn)
		require.False(t, l.IsTrace())
		require.False(t, l.IsDebug())
		require.False(t, l.IsInfo())
		require.True(t, l.IsWarn())
		require.True(t, l.IsError())
		require.Equal(t, hclog.Warn, l.GetLevel())
		l.Info("dropped")
		require.Empty(t, records(t, buf))
	})

	t.Run("SetLevelIsSharedWithDerived", func(t *testing.T) {
		l, buf := newTestRaftLogger(slogLevelTrace)
		sub := l.Named("sub")
		l.SetLevel(hclog.Error)
		require.Equal(t, hclog.Error, sub.GetLevel())
		require.False(t, sub.IsWarn())
		sub.Warn("dropped")
		sub.Error("kept")
		require.Len(t, records(t, buf), 1)
		l.SetLevel(hclog.NoLevel)
		require.Equal(t, hclog.Trace, sub.GetLevel())
		l.SetLevel(hclog.Off)
		sub.Error("dropped")
		require.Empty(t, records(t, buf))
	})
}

func TestRaftLogger_ArgsAndNames(t *testing.T) {
	t.Parallel()
	l, buf := newTestRaftLogger(slog.LevelDebug)
	require.Equal(t, "", l.Name())
	named := l.Named("raft").Named("net")
	require.Equal(t, "raft.net", named.Name())
	require.Equal(t, "other", named.ResetNamed("other").Name())

	with := named.With("peer", "n2", "odd")
	require.Equal(t, []any{"peer", "n2", "odd"}, with.ImpliedArgs())
	require.Empty(t, named.ImpliedArgs(), "With does not change the parent")

	named.With("peer", "n2").Info("hello", "error", errors.New("boom"), "fmt", hclog.Fmt("%d-%s", 7, "x"),
		"hex", hclog.Hex(255), "oct", hclog.Octal(8), "bin", hclog.Binary(5), "q", hclog.Quote("a b"), 42, "intkey", "trailing")
	r := records(t, buf)[0]
	require.Equal(t, "hello", r["msg"])
	require.Equal(t, "raft.net", r[logKeyLogger])
	require.Equal(t, "n2", r["peer"])
	require.Equal(t, "boom", r["error"])
	require.Equal(t, "7-x", r["fmt"])
	require.Equal(t, "0xff", r["hex"])
	require.Equal(t, "010", r["oct"])
	require.Equal(t, "0b101", r["bin"])
	require.Equal(t, `"a b"`, r["q"])
	require.Equal(t, "intkey", r["42"])
	require.Equal(t, "trailing", r[extraValueKey])

	with.Info("implied")
	r = records(t, buf)[0]
	require.Equal(t, "odd", r[extraValueKey])
}

func TestRaftLogger_StandardLogger(t *testing.T) {
	t.Parallel()
	l, buf := newTestRaftLogger(slog.LevelDebug)

	l.StandardLogger(nil).Print("[WARN] plain")
	r := records(t, buf)[0]
	require.Equal(t, "INFO", r["level"])
	require.Equal(t, "[WARN] plain", r["msg"])

	l.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}).Print("[ERR] inferred")
	r = records(t, buf)[0]
	require.Equal(t, "ERROR", r["level"])
	require.Equal(t, "inferred", r["msg"])

	w := l.StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true, InferLevelsWithTimestamp: true})
	_, err := w.Write([]byte("2026/11/28 01:30:00 [DEBUG] stamped\n"))
	require.NoError(t, err)
	r = records(t, buf)[0]
	require.Equal(t, "DEBUG", r["level"])
	require.Equal(t, "stamped", r["msg"])

	l.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Warn}).Print("[INFO] forced")
	r = records(t, buf)[0]
	require.Equal(t, "WARN", r["level"])
	require.Equal(t, "forced", r["msg"])
}
