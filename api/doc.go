// Package api is the HTTP JSON API every ScheduleZero node serves: schedule
// CRUD under /v1/schedules, cluster operations under /v1/cluster, health
// (/healthz, /readyz), Prometheus metrics (/metrics) and the web dashboard
// (/). It owns request decoding and validation, the mapping of FSM and
// cluster errors onto the public error shape, and the forwarding of
// leader-only requests to the leader. It holds no state of its own: writes go
// through Cluster.Propose, reads come from Cluster.FSM.
//
// # Consistency
//
// Writes are validated on the node that receives them (so any node answers
// 400 for a bad request), then proposed; a follower's Propose fails with
// cluster.ErrNotLeader and the original request is forwarded to the leader's
// HTTP address with the X-SZ-Forwarded-By header, which also stops forwarding
// loops. Schedule reads are linearizable by default (Cluster.LinearizableRead
// on the leader, forwarded from followers); ?stale=true serves the local
// replica directly.
//
// # Errors
//
// Every error response is {"error":{"code","message","field"}} with field
// present only for validation errors; docs/api.md lists the codes.
//
// # Usage
//
//	srv, err := api.New(api.Config{Cluster: node, NodeID: "n1", Logger: logger,
//		Registerer: prometheus.DefaultRegisterer})
//	if err != nil { ... }
//	httpServer := &http.Server{Addr: addr, Handler: srv.Handler()}
package api
