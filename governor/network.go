package governor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// dialTimeout bounds the proxy's connect to the process behind it.
const dialTimeout = 2 * time.Second

// network owns every proxy of a governor and the partition rules they
// enforce. Each proxy forwards one listen address to one upstream address;
// the caller is identified per connection (by source address or by the
// listener), the target is the process behind the proxy.
//
// Rules are checked when a connection is accepted and again for every chunk
// read, so installing a partition cuts existing connections at once. A cut
// direction is blackholed, never reset: its bytes are read and dropped and
// the connection stays open, as with lost packets. A direction that dropped
// bytes has a gap in its stream and never forwards again; when the rules
// allow it once more (heal), its connection is closed so that both ends
// reconnect cleanly.
type network struct {
	log    *slog.Logger
	rules  atomic.Pointer[ruleSet]
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	proxies map[*proxy]struct{}
	links   map[*link]struct{}
	callers map[[2]string]int64 // connections per {caller node, service}
	closed  bool
}

// proxy is one listener of the network.
type proxy struct {
	service  string // http, raft or zmq: labels PeerConns
	target   string // process behind the proxy
	upstream string
	identify func(net.Addr) string
	ln       net.Listener
	closed   bool // guarded by network.mu
}

// link is one proxied connection. Direction 0 carries bytes from the
// caller to the target, direction 1 the replies.
type link struct {
	p         *proxy
	from, to  string
	caller    net.Conn
	upstream  net.Conn // nil when the caller was cut at accept time
	dropped   [2]atomic.Bool
	closeOnce sync.Once
}

func newNetwork(log *slog.Logger) *network {
	ctx, cancel := context.WithCancel(context.Background())
	n := &network{log: log, ctx: ctx, cancel: cancel,
		proxies: map[*proxy]struct{}{}, links: map[*link]struct{}{}, callers: map[[2]string]int64{}}
	n.rules.Store(&ruleSet{})
	return n
}

// listen starts a proxy from addr to upstream in front of target's
// service and returns the address it listens on.
func (n *network) listen(addr, upstream, target, service string, identify func(net.Addr) string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("proxy for %s: %w", target, err)
	}
	p := &proxy{service: service, target: target, upstream: upstream, identify: identify, ln: ln}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		_ = ln.Close()
		return "", ErrNotStarted
	}
	n.proxies[p] = struct{}{}
	n.wg.Add(1)
	go n.serve(p)
	return ln.Addr().String(), nil
}

func (n *network) serve(p *proxy) {
	defer n.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		n.wg.Add(1)
		go n.handle(p, c)
	}
}

func (n *network) handle(p *proxy, c net.Conn) {
	defer n.wg.Done()
	l := &link{p: p, from: p.identify(c.RemoteAddr()), to: p.target, caller: c}
	if n.allows(l.from, l.to) {
		ctx, cancel := context.WithTimeout(n.ctx, dialTimeout)
		up, err := (&net.Dialer{}).DialContext(ctx, "tcp", p.upstream)
		cancel()
		if err != nil {
			_ = c.Close() // closed at once: the nearest a proxy gets to "connection refused"
			return
		}
		l.upstream = up
	} else {
		l.dropped[0].Store(true) // accepted, but nothing reaches the target
	}
	if !n.register(l) {
		l.close()
		return
	}
	defer n.unregister(l)
	n.recheck(l)
	if l.upstream == nil {
		n.pump(l, 0)
		l.close()
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.pump(l, 1)
	}()
	n.pump(l, 0)
	<-done
	l.close()
}

// pump copies one direction of l until its source ends.
func (n *network) pump(l *link, dir int) {
	src, dst, from, to := l.caller, l.upstream, l.from, l.to
	if dir == 1 {
		src, dst, from, to = l.upstream, l.caller, l.to, l.from
	}
	buf := make([]byte, 32<<10)
	for {
		k, err := src.Read(buf)
		if k > 0 && !n.forward(l, dir, from, to, dst, buf[:k]) {
			l.close()
			return
		}
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) && !l.dropped[dir].Load() && dst != nil {
			closeWrite(dst) // half-close: pass the FIN on
			return
		}
		if !errors.Is(err, io.EOF) {
			l.close()
		}
		return // a FIN on a cut direction is dropped like the data
	}
}

// forward writes b to dst unless the direction is cut; it returns false
// when the link must be closed.
func (n *network) forward(l *link, dir int, from, to string, dst net.Conn, b []byte) bool {
	if !l.dropped[dir].Load() && n.allows(from, to) {
		_, err := dst.Write(b)
		return err == nil
	}
	if !l.dropped[dir].Swap(true) {
		n.recheck(l) // the rules may have been healed since allows
	}
	return true
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

func (n *network) allows(from, to string) bool { return n.rules.Load().allows(from, to) }

// recheck closes l if one of its cut directions is allowed again. It pairs
// with setRules: one of the two always sees the other's write.
func (n *network) recheck(l *link) {
	for dir, from, to := 0, l.from, l.to; dir < 2; dir, from, to = dir+1, to, from {
		if l.dropped[dir].Load() && n.allows(from, to) {
			l.close()
			return
		}
	}
}

func (l *link) close() {
	l.closeOnce.Do(func() {
		_ = l.caller.Close()
		if l.upstream != nil {
			_ = l.upstream.Close()
		}
	})
}

func (n *network) register(l *link) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed || l.p.closed {
		return false
	}
	n.links[l] = struct{}{}
	if l.from != clientID {
		n.callers[[2]string{l.from, l.p.service}]++
	}
	return true
}

func (n *network) unregister(l *link) {
	n.mu.Lock()
	delete(n.links, l)
	n.mu.Unlock()
}

// setRules installs rs and closes the links whose cut directions it allows.
func (n *network) setRules(rs ruleSet) {
	n.rules.Store(&rs)
	n.mu.Lock()
	links := make([]*link, 0, len(n.links))
	for l := range n.links {
		links = append(links, l)
	}
	n.mu.Unlock()
	for _, l := range links {
		n.recheck(l)
	}
}

func (n *network) blocked() [][2]string { return n.rules.Load().pairs() }

// peerConns returns how many connections were attributed to caller id,
// per service.
func (n *network) peerConns(id string) map[string]int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out map[string]int64
	for k, v := range n.callers {
		if k[0] == id {
			if out == nil {
				out = map[string]int64{}
			}
			out[k[1]] = v
		}
	}
	return out
}

// serviceConns returns how many connections any node made to service from
// its bind address.
func (n *network) serviceConns(service string) int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	var total int64
	for k, v := range n.callers {
		if k[1] == service {
			total += v
		}
	}
	return total
}

// closeTarget stops the proxies in front of target and closes their
// connections.
func (n *network) closeTarget(target string) {
	n.closeWhere(func(p *proxy) bool { return p.target == target })
}

func (n *network) closeWhere(match func(*proxy) bool) {
	n.mu.Lock()
	var links []*link
	for p := range n.proxies {
		if match(p) {
			p.closed = true
			_ = p.ln.Close()
			delete(n.proxies, p)
		}
	}
	for l := range n.links {
		if l.p.closed {
			links = append(links, l)
		}
	}
	n.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// close stops every proxy and waits for their goroutines.
func (n *network) close() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.cancel()
	n.closeWhere(func(*proxy) bool { return true })
	n.wg.Wait()
}
