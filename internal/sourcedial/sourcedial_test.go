package sourcedial

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNew(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Addr, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c.RemoteAddr()
			c.Close()
		}
	}()
	for name, tc := range map[string]struct{ bind, wantIP string }{
		"BoundLoopback": {"127.0.9.7:0", "127.0.9.7"},
		"Unspecified":   {"0.0.0.0:8888", "127.0.0.1"},
		"Hostname":      {"localhost:8888", "127.0.0.1"},
	} {
		t.Run(name, func(t *testing.T) {
			d, err := New(tc.bind, time.Second)
			require.NoError(t, err)
			c, err := d(context.Background(), "tcp", ln.Addr().String())
			require.NoError(t, err)
			defer c.Close()
			require.Equal(t, tc.wantIP, (<-accepted).(*net.TCPAddr).IP.String())
		})
	}
	t.Run("ErrBadAddr", func(t *testing.T) {
		_, err := New("nonsense", time.Second)
		require.Error(t, err)
	})
}
