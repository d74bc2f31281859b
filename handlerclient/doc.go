// Package handlerclient is the Go SDK for ScheduleZero handlers: long-lived
// processes that register methods with a cluster and execute the jobs its
// leader dispatches to them.
//
// # Example
//
// A complete handler program with one method. It runs until SIGINT or
// SIGTERM, then finishes its running jobs and exits:
//
//	package main
//
//	import (
//		"context"
//		"fmt"
//		"log/slog"
//		"os"
//		"os/signal"
//		"syscall"
//
//		"github.com/schedulezero/schedulezero/handlerclient"
//	)
//
//	type reportParams struct {
//		Format string `json:"format"`
//	}
//
//	func main() {
//		logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
//		c, err := handlerclient.New(handlerclient.Config{
//			Name:     "reports",
//			Servers:  []string{"tcp://10.0.0.1:4242", "tcp://10.0.0.2:4242", "tcp://10.0.0.3:4242"},
//			Capacity: 8,
//			Logger:   logger,
//		})
//		if err != nil {
//			logger.Error("config", "err", err)
//			os.Exit(2)
//		}
//		c.Handle("generate", func(ctx context.Context, job *handlerclient.Job) (any, error) {
//			var p reportParams
//			if err := job.Bind(&p); err != nil {
//				return nil, err // the run fails; the error text is recorded
//			}
//			// Runs are delivered at least once: make side effects idempotent,
//			// keyed by job.RunID. Honour ctx: it is cancelled when the cluster
//			// cancels the run, at job.Deadline and at shutdown.
//			path := fmt.Sprintf("/reports/%s.%s", job.NominalAt.Format("2006-01-02"), p.Format)
//			return map[string]string{"path": path}, nil // becomes the run's result
//		})
//		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//		defer stop()
//		if err := c.Run(ctx); err != nil {
//			logger.Error("handler", "err", err)
//			os.Exit(1)
//		}
//	}
//
// A schedule targets this method with "handler": "reports", "method":
// "generate"; its "params" arrive in Job.Params.
//
// # Connections and leader following
//
// The client opens one connection (a ZeroMQ DEALER through
// transport.ZMQDialer) per server endpoint — never one socket to several
// endpoints — with the identity "<name>/<instance>/<n>", where instance is
// random per process start (Instance) and n grows with every dial. On each
// connection it sends hello; followers answer redirect, the leader answers
// welcome after committing the registration. The live connection whose
// welcome carries the highest term is the leader link; results go there.
// Other connections get hello again every heartbeat, so a newly elected
// leader welcomes the handler within about one interval. A redirect naming
// an endpoint outside Servers is dialled too when no known connection
// turns out to lead within one interval.
//
// Leader search: when the client has no leader link, or a message showed a
// higher term than its leader link's welcome, it says hello on every
// connection at once and then every probe interval (a tenth of the
// heartbeat interval, 20 to 50 ms) for five intervals, then once per
// interval. A leader killed outright closes its connections, which the
// client notices at once, so after a failover the handler is registered
// with the new leader within one probe interval of its election, without
// waiting for heartbeats to time out. A redirect naming a connected node
// gets a hello at once.
//
// Heartbeats flow both ways every heartbeat interval (the heartbeat_ms of
// the latest welcome from any node, or Config.HeartbeatInterval before
// the first). A connection silent for liveness intervals is closed and
// dialled again — as a new socket with a new identity, never relying on
// zmq4's own reconnect — after a back-off from MinBackoff doubling to
// MaxBackoff plus jitter, forever.
//
// # Throughput
//
// The client's loop handles every message and job event that is ready
// before it writes, and each connection's writer sends everything queued
// with one transport SendBatch; with batching negotiated (hello and welcome
// features, docs/protocol.md section 2a; the default with transport's
// dialer and listener) the answers to a burst of dispatches leave in one
// ZeroMQ frame. A message queued on an idle connection is written at once,
// so batching adds no latency. Without a BeforeRunFunc a dispatch is
// accepted as soon as it is recorded, without waiting for its goroutine.
//
// # Jobs
//
// A dispatch is fenced by term: one whose term is below the highest term
// seen on any message is rejected ("stale_term"). It is de-duplicated by
// run id: the ids of all runs in flight or awaiting acknowledgement plus
// the last 100,000 finished ones are remembered, and a dispatch of a known
// run id is answered with accepted (and the stored result, when the run
// has finished but its result was not acknowledged) instead of running the
// job again. A known run id with a higher attempt takes the existing
// execution over; only after its result was acknowledged does a higher
// attempt (a retry) run again. Then unknown methods ("unknown_method"), a
// shutting-down client ("shutting_down") and a full client
// ("over_capacity"; Capacity is the credit announced in hello) are
// rejected. Otherwise Config.BeforeRunFunc runs (in the job's goroutine),
// accepted is sent and the HandlerFunc runs in that goroutine.
//
// The HandlerFunc's return value is JSON-encoded as the result; an error,
// a panic or a result larger than a frame fails the run. Every result is
// kept and sent to the leader link until result_ack arrives: again every
// three heartbeat intervals and at once after a welcome, so results
// survive a leader change.
//
// # Shutdown
//
// When Run's context ends, new dispatches are rejected, running jobs get
// Config.DrainTimeout to finish (then their contexts are cancelled with
// ErrShutdown and they get Config.FlushTimeout to return), the remaining
// results get Config.FlushTimeout to be acknowledged, goodbye is sent on
// every connection, and Run returns nil once every goroutine it started
// has ended.
//
// The wire protocol is specified in docs/protocol.md; package wire holds
// its messages and transport the connections.
package handlerclient
