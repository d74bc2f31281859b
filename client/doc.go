// Package client is the Go client of the ScheduleZero HTTP API
// (DESIGN.md, "HTTP API"). It owns the wire shapes the API returns to
// clients (Schedule with next_fire_at, Run, Handler, Member, Self), the
// decoding of API errors into *APIError, address normalisation
// (NormalizeAddr) and cursor pagination. The CLIs szctl and szcluster are
// built on it, and server code may use it to talk to other members.
//
// Usage:
//
//	c, err := client.New("127.0.0.1:8888", client.WithRetry(5*time.Second))
//	if err != nil {
//		return err
//	}
//	defer c.CloseIdleConnections()
//	s, err := c.GetSchedule(ctx, "nightly-report")
//	switch {
//	case client.IsNotFound(err):
//		// no such schedule
//	case err != nil:
//		return err
//	}
//
// Every method takes a context first. Unless the context already carries
// an earlier deadline, each request is bounded by the client's timeout
// (WithTimeout, default 30 s); Join uses a longer one, and snapshot
// streams are bounded by the context only. With WithRetry, GET requests
// answered with 503 no_leader are retried (honouring Retry-After) until a
// time budget is spent; writes are never retried, since their outcome
// after a failure is unknown.
//
// The decoded types keep the exact JSON object the server sent in a Raw
// field, so tools can print fields this package does not know about.
package client
