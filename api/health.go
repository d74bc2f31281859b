package api

import (
	_ "embed" // the dashboard page
	"fmt"
	"net/http"
)

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the node is a member of a cluster with a known
// leader and caught up, 503 with the reason otherwise.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if s.cluster.Ready() {
		writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
		return
	}
	self := s.cluster.Self()
	reason := fmt.Sprintf("catching up: applied index %d, commit index %d", self.AppliedIndex, self.CommitIndex)
	switch {
	case !self.Member:
		reason = "not a member of a cluster"
	case self.LeaderID == "":
		reason = "no leader known"
	}
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reason": reason, "state": self.State})
}

//go:embed dashboard.html
var dashboardHTML []byte

// serveDashboard serves the single-page web dashboard. It is self-contained
// (inline script and style), so the CSP forbids every external source.
func serveDashboard(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:")
	_, _ = w.Write(dashboardHTML)
}
