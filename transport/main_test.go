package transport

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests. zmq4's
// per-connection goroutines end shortly after Close; goleak retries for a
// while before it reports, which covers that without ignoring anything.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
