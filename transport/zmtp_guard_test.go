package transport

import (
	"encoding/binary"
	"log/slog"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func newTestGuardConn(t *testing.T, maxFrame uint64) *guardConn {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return newGuardConn(a, &guardConfig{
		writeTimeout: time.Second, handshakeTimeout: time.Second, maxFrame: maxFrame,
		st: &counters{}, log: slog.New(slog.DiscardHandler),
	}, nil)
}

// zmtpFrame encodes one ZMTP frame with the given flags.
func zmtpFrame(flags byte, body []byte) []byte {
	if len(body) > 255 {
		hdr := make([]byte, 9)
		hdr[0] = flags | zmtpFlagLong
		binary.BigEndian.PutUint64(hdr[1:], uint64(len(body)))
		return append(hdr, body...)
	}
	return append([]byte{flags, byte(len(body))}, body...)
}

func TestGuardConn_Scan(t *testing.T) {
	t.Parallel()
	stream := make([]byte, zmtpGreetingLen)
	stream = append(stream, zmtpFrame(zmtpFlagCommand, []byte("\x05READY..."))...)
	stream = append(stream, zmtpFrame(0x01, nil)...)                  // empty, more
	stream = append(stream, zmtpFrame(0, make([]byte, 300))...)       // long
	stream = append(stream, zmtpFrame(0, make([]byte, 1000))...)      // long
	stream = append(stream, zmtpFrame(zmtpFlagCommand, []byte{4})...) // e.g. PING

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		rng := rand.New(rand.NewPCG(1, 2))
		for range 200 {
			g := newTestGuardConn(t, 1000)
			for rest := stream; len(rest) > 0; {
				n := 1 + rng.IntN(min(len(rest), 40))
				require.NoError(t, g.scan(rest[:n]))
				rest = rest[n:]
			}
			require.True(t, g.hsDone)
			require.Equal(t, scanFlags, g.state)
		}
	})
	t.Run("ErrTooLarge", func(t *testing.T) {
		t.Parallel()
		g := newTestGuardConn(t, 999)
		head := stream[:len(stream)-len(zmtpFrame(0, make([]byte, 1000)))-3]
		require.NoError(t, g.scan(head))
		require.ErrorIs(t, g.scan(zmtpFrame(0, make([]byte, 1000))[:9]), errFrameTooLarge)
	})
	t.Run("HandshakeNotDoneBeforeCommand", func(t *testing.T) {
		t.Parallel()
		g := newTestGuardConn(t, 1000)
		require.NoError(t, g.scan(make([]byte, zmtpGreetingLen)))
		require.False(t, g.hsDone)
		require.NoError(t, g.scan(zmtpFrame(0, []byte("x"))))
		require.False(t, g.hsDone, "a data frame does not end the handshake")
	})
}
