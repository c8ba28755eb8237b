#!/usr/bin/env bash
# Server throughput under wrk: courier's bundled server, hyper 1's HTTP/1.1 server and
# nginx, each answering "Hello, World!" (13 bytes) on 127.0.0.1, each pinned to CPU 1 and
# single-threaded (current-thread tokio runtimes; nginx worker_processes 1), wrk pinned
# to CPU 0: `wrk -t1 -c64 -d10s` after a 2 s warm-up.
#
#   scripts/bench_wrk.sh                 # all four servers, 10 s each
#   DURATION=30s CONNECTIONS=128 scripts/bench_wrk.sh
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
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
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
    port=$(sed -n 's#^listening on http://127.0.0.1:\([0-9]*\)$#\1#p' "$1")
    [ -n "$port" ] && { echo "$port"; return 0; }
    sleep 0.05
  done
  return 1
}

# Runs wrk against 127.0.0.1:$2 (warm-up, then the measured run); prints req/s.
measure() {
  local name=$1 port=$2
  if command -v curl >/dev/null; then
    curl -sf "http://127.0.0.1:$port/" > "$work/body" 2>/dev/null || true
    if [ "$(cat "$work/body")" != "Hello, World!" ]; then
      echo "$name: unexpected body: $(head -c 200 "$work/body")" >&2; return 1
    fi
  fi
  timeout 60 "${pin_client[@]}" wrk -t1 -c"$connections" -d"$warmup" "http://127.0.0.1:$port/" > /dev/null
  timeout 120 "${pin_client[@]}" wrk -t1 -c"$connections" -d"$duration" "http://127.0.0.1:$port/" > "$work/wrk.$name"
  sed 's/^/    /' "$work/wrk.$name" >&2
  if grep -q "Non-2xx\|Socket errors" "$work/wrk.$name"; then echo "  ($name: see errors above)" >&2; fi
  awk '/^Requests\/sec:/ { print $2 }' "$work/wrk.$name"
}

start_peers_server() {
  "${pin_server[@]}" "$peers" "$@" --port 0 --max-seconds 600 > "$work/server.out" 2> "$work/server.err" &
  server_pid=$!
  wait_port "$work/server.out" > /dev/null || { echo "server $1 did not start" >&2; cat "$work/server.err" >&2; exit 1; }
}

stop_peers_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

names=() rates=()
echo "== courier" >&2
start_peers_server courier-server --max-requests 1000000000
port=$(wait_port "$work/server.out")
names+=(courier) rates+=("$(measure courier "$port")")
stop_peers_server

echo "== courier-defaults" >&2
start_peers_server courier-server
port=$(wait_port "$work/server.out")
names+=(courier-defaults) rates+=("$(measure courier-defaults "$port")")
stop_peers_server

echo "== hyper" >&2
start_peers_server hyper-server
port=$(wait_port "$work/server.out")
names+=(hyper) rates+=("$(measure hyper "$port")")
stop_peers_server

echo "== nginx" >&2
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
names+=(nginx) rates+=("$(measure nginx "$nginx_port")")
kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
rm -f "$work/nginx.pid"

hyper_rate=
for i in "${!names[@]}"; do [ "${names[$i]}" = hyper ] && hyper_rate=${rates[$i]}; done
echo
echo "wrk -t1 -c$connections -d$duration, server on CPU 1, wrk on CPU 0"
printf '%-17s %12s %9s\n' server "req/s" "vs hyper"
for i in "${!names[@]}"; do
  printf '%-17s %12s %9s\n' "${names[$i]}" "${rates[$i]}" \
    "$(awk -v a="${rates[$i]}" -v b="$hyper_rate" 'BEGIN { if (b > 0) printf "%.3fx", a / b; else print "n/a" }')"
done
for i in "${!names[@]}"; do
  echo "RESULT scenario=wrk client=${names[$i]} unit=req/s median=${rates[$i]}" \
    "ratio_vs_hyper=$(awk -v a="${rates[$i]}" -v b="$hyper_rate" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }')"
done
