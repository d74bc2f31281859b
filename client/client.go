package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/schedulezero/schedulezero/internal/clock"
)

// Defaults for the Option values.
const (
	// DefaultTimeout bounds one request unless WithTimeout says otherwise.
	DefaultTimeout = 30 * time.Second
	// JoinTimeout bounds Join: the receiving node contacts the member,
	// is added as non-voter and catches up before it answers.
	JoinTimeout = 2 * time.Minute
	// defaultBackoff is the first wait between retries when the server
	// gives no Retry-After; it doubles up to maxBackoff.
	defaultBackoff = 250 * time.Millisecond
	maxBackoff     = 2 * time.Second
)

// Client talks to one ScheduleZero node. It is safe for concurrent use.
type Client struct {
	base        string // normalised, no trailing slash
	hc          *http.Client
	timeout     time.Duration
	retryBudget time.Duration
	userAgent   string
	clock       clock.Clock
	backoff     time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests with hc (for TLS
// settings or a custom transport). The Client's own timeouts still apply.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithTimeout bounds each request by d (0: bounded by the context only).
// Join uses the longer of d and JoinTimeout; snapshot streams ignore it.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithRetry retries GET requests answered with 503 no_leader until budget
// is spent, waiting Retry-After (or a short exponential back-off) between
// attempts. Other requests are never retried.
func WithRetry(budget time.Duration) Option { return func(c *Client) { c.retryBudget = budget } }

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a Client for the node at addr ("host:port",
// "http://host:port" or "https://host:port"; see NormalizeAddr).
func New(addr string, opts ...Option) (*Client, error) {
	base, err := NormalizeAddr(addr)
	if err != nil {
		return nil, err
	}
	c := &Client{
		base:      base,
		timeout:   DefaultTimeout,
		userAgent: "schedulezero-client",
		clock:     clock.Real{},
		backoff:   defaultBackoff,
	}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return c, nil
}

// Addr returns the normalised base URL the client talks to.
func (c *Client) Addr() string { return c.base }

// CloseIdleConnections closes the idle keep-alive connections of the
// client's transport. Call it when done with a Client.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// request describes one API call.
type request struct {
	method  string
	path    string // already escaped
	query   url.Values
	header  http.Header
	body    any           // JSON-encoded; or an io.Reader sent as is
	timeout time.Duration // overrides c.timeout when > 0; < 0: none
	noRetry bool          // a probe: never retried
}

// do sends req and decodes a 2xx JSON body into out (when out is non-nil
// and the body is not empty). Non-2xx answers become *APIError.
func (c *Client) do(ctx context.Context, req request, out any) error {
	return c.withRetry(ctx, req, func() error {
		ctx, cancel := c.bound(ctx, req.timeout)
		defer cancel()
		resp, err := c.send(ctx, req)
		if err != nil {
			return err
		}
		defer drainClose(resp.Body)
		return decodeBody(req, resp.Body, out)
	})
}

// send performs one HTTP exchange and turns non-2xx answers into *APIError;
// the caller closes the body of the returned 2xx response.
func (c *Client) send(ctx context.Context, req request) (*http.Response, error) {
	hr, err := c.newRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer drainClose(resp.Body)
		return nil, decodeError(resp, c.clock.Now())
	}
	return resp, nil
}

func (c *Client) newRequest(ctx context.Context, req request) (*http.Request, error) {
	u := c.base + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	var body io.Reader
	contentType := ""
	switch b := req.body.(type) {
	case nil:
	case io.Reader:
		body, contentType = b, "application/octet-stream"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("client: encode %s %s: %w", req.method, req.path, err)
		}
		body, contentType = bytes.NewReader(data), "application/json"
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", req.method, req.path, err)
	}
	for k, vs := range req.header {
		hr.Header[k] = vs
	}
	if contentType != "" {
		hr.Header.Set("Content-Type", contentType)
	}
	hr.Header.Set("Accept", "application/json")
	if c.userAgent != "" {
		hr.Header.Set("User-Agent", c.userAgent)
	}
	return hr, nil
}

// bound applies the per-request timeout unless ctx ends sooner.
func (c *Client) bound(ctx context.Context, override time.Duration) (context.Context, context.CancelFunc) {
	d := c.timeout
	if override != 0 {
		d = override
	}
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// withRetry runs attempt once, or — for GET with a retry budget — again
// while it fails with no_leader and the budget lasts.
func (c *Client) withRetry(ctx context.Context, req request, attempt func() error) error {
	err := attempt()
	if c.retryBudget <= 0 || req.method != http.MethodGet || req.noRetry {
		return err
	}
	deadline := c.clock.Now().Add(c.retryBudget)
	backoff := c.backoff
	for IsNoLeader(err) {
		wait := backoff
		var e *APIError
		if errors.As(err, &e) && e.RetryAfter > 0 {
			wait = e.RetryAfter
		}
		left := deadline.Sub(c.clock.Now())
		if left <= 0 {
			return err
		}
		if err := c.sleep(ctx, min(wait, left)); err != nil {
			return err
		}
		backoff = min(2*backoff, maxBackoff)
		err = attempt()
	}
	return err
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	t := c.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

func decodeBody(req request, r io.Reader, out any) error {
	if out == nil {
		return nil
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("client: read %s %s response: %w", req.method, req.path, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("client: decode %s %s response: %w", req.method, req.path, err)
	}
	return nil
}

func drainClose(rc io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(rc, maxErrorBody))
	_ = rc.Close()
}
