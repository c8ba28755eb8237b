#!/usr/bin/env bash
# Server throughput under wrk: courier's bundled server, hyper 1's HTTP/1.1 server and
# nginx, each answering "Hello, World!" (13 bytes) on 127.0.0.1, each pinned to CPU 1 and
# single-threaded (current-thread tokio runtimes; nginx worker_processes 1), wrk pinned
# to CPU 0: `wrk -t1 -c64 -d10s`, each server once per round, ROUNDS rounds alternating
# servers (A B C D A B C D …), a 2 s warm-up per server first; medians reported.
#
#   scripts/bench_wrk.sh                          # 3 rounds x 4 servers x 10 s
#   ROUNDS=5 DURATION=5s CONNECTIONS=128 scripts/bench_wrk.sh
#
# Besides req/s it reports the server's CPU time (user + system, from /proc) per request:
# on this shared 2-core VM the req/s of a run swings by 2x with what else the host does,
# the CPU time per request much less.
#
# "courier" is the bundled server with keep-alive unlimited like the others (its request
# recorder, a test-kit feature, off); "courier-defaults" keeps courier's own default of
# 100 requests per connection, after which wrk reconnects. nginx gets
# keepalive_requests 1000000 for the same reason (its default is 1000).
# Installs wrk (and nginx) with apt-get if missing. Builds benches/peers into
# $CARGO_TARGET_DIR (default /tmp/tgt-peers).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/tgt-peers}
duration=${DURATION:-10s}
warmup=${WARMUP:-2s}
connections=${CONNECTIONS:-64}
rounds=${ROUNDS:-3}

need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release --manifest-path benches/peers/Cargo.toml
peers="$CARGO_TARGET_DIR/release/peers"

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

pin_server=() pin_client=()
if [ "$(nproc)" -ge 2 ]; then pin_server=(taskset -c 1) pin_client=(taskset -c 0); fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Waits for "listening on http://127.0.0.1:PORT" in $1 and prints PORT.
wait_port() {
  local port=
  for _ in $(seq 200); do
    port=$(sed -n 's#^listening on http://127.0.0.1:\([0-9]*\)$#\1#p' "$1" 2>/dev/null)
    [ -n "$port" ] && { echo "$port"; return 0; }
    sleep 0.05
  done
  return 1
}

# CPU time (user + system, clock ticks) of process $1 and its children (nginx's worker).
cpu_ticks() {
  local total=0 pid
  for pid in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
    # Fields 14 and 15 of /proc/PID/stat, counted after the ")" that ends the name.
    total=$(( total + $(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }' || echo 0) ))
  done
  echo "$total"
}

names=() ports=() server_pids=()

# Starts `peers $2…` as server $1 (pinned), for at most an hour.
start_peers_server() {
  local name=$1; shift
  "${pin_server[@]}" "$peers" "$@" --port 0 --max-seconds 3600 > "$work/$name.out" 2> "$work/$name.err" &
  local pid=$!
  pids+=("$pid")
  local port
  port=$(wait_port "$work/$name.out") || { echo "server $name did not start" >&2; cat "$work/$name.err" >&2; exit 1; }
  names+=("$name") ports+=("$port") server_pids+=("$pid")
}

start_peers_server courier courier-server --max-requests 1000000000
start_peers_server courier-defaults courier-server
start_peers_server hyper hyper-server

nginx_port=$(free_port)
mkdir -p "$work/nginx-tmp"
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  default_type text/plain;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx-tmp/body;
  proxy_temp_path $work/nginx-tmp/proxy;
  fastcgi_temp_path $work/nginx-tmp/fastcgi;
  uwsgi_temp_path $work/nginx-tmp/uwsgi;
  scgi_temp_path $work/nginx-tmp/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    location / { return 200 "Hello, World!"; }
  }
}
CONF
"${pin_server[@]}" "$nginx_bin" -c "$work/nginx.conf" -e "$work/nginx-error.log"
for _ in $(seq 100); do [ -s "$work/nginx.pid" ] && break; sleep 0.05; done
[ -s "$work/nginx.pid" ] || { echo "nginx did not start" >&2; cat "$work/nginx-error.log" >&2; exit 1; }
names+=(nginx) ports+=("$nginx_port") server_pids+=("$(cat "$work/nginx.pid")")

# Each answers the 13 bytes; then a warm-up.
for i in "${!names[@]}"; do
  body=$(curl -sf "http://127.0.0.1:${ports[$i]}/" || true)
  [ "$body" = "Hello, World!" ] || { echo "${names[$i]}: unexpected body: ${body:0:200}" >&2; exit 1; }
  timeout 60 "${pin_client[@]}" wrk -t1 -c"$connections" -d"$warmup" "http://127.0.0.1:${ports[$i]}/" > /dev/null
done

# One measured run of server $1: appends "req/s cpu-us-per-request" to $work/results.$name.
measure() {
  local i=$1 name=${names[$1]} before after
  before=$(cpu_ticks "${server_pids[$i]}")
  timeout 120 "${pin_client[@]}" wrk -t1 -c"$connections" -d"$duration" "http://127.0.0.1:${ports[$i]}/" > "$work/wrk.out"
  after=$(cpu_ticks "${server_pids[$i]}")
  if grep -q "Non-2xx\|Socket errors" "$work/wrk.out"; then
    echo "  ($name: errors:)" >&2; grep "Non-2xx\|Socket errors" "$work/wrk.out" >&2
  fi
  awk -v ticks=$(( after - before )) -v hz="$(getconf CLK_TCK)" '
    /requests in/ { n = $1 }
    /^Requests\/sec:/ { rate = $2 }
    END { printf "%s %.2f\n", rate, (n > 0 ? ticks / hz * 1e6 / n : 0) }' "$work/wrk.out" | tee -a "$work/results.$name"
}

for round in $(seq "$rounds"); do
  for i in "${!names[@]}"; do
    printf 'round %s %-17s %s\n' "$round" "${names[$i]}" "$(measure "$i")" >&2
  done
done

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }'; }
declare -A rate cpu
for name in "${names[@]}"; do
  rate[$name]=$(awk '{ print $1 }' "$work/results.$name" | median)
  cpu[$name]=$(awk '{ print $2 }' "$work/results.$name" | median)
done

echo
echo "wrk -t1 -c$connections -d$duration x $rounds rounds (medians), server on CPU 1, wrk on CPU 0;"
echo "cpu = the server's user+system time per request"
printf '%-17s %12s %9s %12s %9s\n' server "req/s" "vs hyper" "cpu us/req" "vs hyper"
for name in "${names[@]}"; do
  printf '%-17s %12.0f %8sx %12s %8sx\n' "$name" "${rate[$name]}" "$(ratio "${rate[$name]}" "${rate[hyper]}")" \
    "${cpu[$name]}" "$(ratio "${cpu[$name]}" "${cpu[hyper]}")"
done
for name in "${names[@]}"; do
  echo "RESULT scenario=wrk client=$name unit=req/s median=${rate[$name]} ratio_vs_hyper=$(ratio "${rate[$name]}" "${rate[hyper]}")" \
    "cpu_us_per_req=${cpu[$name]} cpu_ratio_vs_hyper=$(ratio "${cpu[$name]}" "${cpu[hyper]}") rounds=$rounds"
done
