package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Member is one server of the cluster configuration (GET
// /v1/cluster/members). It mirrors cluster.Member, which this package does
// not import so that clients do not link the Raft library.
type Member struct {
	ID       string `json:"id"`
	HTTPAddr string `json:"http_addr"`
	RaftAddr string `json:"raft_addr"`
	ZMQAddr  string `json:"zmq_addr"`
	// Suffrage is "voter" or "nonvoter".
	Suffrage string `json:"suffrage"`
	Leader   bool   `json:"leader"`
	// LastContact is the leader's last contact with this member as seen
	// by the answering node (nil when unknown).
	LastContact  *time.Time `json:"last_contact,omitempty"`
	AppliedIndex uint64     `json:"applied_index,omitempty"`
	// Raw is the JSON object the server sent (see Schedule.Raw).
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes a member object and keeps a copy in Raw.
func (m *Member) UnmarshalJSON(data []byte) error {
	type plain Member
	p := plain(*m)
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	*m = Member(p)
	m.Raw = append(json.RawMessage(nil), data...)
	return nil
}

// Self is a node's view of itself and its cluster (GET /v1/cluster/self);
// it mirrors cluster.Self.
type Self struct {
	ID           string `json:"id"`
	HTTPAddr     string `json:"http_addr"`
	RaftAddr     string `json:"raft_addr"`
	ZMQAddr      string `json:"zmq_addr"`
	State        string `json:"state"` // leader|follower|candidate|shutdown
	LeaderID     string `json:"leader_id"`
	LeaderHTTP   string `json:"leader_http_addr"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	LastIndex    uint64 `json:"last_index"`
	Digest       string `json:"digest"`
	Schedules    int    `json:"schedules"`
	Member       bool   `json:"member"`
	// Ready mirrors /readyz.
	Ready bool `json:"ready"`
	// LastContactMS is the time since this follower last heard from the
	// leader, in milliseconds.
	LastContactMS int64 `json:"last_contact_ms"`
	// Raw is the JSON object the server sent (see Schedule.Raw).
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes a self object and keeps a copy in Raw.
func (s *Self) UnmarshalJSON(data []byte) error {
	type plain Self
	p := plain(*s)
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	*s = Self(p)
	s.Raw = append(json.RawMessage(nil), data...)
	return nil
}

// Members returns the cluster configuration as the node sees it.
func (c *Client) Members(ctx context.Context) ([]Member, error) {
	var out struct {
		Members []Member `json:"members"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/v1/cluster/members"}, &out); err != nil {
		return nil, err
	}
	return out.Members, nil
}

// Self returns the node's view of itself.
func (c *Client) Self(ctx context.Context) (*Self, error) {
	var out Self
	if err := c.do(ctx, request{method: http.MethodGet, path: "/v1/cluster/self"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Join makes the node this client talks to join the cluster of the member
// at memberAddr (an HTTP address in any form NormalizeAddr accepts). It
// waits up to JoinTimeout, or the client timeout when longer (without a
// client timeout, the context alone bounds it).
func (c *Client) Join(ctx context.Context, memberAddr string) error {
	member, err := hostAddr(memberAddr)
	if err != nil {
		return err
	}
	timeout := max(c.timeout, JoinTimeout)
	if c.timeout <= 0 {
		timeout = -1 // the client has no timeout: the context alone bounds the join
	}
	return c.do(ctx, request{
		method:  http.MethodPost,
		path:    "/v1/cluster/join",
		body:    map[string]string{"member": member},
		timeout: timeout,
	}, nil)
}

// Leave makes the node this client talks to leave its cluster gracefully.
func (c *Client) Leave(ctx context.Context) error {
	return c.do(ctx, request{method: http.MethodPost, path: "/v1/cluster/leave"}, nil)
}

// RemoveMember forcibly removes the member with the given id.
func (c *Client) RemoveMember(ctx context.Context, id string) error {
	if id == "" {
		return ErrEmptyID
	}
	return c.do(ctx, request{method: http.MethodDelete, path: "/v1/cluster/members/" + url.PathEscape(id)}, nil)
}

// TransferLeadership asks the leader to hand leadership to the member id,
// or to any up-to-date voter when id is "".
func (c *Client) TransferLeadership(ctx context.Context, id string) error {
	body := map[string]string{}
	if id != "" {
		body["id"] = id
	}
	return c.do(ctx, request{method: http.MethodPost, path: "/v1/cluster/transfer-leadership", body: body}, nil)
}

// Healthz returns nil when the node's process is up (GET /healthz is 200).
func (c *Client) Healthz(ctx context.Context) error {
	return c.do(ctx, request{method: http.MethodGet, path: "/healthz"}, nil)
}

// Readyz reports whether the node is a member of a cluster with a known
// leader and caught up (GET /readyz: 200 true, 503 false). Other answers
// and transport failures are errors. It is a probe: never retried.
func (c *Client) Readyz(ctx context.Context) (bool, error) {
	err := c.do(ctx, request{method: http.MethodGet, path: "/readyz", noRetry: true}, nil)
	if hasStatus(err, http.StatusServiceUnavailable) {
		return false, nil
	}
	return err == nil, err
}
