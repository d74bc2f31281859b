package governor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
)

// Remote drives the governor of a directory from another process through
// its control API, as `szgovernor kill|stop|…` does from another shell.
// It is safe for concurrent use.
type Remote struct {
	dir   string
	base  string
	token string
	hc    *http.Client
}

var _ Controller = (*Remote)(nil)

// Dial reads dir/state.json and returns a Remote for its governor, or an
// error wrapping ErrNoGovernor when that governor is no longer running. It
// does not contact the governor.
func Dial(dir string) (*Remote, error) {
	sf, err := readStateFile(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoGovernor, err)
	}
	if !governorAlive(sf) {
		return nil, fmt.Errorf("%w: %s (governor pid %d is %s)", ErrNoGovernor, dir, sf.Governor.PID, describeGone(sf))
	}
	return &Remote{dir: dir, base: "http://" + sf.Governor.ControlAddr, token: sf.Token,
		hc: &http.Client{Transport: &http.Transport{Proxy: nil}}}, nil
}

// governorAlive reports whether the recorded governor still runs: its PID
// is ours (in-process use) or still runs the recorded command line.
func governorAlive(sf stateFile) bool {
	switch sf.Governor.State {
	case phaseStopped, phaseNew, "":
		return false
	}
	return sf.Governor.PID == os.Getpid() || verified(sf.Governor.PID, sf.GovernorCmdline)
}

func describeGone(sf stateFile) string {
	if sf.Governor.State == phaseStopped {
		return "stopped"
	}
	return "gone"
}

// Close releases idle connections.
func (r *Remote) Close() { r.hc.CloseIdleConnections() }

// Status implements Controller.
func (r *Remote) Status(ctx context.Context) (Status, error) {
	var st Status
	err := r.do(ctx, http.MethodGet, "/v1/status", nil, &st)
	return st, err
}

// Kill implements Controller.
func (r *Remote) Kill(ctx context.Context, id string) error { return r.action(ctx, id, "kill") }

// Term implements Controller.
func (r *Remote) Term(ctx context.Context, id string) error { return r.action(ctx, id, "term") }

// Pause implements Controller.
func (r *Remote) Pause(ctx context.Context, id string) error { return r.action(ctx, id, "stop") }

// Resume implements Controller.
func (r *Remote) Resume(ctx context.Context, id string) error { return r.action(ctx, id, "cont") }

// Restart implements Controller.
func (r *Remote) Restart(ctx context.Context, id string) error { return r.action(ctx, id, "restart") }

func (r *Remote) action(ctx context.Context, id, action string) error {
	return r.do(ctx, http.MethodPost, "/v1/processes/"+url.PathEscape(id)+"/"+action, nil, nil)
}

// Partition implements Controller.
func (r *Remote) Partition(ctx context.Context, groups [][]string) error {
	return r.do(ctx, http.MethodPost, "/v1/partition", partitionRequest{Groups: groups}, nil)
}

// PartitionOneWay implements Controller.
func (r *Remote) PartitionOneWay(ctx context.Context, from, to []string) error {
	return r.do(ctx, http.MethodPost, "/v1/partition", partitionRequest{From: from, To: to}, nil)
}

// Heal implements Controller.
func (r *Remote) Heal(ctx context.Context) error {
	return r.do(ctx, http.MethodPost, "/v1/heal", nil, nil)
}

// AddNode implements Controller.
func (r *Remote) AddNode(ctx context.Context) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	err := r.do(ctx, http.MethodPost, "/v1/nodes", nil, &out)
	return out.ID, err
}

// RemoveNode implements Controller.
func (r *Remote) RemoveNode(ctx context.Context, id string) error {
	return r.do(ctx, http.MethodDelete, "/v1/nodes/"+url.PathEscape(id), nil, nil)
}

// requestDown asks the governor to stop; it does not wait.
func (r *Remote) requestDown(ctx context.Context) error {
	return r.do(ctx, http.MethodPost, "/v1/down", nil, nil)
}

// do sends one request. A transport failure wraps ErrNoGovernor; an API
// error wraps the matching sentinel.
func (r *Remote) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w: control API of %s: %w", ErrNoGovernor, r.dir, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("control API: %w", err)
	}
	if resp.StatusCode >= 300 {
		return decodeRemoteError(resp.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// remoteError is an error answered by the control API.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

func decodeRemoteError(status int, b []byte) error {
	var eb errorBody
	if json.Unmarshal(b, &eb) != nil || eb.Error.Message == "" {
		return fmt.Errorf("control API: HTTP %d: %s", status, bytes.TrimSpace(b))
	}
	e := &remoteError{msg: eb.Error.Message}
	for _, c := range errorCodes {
		if c.code == eb.Error.Code {
			e.sentinel = c.err
		}
	}
	return e
}
