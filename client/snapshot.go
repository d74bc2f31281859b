package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// SnapshotSave streams a snapshot of the cluster state (GET
// /v1/cluster/snapshot) into w and returns the number of bytes written.
// Only ctx bounds the transfer; the client timeout does not apply.
func (c *Client) SnapshotSave(ctx context.Context, w io.Writer) (int64, error) {
	resp, err := c.send(ctx, request{method: http.MethodGet, path: "/v1/cluster/snapshot"})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("client: snapshot save: %w", err)
	}
	return n, nil
}

// SnapshotRestore replaces the cluster state with the snapshot read from r
// (POST /v1/cluster/snapshot). Only ctx bounds the transfer.
func (c *Client) SnapshotRestore(ctx context.Context, r io.Reader) error {
	resp, err := c.send(ctx, request{method: http.MethodPost, path: "/v1/cluster/snapshot", body: r})
	if err != nil {
		return err
	}
	drainClose(resp.Body)
	return nil
}
