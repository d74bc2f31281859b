// Package sourcedial owns how a node dials its peers: from the IP address
// it is bound to. On a multi-homed host (or with one loopback address per
// node, as the governor runs a local cluster) this makes a node's outgoing
// connections come from the address its peers know it by, which is what
// firewalls — and the governor's partition proxy — key on.
package sourcedial

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// DialFunc has the signature of net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// New returns a DialFunc that binds outgoing TCP connections to the IP of
// bindAddr ("host:port"). When that IP is unspecified (0.0.0.0, ::) or not
// an IP, the kernel chooses as usual. A loopback source is not used for a
// non-loopback destination, which it could not reach.
func New(bindAddr string, timeout time.Duration) (DialFunc, error) {
	host, _, err := net.SplitHostPort(bindAddr)
	if err != nil {
		return nil, fmt.Errorf("sourcedial: %q: %w", bindAddr, err)
	}
	plain := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return plain.DialContext, nil
	}
	bound := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, LocalAddr: &net.TCPAddr{IP: ip}}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if ip.IsLoopback() && !isLoopbackDest(addr) {
			return plain.DialContext(ctx, network, addr)
		}
		return bound.DialContext(ctx, network, addr)
	}, nil
}

func isLoopbackDest(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// HTTPClient returns an http.Client whose connections dial through d.
func HTTPClient(d DialFunc, timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = d
	return &http.Client{Transport: tr, Timeout: timeout}
}
