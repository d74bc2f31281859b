package governor

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSplitWords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"Plain", "szhandler --name demo --servers {servers}", []string{"szhandler", "--name", "demo", "--servers", "{servers}"}},
		{"Quotes", `run 'a b' "c \"d\"" e\ f`, []string{"run", "a b", `c "d"`, "e f"}},
		{"EmptyQuotes", `x ''`, []string{"x", ""}},
		{"Spaces", "  a\t b  ", []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := splitWords(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	t.Run("ErrUnterminated", func(t *testing.T) {
		_, err := splitWords(`a "b`)
		require.Error(t, err)
	})
}

func TestParseTemplate(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	exe := filepath.Join(bin, "szhandler")
	require.NoError(t, os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755))

	t.Run("FoundInBinDir", func(t *testing.T) {
		words, err := parseTemplate(DefaultHandlerCommand, bin)
		require.NoError(t, err)
		require.Equal(t, exe, words[0])
		got := expandTemplate(words, map[string]string{"servers": "tcp://a,tcp://b", "dir": "/d", "id": "h1"})
		require.Equal(t, []string{exe, "--name", "demo", "--servers", "tcp://a,tcp://b", "--journal", "/d/journal.jsonl", "--drain-timeout", "5s"}, got)
	})
	t.Run("ErrCommandNotFound", func(t *testing.T) {
		_, err := parseTemplate("szhandler-that-does-not-exist --x", bin)
		require.ErrorIs(t, err, ErrCommandNotFound)
	})
	t.Run("FoundInPath", func(t *testing.T) {
		words, err := parseTemplate("sh -c true", "")
		require.NoError(t, err)
		require.True(t, filepath.IsAbs(words[0]))
	})
}

func TestParseID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]struct {
		kind Kind
		i    int
		ok   bool
	}{
		"n1": {KindNode, 1, true}, "n12": {KindNode, 12, true}, "h3": {KindHandler, 3, true},
		"n0": {"", 0, false}, "n01": {"", 0, false}, "x1": {"", 0, false}, "n": {"", 0, false}, "n100": {KindNode, 100, false},
	} {
		kind, i, ok := parseID(id)
		require.Equal(t, want.ok, ok, id)
		if ok {
			require.Equal(t, want.kind, kind, id)
			require.Equal(t, want.i, i, id)
		}
	}
}

func TestCallerBySource(t *testing.T) {
	t.Parallel()
	for ip, want := range map[string]string{
		"127.0.1.1": "n1", "127.0.1.42": "n42", "127.0.0.1": clientID, "127.0.2.1": clientID,
		"127.0.1.0": clientID, "127.0.1.200": clientID, "10.0.1.1": clientID,
	} {
		require.Equal(t, want, callerBySource(&net.TCPAddr{IP: net.ParseIP(ip), Port: 1}), ip)
	}
}

func TestRules(t *testing.T) {
	t.Parallel()
	t.Run("PartitionCutsAcrossGroupsOnly", func(t *testing.T) {
		rs, err := partitionRules([][]string{{"n1"}, {"n2", "n3"}})
		require.NoError(t, err)
		require.False(t, rs.allows("n1", "n2"))
		require.False(t, rs.allows("n3", "n1"))
		require.True(t, rs.allows("n2", "n3"))
		require.True(t, rs.allows("n4", "n1"), "unnamed processes talk to everyone")
		require.True(t, rs.allows(clientID, "n1"))
		require.Equal(t, [][2]string{{"n1", "n2"}, {"n1", "n3"}, {"n2", "n1"}, {"n3", "n1"}}, rs.pairs())
	})
	t.Run("OneWay", func(t *testing.T) {
		rs, err := oneWayRules([]string{"n1"}, []string{"n2"})
		require.NoError(t, err)
		require.False(t, rs.allows("n1", "n2"))
		require.True(t, rs.allows("n2", "n1"))
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := partitionRules([][]string{{"n1"}})
		require.ErrorIs(t, err, ErrInvalidArgument)
		_, err = partitionRules([][]string{{"n1"}, {"n1", "n2"}})
		require.ErrorIs(t, err, ErrInvalidArgument)
		_, err = oneWayRules([]string{"n1"}, nil)
		require.ErrorIs(t, err, ErrInvalidArgument)
	})
}
