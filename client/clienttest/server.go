// Package clienttest provides a scripted fake of the ScheduleZero HTTP API
// for tests of the client package and of the tools built on it: routes
// answer with canned replies and every request is recorded.
package clienttest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Reply is one canned answer.
type Reply struct {
	Status int
	Body   string
	// Header is added to the response; Content-Type defaults to
	// application/json when Body is set.
	Header map[string]string
}

// JSON returns a Reply with the given status and JSON body.
func JSON(status int, body string) Reply { return Reply{Status: status, Body: body} }

// Error returns a Reply carrying the API error envelope.
func Error(status int, code, message, field string) Reply {
	b := `{"error":{"code":` + quote(code) + `,"message":` + quote(message)
	if field != "" {
		b += `,"field":` + quote(field)
	}
	return Reply{Status: status, Body: b + "}}"}
}

// Request is what the server received.
type Request struct {
	Method string
	// RequestURI is the escaped path and query as sent.
	RequestURI string
	Header     http.Header
	Body       string
}

// Server is an httptest server answering "METHOD /escaped/path" routes
// (without the query) with the replies given to On, in order; the last
// reply of a route repeats. Unknown routes answer 404 not_found.
type Server struct {
	*httptest.Server

	mu      sync.Mutex
	replies map[string][]Reply
	got     []Request
}

// NewServer starts a Server that is closed when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{replies: map[string][]Reply{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// On replaces the replies of route ("GET /v1/schedules").
func (s *Server) On(route string, replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies[route] = replies
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.got...)
}

// Last returns the last request received; the test fails when there is none.
func (s *Server) Last(t testing.TB) Request {
	t.Helper()
	got := s.Requests()
	if len(got) == 0 {
		t.Fatal("clienttest: no request received")
	}
	return got[len(got)-1]
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	route := r.Method + " " + r.URL.EscapedPath()
	s.mu.Lock()
	s.got = append(s.got, Request{Method: r.Method, RequestURI: r.RequestURI, Header: r.Header.Clone(), Body: string(body)})
	rs := s.replies[route]
	var rep Reply
	switch len(rs) {
	case 0:
		rep = Error(http.StatusNotFound, "not_found", "no route "+route, "")
	case 1:
		rep = rs[0]
	default:
		rep, s.replies[route] = rs[0], rs[1:]
	}
	s.mu.Unlock()
	for k, v := range rep.Header {
		w.Header().Set(k, v)
	}
	if rep.Body != "" && w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(rep.Status)
	_, _ = io.WriteString(w, rep.Body)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
