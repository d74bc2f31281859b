package governor

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// controlServer is the governor's control API: loopback only, every
// request authorised by the token stored in state.json (mode 0600), so only
// the user who owns the directory can drive the cluster.
//
//	GET    /v1/status                      Status
//	POST   /v1/processes/{id}/{action}     action: kill|term|stop|cont|restart
//	POST   /v1/partition                   {"groups":[[…],[…]]} or {"from":[…],"to":[…]}
//	POST   /v1/heal
//	POST   /v1/nodes                       → {"id":"n4"}
//	DELETE /v1/nodes/{id}
//	POST   /v1/down                        202; the governor stops in the background
//
// Errors are {"error":{"code","message"}}.
type controlServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// partitionRequest is the body of POST /v1/partition.
type partitionRequest struct {
	Groups [][]string `json:"groups,omitempty"`
	From   []string   `json:"from,omitempty"`
	To     []string   `json:"to,omitempty"`
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// errorCodes maps sentinels to HTTP statuses and codes, both ways.
var errorCodes = []struct {
	err    error
	status int
	code   string
}{
	{ErrUnknownProcess, http.StatusNotFound, "unknown_process"},
	{ErrNotRunning, http.StatusConflict, "not_running"},
	{ErrInvalidArgument, http.StatusBadRequest, "invalid_argument"},
	{ErrNotStarted, http.StatusServiceUnavailable, "not_started"},
}

func startControl(g *ProcessGovernor, token string) (*controlServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("control API: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		st, err := g.Status(r.Context())
		reply(w, st, err)
	})
	mux.HandleFunc("POST /v1/processes/{id}/{action}", func(w http.ResponseWriter, r *http.Request) {
		reply(w, nil, processAction(r.Context(), g, r.PathValue("id"), r.PathValue("action")))
	})
	mux.HandleFunc("POST /v1/partition", func(w http.ResponseWriter, r *http.Request) {
		var req partitionRequest
		if err := decode(r, &req); err != nil {
			reply(w, nil, err)
			return
		}
		if len(req.From) > 0 || len(req.To) > 0 {
			reply(w, nil, g.PartitionOneWay(r.Context(), req.From, req.To))
			return
		}
		reply(w, nil, g.Partition(r.Context(), req.Groups))
	})
	mux.HandleFunc("POST /v1/heal", func(w http.ResponseWriter, r *http.Request) {
		reply(w, nil, g.Heal(r.Context()))
	})
	mux.HandleFunc("POST /v1/nodes", func(w http.ResponseWriter, r *http.Request) {
		id, err := g.AddNode(r.Context())
		reply(w, map[string]string{"id": id}, err)
	})
	mux.HandleFunc("DELETE /v1/nodes/{id}", func(w http.ResponseWriter, r *http.Request) {
		reply(w, nil, g.RemoveNode(r.Context(), r.PathValue("id")))
	})
	mux.HandleFunc("POST /v1/down", func(w http.ResponseWriter, _ *http.Request) {
		g.requestDown()
		w.WriteHeader(http.StatusAccepted)
	})
	cs := &controlServer{
		srv:  &http.Server{Handler: authorize(token, mux), ReadHeaderTimeout: 5 * time.Second},
		ln:   ln,
		done: make(chan struct{}),
	}
	go func() {
		defer close(cs.done)
		_ = cs.srv.Serve(ln)
	}()
	return cs, nil
}

func processAction(ctx context.Context, g *ProcessGovernor, id, action string) error {
	switch action {
	case "kill":
		return g.Kill(ctx, id)
	case "term":
		return g.Term(ctx, id)
	case "stop":
		return g.Pause(ctx, id)
	case "cont":
		return g.Resume(ctx, id)
	case "restart":
		return g.Restart(ctx, id)
	}
	return fmt.Errorf("%w: unknown action %q", ErrInvalidArgument, action)
}

func authorize(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			writeError(w, http.StatusUnauthorized, "unauthorized", "missing or wrong control token (read it from state.json)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: body: %w", ErrInvalidArgument, err)
	}
	return nil
}

func reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		for _, c := range errorCodes {
			if errors.Is(err, c.err) {
				writeError(w, c.status, c.code, err.Error())
				return
			}
		}
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	if v == nil {
		v = map[string]bool{"ok": true}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(b)
}

func (cs *controlServer) addr() string { return cs.ln.Addr().String() }

// close stops serving, waiting for requests in flight until ctx ends.
func (cs *controlServer) close(ctx context.Context) {
	if err := cs.srv.Shutdown(ctx); err != nil {
		_ = cs.srv.Close()
	}
	<-cs.done
}
