package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/cluster"
	"github.com/schedulezero/schedulezero/fsm"
)

func (s *Server) getSelf(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.cluster.Self())
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), membershipTimeout)
	defer cancel()
	members, err := s.cluster.Members(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if members == nil {
		members = []cluster.Member{}
	}
	writeJSON(w, http.StatusOK, struct {
		Members []cluster.Member `json:"members"`
	}{members})
}

// joinBody is either {"member": "host:port"} (this node joins that member's
// cluster) or a cluster.JoinRequest (the leader adds the node described).
type joinBody struct {
	Member string `json:"member"`
	cluster.JoinRequest
}

func (s *Server) join(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var b joinBody
	if err := decodeStrict(body, &b, ""); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := validateJoin(b); err != nil {
		s.fail(w, r, err)
		return
	}
	if b.Member != "" {
		s.joinCluster(w, r, b.Member)
		return
	}
	s.leaderOnly(w, r, bytes.NewReader(body), membershipTimeout, func(ctx context.Context) error {
		return s.cluster.AddMember(ctx, b.JoinRequest)
	}, map[string]any{"joined": true, "id": b.ID})
}

func validateJoin(b joinBody) error {
	req := b.JoinRequest
	if b.Member != "" {
		if req != (cluster.JoinRequest{}) {
			return invalid("member", "give either member or id/raft_addr/http_addr/zmq_addr, not both")
		}
		if strings.ContainsAny(b.Member, " \t\r\n") {
			return invalid("member", fmt.Sprintf("member %q must be an HTTP address such as host:port", b.Member))
		}
		return nil
	}
	if req == (cluster.JoinRequest{}) {
		return invalid("member", `the body must name a member to join ({"member": "host:port"}) or a node to add ({"id", "raft_addr", "http_addr", "zmq_addr"})`)
	}
	if req.ID == "" || len(req.ID) > maxNameLen || strings.ContainsAny(req.ID, "/?#% \t\r\n") {
		return invalid("id", fmt.Sprintf("id %q must be 1–%d characters without '/', '?', '#', '%%' or spaces", req.ID, maxNameLen))
	}
	if _, _, err := net.SplitHostPort(req.RaftAddr); err != nil {
		return invalid("raft_addr", fmt.Sprintf("raft_addr %q must be host:port", req.RaftAddr))
	}
	if req.HTTPAddr == "" {
		return invalid("http_addr", "http_addr is required")
	}
	return nil
}

func (s *Server) joinCluster(w http.ResponseWriter, r *http.Request, member string) {
	ctx, cancel := context.WithTimeout(r.Context(), joinTimeout)
	defer cancel()
	if err := s.cluster.JoinCluster(ctx, member); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"joined": true, "self": s.cluster.Self()})
}

func (s *Server) leave(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), membershipTimeout)
	defer cancel()
	if err := s.cluster.Leave(ctx); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"left": true, "id": s.nodeID})
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.leaderOnly(w, r, nil, membershipTimeout, func(ctx context.Context) error {
		return s.cluster.RemoveMember(ctx, id)
	}, nil)
}

func (s *Server) transferLeadership(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var b struct {
		ID string `json:"id"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decodeStrict(body, &b, ""); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.leaderOnly(w, r, bytes.NewReader(body), membershipTimeout, func(ctx context.Context) error {
		return s.cluster.TransferLeadership(ctx, b.ID)
	}, map[string]any{"transferred": true, "id": b.ID})
}

// leaderOnly runs op under a timeout; on cluster.ErrNotLeader the request is
// forwarded to the leader. On success it answers 200 with ok, or 204 when ok
// is nil.
func (s *Server) leaderOnly(w http.ResponseWriter, r *http.Request, body io.Reader, timeout time.Duration,
	op func(context.Context) error, ok map[string]any,
) {
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	err := op(ctx)
	switch {
	case errors.Is(err, cluster.ErrNotLeader):
		s.forward(w, r, body)
	case err != nil:
		s.fail(w, r, err)
	case ok == nil:
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusOK, ok)
	}
}

// saveSnapshot streams a snapshot of the replicated state from the leader.
// Once bytes have been sent a failure can no longer change the status, so the
// connection is aborted and the client sees a truncated, failed download.
func (s *Server) saveSnapshot(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), snapshotTimeout)
	defer cancel()
	sw := &snapshotWriter{w: w}
	err := s.cluster.WriteSnapshot(ctx, sw)
	switch {
	case err == nil && !sw.started:
		sw.start()
	case err == nil:
	case sw.started:
		s.log.ErrorContext(r.Context(), "api: snapshot stream failed", slog.String(logKeyError, err.Error()))
		panic(http.ErrAbortHandler)
	case errors.Is(err, cluster.ErrNotLeader):
		s.forwardStream(w, r, nil)
	default:
		s.fail(w, r, err)
	}
}

// snapshotWriter sends the response header on the first write, so an error
// before any byte still gets a JSON error response.
type snapshotWriter struct {
	w       http.ResponseWriter
	started bool
}

func (sw *snapshotWriter) start() {
	sw.started = true
	sw.w.Header().Set("Content-Type", "application/octet-stream")
	sw.w.Header().Set("Content-Disposition", `attachment; filename="schedulezero.snapshot"`)
	sw.w.WriteHeader(http.StatusOK)
}

func (sw *snapshotWriter) Write(p []byte) (int, error) {
	if !sw.started {
		sw.start()
	}
	return sw.w.Write(p)
}

// restoreSnapshot replaces the cluster state with the request body. The body
// is streamed, not buffered; if the node turns out not to be the leader
// before reading any of it, the request is forwarded with the body intact.
func (s *Server) restoreSnapshot(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), snapshotTimeout)
	defer cancel()
	body := &countingReader{r: r.Body}
	err := s.cluster.RestoreSnapshot(ctx, body)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]any{"restored": true})
	case errors.Is(err, cluster.ErrNotLeader) && body.n == 0:
		s.forwardStream(w, r, r.Body)
	case errors.Is(err, cluster.ErrNotLeader):
		s.fail(w, r, errNoLeader("leadership changed while the snapshot was being restored; retry"))
	case errors.Is(err, cluster.ErrInvalidRequest), errors.Is(err, fsm.ErrCorrupt), errors.Is(err, fsm.ErrUnsupportedVersion):
		s.fail(w, r, invalid("body", err.Error()))
	default:
		s.fail(w, r, err)
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
