#!/usr/bin/env bash
# Interop run: starts real third-party servers on loopback (nginx, Python's http.server),
# then runs the ignored interop tests against them; then starts our own server (the httpd
# example) and drives it with third-party clients (curl, Python requests and h11) through
# scripts/interop_server.py. Called by .ci/run; runnable by hand once nginx is installed
# (apt-get install nginx-light) and the Python clients too (python3 -m pip install requests h11).
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The document root: a small text file, a 1 MiB file with a known pattern (byte i is
# i % 251, which the tests recompute), and a directory with an index.
mkdir -p "$work/www/dir" "$work/tmp"
printf 'hello from nginx\n' > "$work/www/hello.txt"
printf '<p>index</p>\n' > "$work/www/dir/index.html"
python3 -c 'import sys; sys.stdout.buffer.write(bytes(i % 251 for i in range(1 << 20)))' > "$work/www/big.bin"

chmod -R a+rX "$work"  # nginx workers run unprivileged
nginx_port=$(free_port)
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 128; }
http {
  access_log off;
  client_body_temp_path $work/tmp/body;
  proxy_temp_path $work/tmp/proxy;
  fastcgi_temp_path $work/tmp/fastcgi;
  uwsgi_temp_path $work/tmp/uwsgi;
  scgi_temp_path $work/tmp/scgi;
  types { text/plain txt; text/html html; application/octet-stream bin; }
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/www;
    location = /redirect { return 301 /hello.txt; }
    location = /redirect-chain { return 302 /redirect; }
    location = /see-other { return 303 /hello.txt; }
  }
}
CONF
nginx -c "$work/nginx.conf" -p "$work"

py_port=$(free_port)
(cd "$work/www" && exec python3 -m http.server "$py_port" --bind 127.0.0.1 >"$work/py.log" 2>&1) &
pids+=($!)

# Wait until both answer (bounded: 50 tries, 0.1 s apart).
for port in "$nginx_port" "$py_port"; do
  for _ in $(seq 50); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/hello.txt"; then break; fi
    sleep 0.1
  done
done

export COURIER_INTEROP_NGINX="http://127.0.0.1:$nginx_port"
export COURIER_INTEROP_PYTHON="http://127.0.0.1:$py_port"
echo "interop: nginx on $COURIER_INTEROP_NGINX, python http.server on $COURIER_INTEROP_PYTHON"
status=0
cargo test --test interop -- --ignored "$@" || status=$?

# Our server against clients nobody here wrote: the httpd example on a free port (it prints
# `listening on URL` first), then curl, requests and h11 checks against it.
cargo build --example httpd
target/debug/examples/httpd --host 127.0.0.1 --port 0 >"$work/httpd.out" 2>"$work/httpd.err" &
pids+=($!)
httpd_url=
for _ in $(seq 100); do
  httpd_url=$(sed -n 's/^listening on //p' "$work/httpd.out")
  [ -n "$httpd_url" ] && break
  sleep 0.1
done
if [ -z "$httpd_url" ]; then
  echo "interop: the httpd example did not start:" >&2
  cat "$work/httpd.err" >&2
  exit 1
fi
echo "interop: courier's httpd example on $httpd_url"
python3 scripts/interop_server.py "$httpd_url" || status=$?
exit "$status"
