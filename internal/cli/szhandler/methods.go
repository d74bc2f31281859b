package szhandler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/schedulezero/schedulezero/handlerclient"
	"github.com/schedulezero/schedulezero/internal/clock"
)

// ErrRequestedFailure is the error of the fail method.
var ErrRequestedFailure = errors.New("fail: requested failure")

// register adds szhandler's methods to c.
func register(c *handlerclient.Client, clk clock.Clock) {
	c.Handle("echo", echo)
	c.Handle("sleep", sleeper{clk}.sleep)
	c.Handle("fail", fail)
	c.Handle("noop", noop)
}

// echo returns its params (null when there are none).
func echo(_ context.Context, job *handlerclient.Job) (any, error) {
	if len(job.Params) == 0 {
		return nil, nil
	}
	return job.Params, nil
}

// sleepParams are the params of sleep.
type sleepParams struct {
	MS int64 `json:"ms"`
}

// sleepResult is the result of sleep.
type sleepResult struct {
	SleptMS int64 `json:"slept_ms"`
}

type sleeper struct{ clock clock.Clock }

// sleep waits params.ms milliseconds, or until its context ends (then the
// run fails with the cause).
func (s sleeper) sleep(ctx context.Context, job *handlerclient.Job) (any, error) {
	var p sleepParams
	if err := job.Bind(&p); err != nil {
		return nil, err
	}
	if p.MS < 0 {
		return nil, fmt.Errorf("sleep: ms %d: must not be negative", p.MS)
	}
	t := s.clock.NewTimer(time.Duration(p.MS) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C():
		return sleepResult{SleptMS: p.MS}, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("sleep interrupted: %w", context.Cause(ctx))
	}
}

func fail(context.Context, *handlerclient.Job) (any, error) { return nil, ErrRequestedFailure }

func noop(context.Context, *handlerclient.Job) (any, error) { return nil, nil }
