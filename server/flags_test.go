package server

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseFlags(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	t.Run("Defaults", func(t *testing.T) {
		cfg, err := ParseFlags(nil, env(nil), io.Discard)
		require.NoError(t, err)
		require.Equal(t, "./sz-data", cfg.DataDir)
		require.Equal(t, "127.0.0.1:8888", cfg.HTTPAddr)
		require.Equal(t, "127.0.0.1:4243", cfg.RaftAddr)
		require.Equal(t, "tcp://127.0.0.1:4242", cfg.ZMQAddr)
		require.NotEmpty(t, cfg.NodeID)
		require.Equal(t, 100*time.Millisecond, cfg.DispatchLookahead)
	})
	t.Run("DispatchLookahead", func(t *testing.T) {
		cfg, err := ParseFlags([]string{"--dispatch-lookahead", "250ms"}, env(nil), io.Discard)
		require.NoError(t, err)
		require.Equal(t, 250*time.Millisecond, cfg.DispatchLookahead)
		cfg, err = ParseFlags(nil, env(map[string]string{"SZ_DISPATCH_LOOKAHEAD": "0s"}), io.Discard)
		require.NoError(t, err)
		require.Zero(t, cfg.DispatchLookahead, "0 switches the lookahead off")
	})
	t.Run("HelpDocumentsDispatchLookahead", func(t *testing.T) {
		var usage strings.Builder
		_, err := ParseFlags([]string{"--help"}, env(nil), &usage)
		require.ErrorIs(t, err, ErrHelp)
		require.Contains(t, usage.String(), "--dispatch-lookahead duration")
		require.Contains(t, usage.String(), "never before")
	})
	t.Run("EnvAndFlagPrecedence", func(t *testing.T) {
		cfg, err := ParseFlags([]string{"--http-addr", "127.0.0.1:9000", "--join", "a:1,b:2"},
			env(map[string]string{"SZ_DATA_DIR": "/tmp/x", "SZ_HTTP_ADDR": "127.0.0.1:1", "SZ_BOOTSTRAP": "true", "SZ_SNAPSHOT_INTERVAL": "5s"}), io.Discard)
		require.NoError(t, err)
		require.Equal(t, "/tmp/x", cfg.DataDir)
		require.Equal(t, "127.0.0.1:9000", cfg.HTTPAddr)
		require.True(t, cfg.Bootstrap)
		require.Equal(t, []string{"a:1", "b:2"}, cfg.Join)
		require.Equal(t, 5*time.Second, cfg.SnapshotInterval)
	})
	t.Run("RaftTuning", func(t *testing.T) {
		cfg, err := ParseFlags([]string{"--raft-profile", "fast", "--snapshot-log-bytes", "1048576", "--trailing-logs", "64"},
			env(map[string]string{"SZ_TRAILING_LOG_BYTES": "65536"}), io.Discard)
		require.NoError(t, err)
		require.Equal(t, "fast", cfg.RaftProfile)
		require.Equal(t, uint64(1<<20), cfg.SnapshotLogBytes)
		require.Equal(t, uint64(64<<10), cfg.TrailingLogBytes)
		require.Equal(t, uint64(64), cfg.TrailingLogs)
	})
	t.Run("ErrBadEnv", func(t *testing.T) {
		_, err := ParseFlags(nil, env(map[string]string{"SZ_BOOTSTRAP": "maybe"}), io.Discard)
		require.ErrorContains(t, err, "SZ_BOOTSTRAP")
	})
	t.Run("ErrUnknownFlag", func(t *testing.T) {
		_, err := ParseFlags([]string{"--nope"}, env(nil), io.Discard)
		require.Error(t, err)
	})
}

func TestConfig_Validate(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"NoNodeID":                  func(c *Config) { c.NodeID = "" },
		"BadHTTP":                   func(c *Config) { c.HTTPAddr = "nope" },
		"BadZMQ":                    func(c *Config) { c.ZMQAddr = "127.0.0.1:4242" },
		"BadFormat":                 func(c *Config) { c.LogFormat = "xml" },
		"BadLevel":                  func(c *Config) { c.LogLevel = "loud" },
		"NoDataDir":                 func(c *Config) { c.DataDir = "" },
		"NegativeDispatchLookahead": func(c *Config) { c.DispatchLookahead = -time.Millisecond },
	} {
		t.Run(name, func(t *testing.T) {
			c := Defaults()
			c.NodeID = "n1"
			mut(&c)
			require.Error(t, c.validate())
		})
	}
}
