package transport

import (
	"bytes"
	"context"
	"errors"
	"sync"

	"github.com/schedulezero/schedulezero/internal/clock"
	"github.com/schedulezero/schedulezero/wire"
)

var (
	errWriteTimeout   = errors.New("transport: write timeout")
	errListenerClosed = errors.New("transport: listener closed")
)

// InmemListener is the in-memory Listener; see InmemNetwork.
type InmemListener struct {
	net      *InmemNetwork
	endpoint string
	cfg      ListenerConfig
	st       counters
	box      *outbox
	in       chan Inbound

	mu    sync.Mutex
	conns map[string][]*inmemConn // by identity; several if reused

	closed    chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

var _ Listener = (*InmemListener)(nil)

func newInmemListener(n *InmemNetwork, endpoint string, cfg ListenerConfig) *InmemListener {
	l := &InmemListener{
		net:      n,
		endpoint: endpoint,
		cfg:      cfg,
		in:       make(chan Inbound, cfg.RecvQueue),
		conns:    make(map[string][]*inmemConn),
		closed:   make(chan struct{}),
	}
	l.box = newOutbox(cfg, &l.st, l.write)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.box.run(l.closed)
	}()
	return l
}

// Recv returns the next well-formed message from any peer.
func (l *InmemListener) Recv(ctx context.Context) (Inbound, error) {
	return recvFrom(ctx, l.in, l.closed, nil)
}

// Send queues m for peer; errors and features as ZMQListener.Send.
func (l *InmemListener) Send(ctx context.Context, peer string, m wire.Message) error {
	return sendVia(ctx, l.box, l.closed, peer, &m)
}

func (l *InmemListener) sendFrame(ctx context.Context, peer string, frame []byte) error {
	if err := openErr(ctx, l.closed); err != nil {
		return err
	}
	return l.box.enqueue(peer, outFrame{b: frame, raw: true})
}

// Endpoint is the name the listener was bound at.
func (l *InmemListener) Endpoint() string { return l.endpoint }

// Stats returns the listener's counters.
func (l *InmemListener) Stats() Stats {
	s := l.st.snapshot()
	s.Peers = l.box.peerCount()
	return s
}

// Close unbinds the endpoint, ends every connection to it (their Recv
// returns ErrConnLost) and unblocks Recv. It is idempotent.
func (l *InmemListener) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		l.net.unbind(l)
		l.mu.Lock()
		conns := l.conns
		l.conns = nil
		l.mu.Unlock()
		for _, cs := range conns {
			for _, c := range cs {
				c.markLost()
			}
		}
		l.wg.Wait()
	})
	return nil
}

func (l *InmemListener) attach(c *inmemConn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns == nil {
		return false
	}
	l.conns[c.identity] = append(l.conns[c.identity], c)
	return true
}

func (l *InmemListener) detach(c *inmemConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cs := l.conns[c.identity]
	for i := range cs {
		if cs[i] == c {
			cs = append(cs[:i:i], cs[i+1:]...)
			break
		}
	}
	if len(cs) == 0 {
		delete(l.conns, c.identity)
	} else {
		l.conns[c.identity] = cs
	}
}

func (l *InmemListener) connsOf(identity string) []*inmemConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*inmemConn(nil), l.conns[identity]...)
}

// write is the outbox's writeFunc: it delivers a copy of frame (the
// outbox reuses its buffer) to every connection with the identity (none:
// dropped without error, as zmq4 does).
func (l *InmemListener) write(peer string, frame []byte) error {
	conns := l.connsOf(peer)
	if len(conns) == 0 {
		return nil
	}
	frame = bytes.Clone(frame)
	for _, c := range conns {
		if err := c.deliver(frame, l); err != nil {
			return err
		}
	}
	return nil
}

// receive is called by a connection's Send: it records the peer, decodes
// the frame and hands its messages to Recv, waiting for room at most until
// ctx ends or the sender's write timeout, which closes the connection.
func (l *InmemListener) receive(ctx context.Context, c *inmemConn, frame []byte) error {
	l.box.touch(c.identity)
	msgs := decodeFrame(nil, frame, &l.st)
	var t clock.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for i := range msgs {
		l.box.observe(c.identity, &msgs[i])
		in := Inbound{Peer: c.identity, Msg: msgs[i]}
		select {
		case l.in <- in:
			continue
		default:
		}
		if t == nil {
			t = c.cfg.Clock.NewTimer(c.cfg.WriteTimeout)
		}
		select {
		case l.in <- in:
		case <-t.C():
			c.st.killed.Add(1)
			c.markLost()
			return errWriteTimeout
		case <-l.closed:
			return errListenerClosed
		case <-c.closed:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
