package transport

import (
	"encoding/binary"
	"io"
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
			require.Equal(t, scanFlags, g.rs.state)
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

// The write side holds a frame header back and writes it with its body;
// the byte stream is unchanged whatever the write pattern.
func TestGuardConn_WriteCoalescing(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	peer := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		peer <- c
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	g := newGuardConn(raw, &guardConfig{writeTimeout: 5 * time.Second, handshakeTimeout: time.Minute,
		maxFrame: HardFrameLimit, st: &counters{}, log: slog.New(slog.DiscardHandler)}, nil)
	defer g.Close()
	other := <-peer
	defer other.Close()

	rng := rand.New(rand.NewPCG(3, 4))
	var want []byte
	write := func(p []byte) {
		n, err := g.Write(p)
		require.NoError(t, err)
		require.Equal(t, len(p), n)
		want = append(want, p...)
	}
	greeting := make([]byte, zmtpGreetingLen)
	write(greeting[:10]) // zmq4 writes the greeting in pieces
	write(greeting[10:])
	for i := range 300 {
		size := rng.IntN(600)
		if i%7 == 0 {
			size = 0
		}
		frame := zmtpFrame(byte(rng.IntN(2)), bytesOf(size, byte(i)))
		hdr := 2
		if frame[0]&zmtpFlagLong != 0 {
			hdr = 9
		}
		write(frame[:hdr]) // header, then body, as zmq4's Conn.send does
		if i%5 == 0 && size > 1 {
			write(frame[hdr : hdr+1]) // a body in two writes
			write(frame[hdr+1:])
		} else {
			write(frame[hdr:])
		}
		if i%11 == 0 {
			require.Zero(t, g.whn, "nothing held back after a complete frame")
		}
	}
	require.Zero(t, g.whn)
	got := make([]byte, len(want))
	require.NoError(t, other.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = io.ReadFull(other, got)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func bytesOf(n int, b byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = b
	}
	return p
}

// FuzzZMTPScanner feeds arbitrary streams, split arbitrarily, to the
// framing scanner: it never panics, and where it ends up (state, command
// seen, frame too large) does not depend on how the stream was split.
func FuzzZMTPScanner(f *testing.F) {
	stream := make([]byte, zmtpGreetingLen)
	stream = append(stream, zmtpFrame(zmtpFlagCommand, []byte("\x05READY"))...)
	stream = append(stream, zmtpFrame(0, make([]byte, 300))...)
	f.Add(stream, uint16(7), uint64(1000))
	f.Add(append(make([]byte, zmtpGreetingLen), zmtpFlagLong, 0xff, 0, 0, 0, 0, 0, 0, 0), uint16(3), uint64(HardFrameLimit))
	f.Fuzz(func(t *testing.T, stream []byte, split uint16, maxFrame uint64) {
		whole := zmtpScanner{state: scanGreeting, need: zmtpGreetingLen}
		wantCmd, wantErr := whole.scan(stream, maxFrame)

		parts := zmtpScanner{state: scanGreeting, need: zmtpGreetingLen}
		gotCmd, step := false, int(split%64)+1
		var gotErr error
		for rest := stream; len(rest) > 0 && gotErr == nil; {
			n := min(step, len(rest))
			var cmd bool
			cmd, gotErr = parts.scan(rest[:n], maxFrame)
			gotCmd = gotCmd || cmd
			rest = rest[n:]
		}
		require.Equal(t, wantErr, gotErr)
		if wantErr == nil {
			require.Equal(t, wantCmd, gotCmd)
			require.Equal(t, whole, parts)
		}
	})
}
