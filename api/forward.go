package api

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// forwardedRequestHeaders are copied from the original request; everything
// else (cookies, auth of a future version, hop-by-hop headers) is not.
var forwardedRequestHeaders = []string{"Content-Type", "If-Match", "Accept"}

// hopByHopHeaders are not copied back from the leader's response.
var hopByHopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true, "Proxy-Authorization": true,
	"Proxy-Connection": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// forward replays r (method, path, query, body, content type, If-Match) on
// the leader and copies the leader's answer back. body is the request body
// (nil for none). A request that was already forwarded once is not forwarded
// again: leadership is moving and the client should retry.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, body io.Reader) {
	s.forwardWith(s.client, w, r, body)
}

// forwardStream is forward for snapshot transfers, whose duration depends on
// the state size: it uses the forward client without its overall timeout
// (the leader bounds the operation, the caller's context cancels it).
func (s *Server) forwardStream(w http.ResponseWriter, r *http.Request, body io.Reader) {
	s.forwardWith(s.streamClient, w, r, body)
}

func (s *Server) forwardWith(client *http.Client, w http.ResponseWriter, r *http.Request, body io.Reader) {
	if by := r.Header.Get(HeaderForwardedBy); by != "" {
		s.fail(w, r, errNoLeader(fmt.Sprintf("node %s forwarded this request here, but this node is not the leader either; retry shortly", by)))
		return
	}
	leader := s.cluster.Leader()
	if leader.HTTPAddr == "" || leader.ID == s.nodeID {
		s.fail(w, r, errNoLeader("this node is not the leader and knows no leader to forward to; retry shortly"))
		return
	}
	req, err := s.forwardRequest(r, leader.HTTPAddr, body)
	if err != nil {
		s.fail(w, r, errNoLeader(fmt.Sprintf("leader %s has an unusable HTTP address %q: %v", leader.ID, leader.HTTPAddr, err)))
		return
	}
	resp, err := client.Do(req)
	if err != nil {
		s.log.WarnContext(r.Context(), "api: forwarding to the leader failed", slog.String(logKeyLeader, leader.ID),
			slog.String(logKeyPath, r.URL.Path), slog.String(logKeyError, err.Error()))
		s.fail(w, r, forwardError(r, leader.ID, err))
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		if !hopByHopHeaders[k] {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func (s *Server) forwardRequest(r *http.Request, leaderAddr string, body io.Reader) (*http.Request, error) {
	base := leaderAddr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if u.Host == "" {
		return nil, errors.New("no host")
	}
	u.Path, u.RawPath, u.RawQuery = r.URL.Path, r.URL.RawPath, r.URL.RawQuery
	if body == nil {
		body = http.NoBody
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if req.ContentLength == 0 && body != http.NoBody && r.ContentLength > 0 {
		req.ContentLength = r.ContentLength // a streamed body (snapshot restore)
	}
	for _, h := range forwardedRequestHeaders {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	req.Header.Set(HeaderForwardedBy, s.nodeID)
	return req, nil
}

// forwardError classifies a failed forward. A request that never reached
// the leader (dial failure) or a read can be retried; a write whose
// connection broke afterwards may have been applied, so its outcome is
// unknown.
func forwardError(r *http.Request, leaderID string, err error) *apiError {
	var opErr *net.OpError
	if (errors.As(err, &opErr) && opErr.Op == "dial") || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return errNoLeader(fmt.Sprintf("leader %s is unreachable: %v", leaderID, err))
	}
	return &apiError{status: http.StatusServiceUnavailable, Code: codeTimeout,
		Message: fmt.Sprintf("forwarding to leader %s failed; the outcome is unknown: %v", leaderID, err)}
}
