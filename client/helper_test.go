package client_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/client/clienttest"
)

// newFake returns a client of a fresh fake API server.
func newFake(t *testing.T, opts ...client.Option) (*client.Client, *clienttest.Server) {
	t.Helper()
	srv := clienttest.NewServer(t)
	c, err := client.New(srv.URL, append([]client.Option{client.WithHTTPClient(srv.Client())}, opts...)...)
	require.NoError(t, err)
	return c, srv
}
