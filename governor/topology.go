package governor

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// The address plan. Every process gets its own loopback IP so that the
// proxies can tell callers apart by source address (see DESIGN.md):
//
//	127.0.1.i  node i binds its HTTP, Raft and ZMQ listeners and dials from it
//	127.0.2.i  the proxies in front of node i (advertised to peers)
//	127.0.3.h  handler h's own proxies, one per node's ZMQ endpoint
//
// Ports, from the base port B: HTTP B+i, Raft B+100+i, ZMQ B+200+i. A
// proxy listens on the same port as the listener it fronts.
const (
	bindNet    = 1
	proxyNet   = 2
	handlerNet = 3
	clientID   = "client"
)

// nodeAddrs is the address plan of node i.
type nodeAddrs struct {
	index                   int
	httpPort, raftPort, zmq int
	// direct: no proxies (Config.Direct); every advertised address is the
	// bind address.
	direct bool
}

func planNode(basePort, i int, direct bool) nodeAddrs {
	return nodeAddrs{index: i, httpPort: basePort + i, raftPort: basePort + 100 + i, zmq: basePort + 200 + i, direct: direct}
}

// advNet is the network of the addresses node a advertises.
func (a nodeAddrs) advNet() int {
	if a.direct {
		return bindNet
	}
	return proxyNet
}

func loopback(net3, i int) string { return fmt.Sprintf("127.0.%d.%d", net3, i) }

func hostPort(ip string, port int) string { return net.JoinHostPort(ip, strconv.Itoa(port)) }

func (a nodeAddrs) bindHTTP() string { return hostPort(loopback(bindNet, a.index), a.httpPort) }
func (a nodeAddrs) bindRaft() string { return hostPort(loopback(bindNet, a.index), a.raftPort) }
func (a nodeAddrs) bindZMQ() string  { return hostPort(loopback(bindNet, a.index), a.zmq) }
func (a nodeAddrs) advHTTP() string  { return hostPort(loopback(a.advNet(), a.index), a.httpPort) }
func (a nodeAddrs) advRaft() string  { return hostPort(loopback(a.advNet(), a.index), a.raftPort) }
func (a nodeAddrs) advZMQ() string   { return hostPort(loopback(a.advNet(), a.index), a.zmq) }

// handlerZMQ is handler h's proxy address for node a's ZMQ endpoint (the
// node's own endpoint when direct).
func (a nodeAddrs) handlerZMQ(h int) string {
	if a.direct {
		return a.bindZMQ()
	}
	return hostPort(loopback(handlerNet, h), a.zmq)
}

func nodeID(i int) string    { return "n" + strconv.Itoa(i) }
func handlerID(h int) string { return "h" + strconv.Itoa(h) }

// parseID splits "n3" into (KindNode, 3).
func parseID(id string) (Kind, int, bool) {
	if len(id) < 2 {
		return "", 0, false
	}
	n, err := strconv.Atoi(id[1:])
	if err != nil || n < 1 || strconv.Itoa(n) != id[1:] {
		return "", 0, false
	}
	switch id[0] {
	case 'n':
		return KindNode, n, n <= MaxNodes
	case 'h':
		return KindHandler, n, n <= MaxHandlers
	}
	return "", 0, false
}

// callerBySource names the node that owns a source address: 127.0.1.i is
// node i; anything else (127.0.0.1, CLIs, tests) is a client.
func callerBySource(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return clientID
	}
	ip := tcp.IP.To4()
	if ip == nil || ip[0] != 127 || ip[1] != 0 || ip[2] != bindNet || ip[3] == 0 || int(ip[3]) > MaxNodes {
		return clientID
	}
	return nodeID(int(ip[3]))
}

// zmqURL turns host:port into a ZeroMQ TCP endpoint.
func zmqURL(hp string) string { return "tcp://" + hp }

// joinZMQ lists endpoints for a handler's --servers flag.
func joinZMQ(hps []string) string {
	urls := make([]string, len(hps))
	for i, hp := range hps {
		urls[i] = zmqURL(hp)
	}
	return strings.Join(urls, ",")
}
