#!/usr/bin/env bash
# Instructions per request for courier, reqwest and hyper-util, counted by callgrind:
# the raw server runs as its own process (pinned to CPU 1, not under valgrind), and
# `peers loop --client X --n N` is run under callgrind for N = N1 and N2; then
#   Ir/request = (Ir(N2) - Ir(N1)) / (N2 - N1)
# so start-up, connecting and the runtime's set-up cancel out. Deterministic enough to
# compare small changes (a few tenths of a percent run to run).
#
# Two tables: "text URL" (each client parses the URL string on every request, the usual
# way to call them), then "parsed URL" (`loop --parsed`: each client gets a URL parsed
# once, a Url for courier and reqwest, a Uri for hyper).
#
#   scripts/bench_callgrind.sh                  # N1=2000, N2=4000, all three clients
#   N1=1000 N2=3000 scripts/bench_callgrind.sh courier
#   KEEP=/tmp/cg scripts/bench_callgrind.sh   # keep the callgrind.out files there, for
#                                             # callgrind_annotate /tmp/cg/callgrind.courier.4000
#   scripts/bench_callgrind.sh --servers        # the other side: courier's bundled server and
#                                             # hyper's under callgrind, driven by the hyper
#                                             # client (not counted) with N1 and N2 requests
#
# Needs valgrind (apt-get install valgrind). Builds benches/peers into $CARGO_TARGET_DIR
# (default /tmp/tgt-peers).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/tgt-peers}
n1=${N1:-2000}
n2=${N2:-4000}
servers=
if [ "${1:-}" = --servers ]; then servers=1; shift; fi
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(courier reqwest hyper)
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
[ "$n2" -gt "$n1" ] || { echo "N2 must exceed N1" >&2; exit 1; }

cargo build --release --manifest-path benches/peers/Cargo.toml
peers="$CARGO_TARGET_DIR/release/peers"

work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

pin_server=() pin_client=()
if [ "$(nproc)" -ge 2 ]; then pin_server=(taskset -c 1) pin_client=(taskset -c 0); fi

# wait_for_port FILE: the port a server printed as its first line (waits up to 60 s,
# as a server under valgrind starts slowly).
wait_for_port() {
  local port=
  for _ in $(seq 600); do
    port=$(sed -n 's#^listening on http://127.0.0.1:\([0-9]*\)$#\1#p' "$1" 2>/dev/null)
    [ -n "$port" ] && break
    sleep 0.1
  done
  echo "$port"
}

# Instructions per request on the server side: each server runs under callgrind for a
# fixed time (SERVER_SECONDS, default 30; idle time costs no instructions) while the hyper
# client, not counted, sends it N1 and then N2 keep-alive GETs.
if [ -n "$servers" ]; then
  seconds=${SERVER_SECONDS:-30}
  server_instructions() {
    local server=$1 n=$2 out="$work/callgrind.$1-server.$2"
    "${pin_server[@]}" valgrind --tool=callgrind --callgrind-out-file="$out" \
      "$peers" "$server-server" --port 0 --max-seconds "$seconds" > "$work/server.out" 2> "$work/valgrind.err" &
    server_pid=$!
    local port
    port=$(wait_for_port "$work/server.out")
    [ -n "$port" ] || { echo "$server-server did not start" >&2; cat "$work/valgrind.err" >&2; exit 1; }
    "${pin_client[@]}" "$peers" loop --client hyper --n "$n" --port "$port" > "$work/loop.out" 2>&1 || {
      echo "the hyper client failed against $server-server (n=$n):" >&2; cat "$work/loop.out" >&2; exit 1; }
    wait "$server_pid"
    server_pid=
    if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$out" "$KEEP/"; fi
    awk '/^(summary|totals):/ { print $2; exit }' "$out"
  }
  declare -A per_request
  for server in courier hyper; do
    i1=$(server_instructions "$server" "$n1")
    i2=$(server_instructions "$server" "$n2")
    per_request[$server]=$(( (i2 - i1) / (n2 - n1) ))
    echo "  $server server: Ir($n1)=$i1 Ir($n2)=$i2" >&2
  done
  printf '\nservers (hyper client, keep-alive GETs, 13-byte reply)\n%-8s %14s %9s\n' server "Ir/request" "vs hyper"
  for server in courier hyper; do
    ratio=$(awk -v a="${per_request[$server]}" -v b="${per_request[hyper]}" 'BEGIN { printf "%.3fx", a / b }')
    printf '%-8s %14s %9s\n' "$server" "${per_request[$server]}" "$ratio"
    echo "RESULT scenario=callgrind_server server=$server unit=Ir/request median=${per_request[$server]} n1=$n1 n2=$n2"
  done
  exit 0
fi

# The raw server, its own process for at most an hour; its first line names the port.
"${pin_server[@]}" "$peers" server --port 0 --max-seconds 3600 > "$work/server.out" 2> "$work/server.err" &
server_pid=$!
port=$(wait_for_port "$work/server.out")
[ -n "$port" ] || { echo "the raw server did not start" >&2; cat "$work/server.err" >&2; exit 1; }

# Total instructions of one run (all threads), from callgrind's output file.
instructions() {
  local client=$1 n=$2 mode=$3 out="$work/callgrind.$1.$2.$3"
  timeout 600 "${pin_client[@]}" valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$peers" loop --client "$client" --n "$n" --port "$port" ${mode:+--$mode} > "$work/loop.out" 2> "$work/valgrind.err" || {
    echo "callgrind run failed for $client (n=$n):" >&2; cat "$work/valgrind.err" "$work/loop.out" >&2; exit 1; }
  grep -q "^LOOP client=$client" "$work/loop.out" || { echo "no LOOP line for $client" >&2; exit 1; }
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$out" "$KEEP/"; fi
  # "summary: N" (older valgrind) or "totals: N"; the first event is Ir.
  awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

# measure LABEL MODE: one table (MODE "" for text URLs, "parsed" for parsed ones).
measure() {
  local label=$1 mode=$2 scenario=callgrind${2:+_$2}
  declare -A per_request
  for client in "${clients[@]}"; do
    i1=$(instructions "$client" "$n1" "$mode")
    i2=$(instructions "$client" "$n2" "$mode")
    per_request[$client]=$(( (i2 - i1) / (n2 - n1) ))
    echo "  $client ($label): Ir($n1)=$i1 Ir($n2)=$i2" >&2
  done
  local hyper=${per_request[hyper]:-}
  printf '\n%s\n%-8s %14s %9s\n' "$label" client "Ir/request" "vs hyper"
  for client in "${clients[@]}"; do
    ratio=n/a
    [ -n "$hyper" ] && ratio=$(awk -v a="${per_request[$client]}" -v b="$hyper" 'BEGIN { printf "%.3fx", a / b }')
    printf '%-8s %14s %9s\n' "$client" "${per_request[$client]}" "$ratio"
  done
  for client in "${clients[@]}"; do
    ratio=
    [ -n "$hyper" ] && ratio=$(awk -v a="${per_request[$client]}" -v b="$hyper" 'BEGIN { printf " ratio_vs_hyper=%.3f", a / b }')
    echo "RESULT scenario=$scenario client=$client unit=Ir/request median=${per_request[$client]}$ratio n1=$n1 n2=$n2"
  done
}

measure "text URL (parsed on every request)" ""
measure "parsed URL (Url / Uri made once)" parsed
