#!/usr/bin/env bash
# `make demo`: starts tslab-demo, shows what stats_dump sees from outside
# (the text view with rates, the JSON, --doctor), then starts a misbehaving
# tslab-demo (--leak --alloc-closed) and shows the doctor catching it (also
# with --trace: latencies and the bug's call site),
# shows tslab-exporter's /metrics for both, and stops them. Usage: examples/run_demo.sh [BIN_DIR]   (default build/bin)
set -euo pipefail
bin=${1:-build/bin}
tmp=$(mktemp -d /tmp/tslab-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]+"${pids[@]}"}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]+"${pids[@]}"}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# start_demo NAME ARGS...: starts tslab-demo, waits (bounded) until its stats
# region exists, sets $pid.
start_demo() {
  local name=$1; shift
  "$bin/tslab-demo" --name "$name" --ready-file "$tmp/$name.ready" "$@" \
    >"$tmp/$name.out" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$tmp/$name.ready" ] && break; sleep 0.1; done
  [ -s "$tmp/$name.ready" ] || { echo "tslab-demo did not start" >&2; exit 1; }
  pid=$(cat "$tmp/$name.ready")
}

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

start_demo healthy --threads 2 --duration 30 --pause-ms 0.2
healthy=$pid
section "tslab-demo running as pid $healthy; stats_dump --list"
"$bin/stats_dump" --list
sleep 1

section "stats_dump -p $healthy --interval 1 --count 2 (text view with rates, on stderr)"
"$bin/stats_dump" -p "$healthy" --interval 1 --count 2 2>&1 >/dev/null

section "stats_dump -p $healthy --no-text (the JSON, schema_version 1; first 600 bytes)"
"$bin/stats_dump" -p "$healthy" --no-text | head -c 600; echo " ..."

section "stats_dump --doctor -p $healthy"
rc=0; "$bin/stats_dump" --doctor -p "$healthy" || rc=$?
echo "(exit code $rc: 0 healthy, 1 warning, 2 critical)"

# >>> tslab-trace hook (USDT issue): a few seconds of `tslab-trace -p`
section "tslab-trace -p $healthy --probe slow_path,epoch_close,madvise 1 3 (BPF on the USDT probes: latency histograms, no restart)"
rc=0
"$bin/tslab-trace" -p "$healthy" --probe slow_path,epoch_close,madvise 1 3 || rc=$?
if [ "$rc" != 0 ]; then
  echo "(tslab-trace exit code $rc: 3 = needs root or CAP_BPF+CAP_PERFMON; see docs/tslab-trace.md)"
fi
# <<< tslab-trace hook

start_demo leaky --threads 2 --duration 30 --pause-ms 1 --leak --alloc-closed
section "a misbehaving tslab-demo --leak --alloc-closed (pid $pid): stats_dump --doctor -p $pid"
rc=0; "$bin/stats_dump" --doctor -p "$pid" || rc=$?
echo "(exit code $rc: 0 healthy, 1 warning, 2 critical)"

# >>> doctor-trace hook (issue 10): the same window traced with BPF
section "stats_dump --doctor --trace -p $pid (the probes' latencies, the call sites of the bug, counters reconciled)"
rc=0; "$bin/stats_dump" --doctor --trace -p "$pid" || rc=$?
echo "(exit code $rc; without root the doctor runs on the counters and says so in one line)"
# <<< doctor-trace hook

# >>> tslab-exporter hook (issue 8): Prometheus metrics of both processes
section "tslab-exporter (Prometheus metrics of every tslab process on the host): curl /metrics"
"$bin/tslab-exporter" --web.listen-address=127.0.0.1:0 2>"$tmp/exporter.log" &
exporter=$!
pids+=($exporter)
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*address="127.0.0.1:\([0-9]*\)".*/\1/p' "$tmp/exporter.log")
  [ -n "$port" ] && break; sleep 0.1
done
if [ -n "$port" ]; then
  echo "\$ curl -s 127.0.0.1:$port/metrics | grep -E '^tslab_(up|allocs_total|doctor_finding.*(epoch_closed_allocs|net_slabs_growth))'"
  curl -s "127.0.0.1:$port/metrics" |
    grep -E '^tslab_(up|allocs_total|doctor_finding.*(epoch_closed_allocs|net_slabs_growth))' || true
  echo "(docs/exporter.md: every metric, alerting rules, PromQL; configs/prometheus/ scrapes it)"
else
  echo "tslab-exporter did not start:"; cat "$tmp/exporter.log"
fi
kill -TERM "$exporter" 2>/dev/null || true
# <<< tslab-exporter hook

section "stopping both (SIGTERM: they exit normally and remove their region files)"
cleanup
trap - EXIT
rc=0; "$bin/stats_dump" -p "$healthy" --no-text || rc=$?
echo "(exit code $rc: 4 = no such process; no stale region file was left)"
