package jepsen

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/schedulezero/schedulezero/client"
)

// classify turns a client error into what the history records: the
// outcome, a short result code and the HTTP status (0 without an answer).
//
// The rules follow docs/api.md and etcd's robustness tests: 404 and 409
// already_exists are definite; 503 (no_leader or timeout) and every other
// 5xx leave a write's outcome unknown, as does a connection that broke
// after the request may have been sent. A dial that failed sent nothing,
// so it is a definite failure.
func classify(err error) (Outcome, string, int) {
	if err == nil {
		return OutcomeOK, "", 0
	}
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		return classifyStatus(apiErr)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return OutcomeFail, ResultUnreachable, 0
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return OutcomeUnknown, "client_timeout", 0
	}
	return OutcomeUnknown, "transport", 0
}

func classifyStatus(e *client.APIError) (Outcome, string, int) {
	switch {
	case e.Status == http.StatusNotFound:
		return OutcomeFail, ResultNotFound, e.Status
	case e.Status == http.StatusConflict && e.Code == ResultAlreadyExists:
		return OutcomeFail, ResultAlreadyExists, e.Status
	case e.Status == http.StatusBadRequest:
		return OutcomeFail, ResultInvalid, e.Status
	case e.Status >= 500:
		code := e.Code
		if code == "" {
			code = http.StatusText(e.Status)
		}
		return OutcomeUnknown, code, e.Status
	default:
		// 409 version_conflict (the workload never sends If-Match), 401,
		// 403, …: definite, but a sign of a bug; the workload check fails.
		return OutcomeFail, ResultUnexpected, e.Status
	}
}
