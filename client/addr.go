package client

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// NormalizeAddr turns an HTTP address as users write it — "host:port",
// "http://host:port" or "https://host:port", optionally with a base path —
// into a base URL without a trailing slash ("http://host:port"). A missing
// scheme means http. Other schemes, a missing host, user info, queries and
// fragments are errors.
func NormalizeAddr(addr string) (string, error) {
	s := strings.TrimSpace(addr)
	if s == "" {
		return "", errors.New("client: empty address")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("client: invalid address %q: %w", addr, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("client: invalid address %q: scheme must be http or https", addr)
	case u.Host == "":
		return "", fmt.Errorf("client: invalid address %q: missing host", addr)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return "", fmt.Errorf("client: invalid address %q: want host:port or http(s)://host:port", addr)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

// hostAddr is the form of addr the join endpoint expects: "host:port" for
// plain http, the full normalised URL otherwise.
func hostAddr(addr string) (string, error) {
	n, err := NormalizeAddr(addr)
	if err != nil {
		return "", err
	}
	if rest, ok := strings.CutPrefix(n, "http://"); ok && !strings.Contains(rest, "/") {
		return rest, nil
	}
	return n, nil
}
