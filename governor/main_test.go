package governor_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/governor/governortest"
)

func TestMain(m *testing.M) {
	if code, ok := governortest.Main(); ok {
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}
