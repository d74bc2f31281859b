package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/schedulezero/schedulezero/cluster"
	"github.com/schedulezero/schedulezero/fsm"
)

// Error codes of the public error shape (docs/api.md).
const (
	codeInvalidArgument  = "invalid_argument"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeAlreadyExists    = "already_exists"
	codeVersionConflict  = "version_conflict"
	codeNoLeader         = "no_leader"
	codeTimeout          = "timeout"
	codeInternal         = "internal"
)

// apiError is the body of every error response and carries its HTTP status.
type apiError struct {
	status  int
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *apiError) Error() string {
	if e.Field != "" {
		return e.Code + ": " + e.Field + ": " + e.Message
	}
	return e.Code + ": " + e.Message
}

func invalid(field, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, Code: codeInvalidArgument, Field: field, Message: msg}
}

func errNoLeader(msg string) *apiError {
	return &apiError{status: http.StatusServiceUnavailable, Code: codeNoLeader, Message: msg}
}

func errInternal(msg string) *apiError {
	return &apiError{status: http.StatusInternalServerError, Code: codeInternal, Message: msg}
}

// errorFor maps an error from the cluster, the FSM or the decoder onto the
// public error shape. Unknown errors become 500 internal.
func errorFor(err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, fsm.ErrExists):
		return &apiError{status: http.StatusConflict, Code: codeAlreadyExists, Message: err.Error()}
	case errors.Is(err, fsm.ErrNotFound), errors.Is(err, cluster.ErrUnknownMember):
		return &apiError{status: http.StatusNotFound, Code: codeNotFound, Message: err.Error()}
	case errors.Is(err, fsm.ErrVersionMismatch):
		return &apiError{status: http.StatusConflict, Code: codeVersionConflict, Message: err.Error()}
	case errors.Is(err, fsm.ErrInvalidEvent), errors.Is(err, cluster.ErrInvalidRequest):
		return invalid("", err.Error())
	case errors.Is(err, cluster.ErrNotLeader), errors.Is(err, cluster.ErrNoLeader),
		errors.Is(err, cluster.ErrNotMember), errors.Is(err, cluster.ErrStopped):
		return errNoLeader(err.Error())
	case errors.Is(err, cluster.ErrTimeout), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.Canceled):
		return &apiError{status: http.StatusServiceUnavailable, Code: codeTimeout,
			Message: "the operation did not complete in time; its outcome is unknown: " + err.Error()}
	default:
		return errInternal(err.Error())
	}
}

// writeError writes e as {"error":{...}}; no_leader answers carry
// Retry-After so clients back off for the election.
func writeError(w http.ResponseWriter, e *apiError) {
	if e.Code == codeNoLeader {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.status, struct {
		Error *apiError `json:"error"`
	}{e})
}

// writeJSON writes v as the JSON response body with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"internal","message":"encoding the response failed"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// fail writes the error response for err and logs internal errors.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := errorFor(err)
	if e.status == http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "api: internal error",
			slog.String(logKeyError, err.Error()), slog.String(logKeyPath, r.URL.Path))
	}
	writeError(w, e)
}
