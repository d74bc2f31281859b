package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// Back-off between attempts of JoinCluster and Leave.
const (
	retryInitial = 250 * time.Millisecond
	retryMax     = 5 * time.Second
	// maxErrorBody bounds how much of an error response is read.
	maxErrorBody = 64 << 10
)

// errPermanent marks an HTTP answer that retrying cannot fix (4xx).
var errPermanent = errors.New("permanent")

// JoinCluster makes this node join the cluster of the member at memberHTTP
// ("host:port" or "http://host:port"): it POSTs a JoinRequest to
// <memberHTTP>/v1/cluster/join (the API there forwards to the leader, which
// runs AddMember) and then waits until it sees itself in its Raft
// configuration. Connection errors and 5xx answers are retried with
// back-off (250 ms doubling to 5 s) until ctx ends (ErrTimeout); a 4xx
// answer is returned at once with the server's message. A node that is
// already a member at the same address returns nil immediately.
func (n *Node) JoinCluster(ctx context.Context, memberHTTP string) error {
	r, err := n.running()
	if err != nil {
		return err
	}
	if conf, _, err := n.configuration(r); err == nil {
		if s, ok := findServer(conf, n.cfg.NodeID); ok && string(s.Address) == n.raftAddr {
			return nil
		}
	}
	base, err := httpURL(memberHTTP)
	if err != nil {
		return err
	}
	body, err := json.Marshal(JoinRequest{ID: n.cfg.NodeID, RaftAddr: n.raftAddr, HTTPAddr: n.cfg.HTTPAdvertise, ZMQAddr: n.cfg.ZMQAdvertise})
	if err != nil {
		return fmt.Errorf("cluster: encode join request: %w", err)
	}
	n.log.InfoContext(ctx, "joining cluster", slog.String("via", base))
	err = n.retryHTTP(ctx, "join via "+base, func(ctx context.Context) error {
		return n.call(ctx, http.MethodPost, base+"/v1/cluster/join", body, nil)
	})
	if err != nil {
		return err
	}
	err = n.waitConfig(ctx, func(c raft.Configuration, _ uint64) bool {
		s, ok := findServer(c, n.cfg.NodeID)
		return ok && string(s.Address) == n.raftAddr
	}, "waiting to see own membership")
	if err == nil {
		n.log.InfoContext(ctx, "joined cluster", slog.String("via", base))
	}
	return err
}

// requestRemoval asks the current leader to remove this node, following
// leader changes between attempts.
func (n *Node) requestRemoval(ctx context.Context) error {
	return n.retryHTTP(ctx, "leave", func(ctx context.Context) error {
		li := n.Leader()
		if li.HTTPAddr == "" || li.ID == n.cfg.NodeID {
			return ErrNoLeader
		}
		base, err := httpURL(li.HTTPAddr)
		if err != nil {
			return err
		}
		err = n.call(ctx, http.MethodDelete, base+"/v1/cluster/members/"+url.PathEscape(n.cfg.NodeID), nil, nil)
		var se *statusError
		if errors.As(err, &se) && se.code == http.StatusNotFound {
			return nil // the leader no longer knows us: already removed
		}
		return err
	})
}

// retryHTTP runs attempt until it succeeds, fails permanently, or ctx ends.
func (n *Node) retryHTTP(ctx context.Context, what string, attempt func(context.Context) error) error {
	delay := retryInitial
	for {
		err := attempt(ctx)
		if err == nil || errors.Is(err, errPermanent) || errors.Is(err, ErrInvalidRequest) {
			return err
		}
		n.log.DebugContext(ctx, "cluster request failed, retrying", slog.String("op", what),
			slog.Any(logKeyErr, err), slog.Duration("delay", delay))
		if n.sleep(ctx, delay) != nil {
			return fmt.Errorf("%w: %s: %w (last error: %w)", ErrTimeout, what, context.Cause(ctx), err)
		}
		delay = min(2*delay, retryMax)
	}
}

// fetchSelf GETs <httpAddr>/v1/cluster/self.
func (n *Node) fetchSelf(ctx context.Context, httpAddr string) (Self, error) {
	var s Self
	base, err := httpURL(httpAddr)
	if err != nil {
		return s, err
	}
	err = n.call(ctx, http.MethodGet, base+"/v1/cluster/self", nil, &s)
	return s, err
}

// statusError is a non-2xx HTTP answer. 4xx answers wrap errPermanent.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.code, e.msg)
}

func (e *statusError) Is(target error) bool {
	return target == errPermanent && e.code >= 400 && e.code < 500
}

// call performs one JSON request; out (if non-nil) receives a 2xx body.
func (n *Node) call(ctx context.Context, method, url string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := n.httpc.Do(req)
	if err != nil {
		return fmt.Errorf("cluster: %s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return fmt.Errorf("cluster: %s %s: %w", method, url, &statusError{code: resp.StatusCode, msg: errorMessage(b)})
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("cluster: %s %s: decode response: %w", method, url, err)
	}
	return nil
}

// errorMessage extracts the message of an API error body
// ({"error":{"code","message"}}), falling back to the raw text.
func errorMessage(b []byte) string {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
		if e.Error.Code != "" {
			return e.Error.Code + ": " + e.Error.Message
		}
		return e.Error.Message
	}
	return strings.TrimSpace(string(b))
}

// httpURL turns "host:port" or "http(s)://host:port[/]" into a base URL
// without a trailing slash.
func httpURL(addr string) (string, error) {
	addr = strings.TrimRight(strings.TrimSpace(addr), "/")
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("%w: %q is not host:port or http://host:port", ErrInvalidRequest, addr)
	}
	return addr, nil
}
