#!/usr/bin/env bash
# make run: a local 3-node cluster through the governor, plus a demo
# schedule. Ctrl-C (or `bin/szgovernor down --dir ./sz-local` from another
# shell) stops every process.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-./bin}
DIR=${SZ_LOCAL_DIR:-./sz-local}
NODES=${NODES:-3}
BASE_PORT=${BASE_PORT:-18800}
HANDLERS=${HANDLERS:-0}
if [ -x "$BIN/szhandler" ]; then HANDLERS=${HANDLERS_WITH_SZHANDLER:-1}; fi

"$BIN/szgovernor" up --nodes "$NODES" --handlers "$HANDLERS" --dir "$DIR" --base-port "$BASE_PORT" --bin-dir "$BIN" &
gov=$!
trap 'kill -INT "$gov" 2>/dev/null; wait "$gov"' INT TERM

# Wait for the first node (127.0.1.1:BASE+1) to be ready, then add the demo schedule.
addr="127.0.1.1:$((BASE_PORT + 1))"
for _ in $(seq 1 600); do
  if ! kill -0 "$gov" 2>/dev/null; then wait "$gov"; exit $?; fi
  if "$BIN/szcluster" --addr "$addr" status >/dev/null 2>&1; then break; fi
  sleep 0.2
done
"$BIN/szctl" --addr "$addr" schedule create --id demo-every-10s --handler demo --method echo \
  --every 10s --params '{"hello":"world"}' >/dev/null 2>&1 || true
echo "demo schedule 'demo-every-10s' is in place: $BIN/szctl --addr $addr schedule list"
wait "$gov"
