package cluster

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"

	"github.com/schedulezero/schedulezero/internal/sourcedial"
)

// streamLayer is the Raft transport's TCP layer. Unlike raft's own
// TCPStreamLayer it dials peers from the IP the node is bound to
// (--raft-addr), so on a multi-homed host — or with one loopback address per
// node, as the governor runs a local cluster — a peer sees connections come
// from the address this node is known by. Firewalls and the governor's
// partition proxy key on that source address.
type streamLayer struct {
	net.Listener
	advertise net.Addr
	dial      sourcedial.DialFunc
}

var _ raft.StreamLayer = (*streamLayer)(nil)

// newStreamLayer listens on bind and advertises advertise (or the bound
// address when advertise is nil).
func newStreamLayer(bind string, advertise net.Addr) (*streamLayer, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("cluster: listen raft %s: %w", bind, err)
	}
	if advertise == nil {
		advertise = ln.Addr()
	}
	if a, ok := advertise.(*net.TCPAddr); !ok || a.IP == nil || a.IP.IsUnspecified() {
		_ = ln.Close()
		return nil, fmt.Errorf("%w: raft address %s is not advertisable; set an advertise address", ErrInvalidConfig, advertise)
	}
	dial, err := sourcedial.New(ln.Addr().String(), transportTimeout)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	return &streamLayer{Listener: ln, advertise: advertise, dial: dial}, nil
}

// Dial connects to a peer from this node's bind address.
func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.dial(ctx, "tcp", string(addr))
}

// Addr is the advertised address peers store in the configuration.
func (s *streamLayer) Addr() net.Addr { return s.advertise }
