package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error codes the API uses in APIError.Code that this package gives
// meaning to.
const (
	// CodeNoLeader: no leader is known; retry after APIError.RetryAfter.
	CodeNoLeader = "no_leader"
)

// ErrEmptyID is returned, without a request being sent, by methods given
// an empty schedule, run or member ID.
var ErrEmptyID = errors.New("client: empty id")

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// APIError is a non-2xx answer from the API, decoded from
// {"error":{"code","message","field"}}. When the body is not in that form,
// Message holds its first line (or the status text) and Code is empty.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Code is the machine-readable error code ("not_found", "no_leader", …).
	Code string
	// Message is the human-readable explanation.
	Message string
	// Field names the offending request field, when there is one.
	Field string
	// RetryAfter is the server's Retry-After hint (0 when absent).
	RetryAfter time.Duration
}

// Error formats the error as "client: <status> <code>: <message> (field: f)".
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "client: %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	b.WriteString(": " + e.Text())
	return b.String()
}

// Text is the message for humans: Message (or the status text when the
// server sent none) followed by " (field: f)" when Field is set.
func (e *APIError) Text() string {
	msg := e.Message
	if msg == "" {
		msg = strings.ToLower(http.StatusText(e.Status))
	}
	if msg == "" {
		msg = "HTTP status " + strconv.Itoa(e.Status)
	}
	if e.Field != "" {
		msg += " (field: " + e.Field + ")"
	}
	return msg
}

// IsNotFound reports whether err is an APIError with status 404.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsConflict reports whether err is an APIError with status 409 (version
// mismatch or an ID that already exists).
func IsConflict(err error) bool { return hasStatus(err, http.StatusConflict) }

// IsNotImplemented reports whether err is an APIError with status 501.
func IsNotImplemented(err error) bool { return hasStatus(err, http.StatusNotImplemented) }

// IsNoLeader reports whether err is a 503 APIError with code no_leader.
func IsNoLeader(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Status == http.StatusServiceUnavailable && e.Code == CodeNoLeader
}

func hasStatus(err error, status int) bool {
	var e *APIError
	return errors.As(err, &e) && e.Status == status
}

// decodeError builds the APIError for a non-2xx response; now is used to
// turn an HTTP-date Retry-After into a duration.
func decodeError(resp *http.Response, now time.Time) *APIError {
	e := &APIError{Status: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now)}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && (env.Error.Code != "" || env.Error.Message != "") {
		e.Code, e.Message, e.Field = env.Error.Code, env.Error.Message, env.Error.Field
		return e
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	e.Message = strings.TrimSpace(line)
	return e
}

// parseRetryAfter accepts delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(n)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}
