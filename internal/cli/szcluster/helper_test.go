package szcluster_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/client/clienttest"
	"github.com/schedulezero/schedulezero/internal/cli/clitest"
	"github.com/schedulezero/schedulezero/internal/cli/szcluster"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// invocation is one szcluster run beyond its arguments.
type invocation clitest.Invocation

func (iv invocation) run(t *testing.T, args ...string) clitest.Result {
	t.Helper()
	return clitest.Invocation(iv).Run(t, szcluster.Run, args...)
}

// run runs szcluster against srv with args.
func run(t *testing.T, srv *clienttest.Server, args ...string) clitest.Result {
	t.Helper()
	return invocation{}.run(t, append([]string{"--addr", srv.URL}, args...)...)
}

var (
	requireOK   = clitest.RequireOK
	requireFail = clitest.RequireFail
)
