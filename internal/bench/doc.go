// Package bench implements szbench, ScheduleZero's end-to-end benchmark
// (issue 5). It starts a local cluster through governor.ProcessGovernor — or
// targets an existing one with Config.Target — runs handler instances in its
// own process with the handlerclient SDK, drives one or more scenarios and
// reports a human summary and, with -o json, one JSON object (Report).
// cmd/szbench only wires signals and the process environment.
//
// # Running
//
//	make build
//	bin/szbench --scenario all --short -o json > bench.json   # what make bench runs (≈ 3 min)
//	bin/szbench --scenario throughput --rate 10000 --duration 60s
//	bin/szbench --scenario failover --raft-profile fast --failover-trials 5
//	bin/szbench --scenario scale --schedules 1000000
//	bin/szbench --target 127.0.0.1:8888 --scenario latency   # an existing cluster
//
// The cluster's nodes bind 127.0.1.i (ports from --base-port, default
// 40000) with the governor's proxies on 127.0.2.i, exactly as under
// szgovernor: Raft traffic between nodes crosses those userspace proxies,
// which run inside szbench, for the baseline and the workload alike. The
// in-process handlers connect to the nodes' own ZeroMQ endpoints. Data lives
// in a temporary directory, removed at the end, unless --data-dir names one
// (a run-<time>-<id>/<scenario>/ tree is then kept: node logs, governor log,
// timeline).
//
// # Scenarios
//
// Every scenario starts its own cluster (fresh data) and first measures the
// raw single-entry Raft commit rate of that cluster through POST
// /v1/cluster/bench/commits (the baseline, ratio_vs_baseline): a slow or busy
// machine shifts both numbers alike. The numbers are measurements, never
// assertions: nothing fails on a missed target.
//
//   - throughput: Rate×Interval every-schedules, anchored at evenly spaced
//     start_at offsets so that one fire falls due every Interval/Schedules;
//     after the warm-up, the runs completed end to end over the window
//     (fire committed → handler accepted → result committed and acknowledged
//     to the handler: the SDK's finished jobs minus its unacknowledged
//     results) give fires_per_sec, cross-checked with the leader's
//     sz_dispatch_fires_total and results received. Dispatch latency of the
//     same window: handler accept time (BeforeRunFunc, right before the SDK
//     sends accepted) minus the run's nominal time.
//   - latency: the same at a lower rate (default 1000/s); reports the accept
//     latency distribution (p50, p90, p99, max).
//   - failover: FailoverSchedules schedules (a fire every 10 ms by default).
//     Each trial kills the leader with SIGKILL through the governor and
//     measures the time until a handler accepts the first job dispatched in
//     a later term (Job.Term), then restarts the node and waits for /readyz.
//     Then one graceful trial: SIGTERM of the leader (leadership transfer),
//     reporting the handover, the longest pause between accepted jobs and
//     the worst fire lateness around it. The cluster runs --raft-profile.
//   - scale: a follower is killed, Schedules idle schedules (every 24h,
//     starting ten years ahead: active, never due) are created through the
//     batch endpoint (1000 per request, CreateClients at a time), the
//     follower is restarted and timed until it has the leader's applied
//     index and digest; the nodes run with a snapshot threshold sized to
//     the creation so that the leader compacts its log past the follower,
//     and the follower's log tells whether it installed a snapshot. Then the
//     leader's memory growth per schedule (RSS from /proc, Go heap from its
//     metrics), its idle CPU over IdleWindow, and GET/POST
//     /v1/cluster/snapshot times.
//
// # Output
//
// Report is the JSON contract: the headline figures at the top level
// (fires_per_sec, ratio_vs_baseline, dispatch_p50_ms, dispatch_p99_ms,
// failover_gap_ms, graceful_gap_ms, schedules, rss_bytes_per_schedule,
// snapshot_ms, restore_ms, baseline_raft_commits_per_sec; null when the
// scenario measuring them did not run or failed), then params (the
// workload), machine (cores, Go version, kernel, CPU) and scenarios (one
// object per scenario, null when it did not run, with an "error" field when
// it failed). testdata/report.golden.json shows a complete report.
//
// szbench stops every process it started (by PID, through the governor)
// before it exits, also on Ctrl-C; a second Ctrl-C kills szbench at once
// and Pdeathsig takes the nodes with it. Exit code 0 when every scenario
// ran, 1 when one failed, 2 on a usage error, 130 when interrupted.
//
// # Usage
//
//	cfg, err := bench.ParseFlags(args, stderr)
//	if err != nil { ... }
//	r, err := bench.New(cfg)
//	if err != nil { ... }
//	report, err := r.Run(ctx)
package bench
