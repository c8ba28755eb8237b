#!/usr/bin/env bash
# Interop run: starts real third-party servers on loopback (nginx, Python's http.server)
# and proxies in front of nginx (tinyproxy, dante, OpenSSH's `ssh -D` against a private
# sshd), then runs the ignored interop tests against them; then starts our own server (the
# httpd example) and drives it with third-party clients (curl, Python requests and h11)
# through scripts/interop_server.py. Called by .ci/run; runnable by hand once the peers are
# installed (apt-get install nginx-light tinyproxy dante-server openssh-server
# openssh-client) and the Python clients too (python3 -m pip install requests h11).
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
# Where cargo puts the example binaries this script runs.
target_dir=${CARGO_TARGET_DIR:-target}
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

# TLS: a CA and a leaf for localhost and 127.0.0.1 signed by it, made now with the openssl
# CLI (EC P-256, valid two days); nginx serves the leaf, the tests trust the CA's PEM file.
mkdir -p "$work/tls"
(
  cd "$work/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=courier interop CA" -keyout ca.key -out ca.pem \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=localhost" -keyout leaf.key -out leaf.csr
  printf '%s\n' 'subjectAltName=DNS:localhost,IP:127.0.0.1' 'basicConstraints=critical,CA:FALSE' \
    'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth' > leaf.ext
  openssl x509 -req -days 2 -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -extfile leaf.ext -out leaf.pem
) >"$work/openssl.log" 2>&1 || { echo "interop: openssl failed:" >&2; cat "$work/openssl.log" >&2; exit 1; }

chmod -R a+rX "$work"  # nginx workers run unprivileged
nginx_port=$(free_port)
nginx_tls_port=$(free_port)
while [ "$nginx_tls_port" = "$nginx_port" ]; do nginx_tls_port=$(free_port); done
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
  server {
    listen 127.0.0.1:$nginx_tls_port ssl;
    ssl_certificate $work/tls/leaf.pem;
    ssl_certificate_key $work/tls/leaf.key;
    root $work/www;
    location = /redirect { return 301 /hello.txt; }
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
for _ in $(seq 50); do
  if curl -s -o /dev/null --cacert "$work/tls/ca.pem" "https://localhost:$nginx_tls_port/hello.txt"; then break; fi
  sleep 0.1
done

# Proxies in front of nginx: tinyproxy (HTTP: absolute-form, and CONNECT to nginx's TLS
# port only) and dante (SOCKS 4 and 5, no authentication, from and to 127.0.0.1 only; dante
# has no SOCKS4a). Both run in the foreground as children of this script, logging to files.
command -v tinyproxy >/dev/null || { echo "interop: tinyproxy is missing (apt-get install tinyproxy)" >&2; exit 1; }
command -v danted >/dev/null || { echo "interop: danted is missing (apt-get install dante-server)" >&2; exit 1; }
tinyproxy_port=$(free_port)
cat > "$work/tinyproxy.conf" <<CONF
Port $tinyproxy_port
Listen 127.0.0.1
Timeout 30
MaxClients 32
Allow 127.0.0.1
ConnectPort $nginx_tls_port
PidFile "$work/tinyproxy.pid"
LogFile "$work/tinyproxy.log"
LogLevel Info
CONF
tinyproxy -d -c "$work/tinyproxy.conf" >"$work/tinyproxy.out" 2>&1 &
pids+=($!)

dante_port=$(free_port)
{
  echo "logoutput: $work/danted.log"
  echo "internal: 127.0.0.1 port = $dante_port"
  echo "external: 127.0.0.1"
  echo "clientmethod: none"
  echo "socksmethod: none"
  if [ "$(id -u)" = 0 ]; then
    echo "user.privileged: root"
    echo "user.unprivileged: nobody"
  fi
  echo "client pass { from: 127.0.0.1/32 to: 0.0.0.0/0 }"
  echo "socks pass { from: 127.0.0.1/32 to: 127.0.0.1/32 command: connect }"
} > "$work/danted.conf"
danted -f "$work/danted.conf" -p "$work/danted.pid" >"$work/danted.out" 2>&1 &
pids+=($!)

proxy_ready() {
  for _ in $(seq 50); do
    if curl -s -o /dev/null --max-time 2 -x "$1" "http://127.0.0.1:$nginx_port/hello.txt"; then return 0; fi
    sleep 0.1
  done
  echo "interop: $2 did not start:" >&2
  cat "$work/$2".* >&2 || true
  exit 1
}
proxy_ready "http://127.0.0.1:$tinyproxy_port" tinyproxy
proxy_ready "socks5://127.0.0.1:$dante_port" danted

# SOCKS4a from a real implementation (dante has none): OpenSSH's dynamic forwarding, `ssh -D`,
# against a private sshd on loopback. Everything lives in $work: host and client keys,
# authorized_keys, the config, the pid file and the logs. sshd wants an absolute path and,
# as root, its privilege-separation directory; `ssh -D` listens once it has logged in, and
# ssh (not courier) resolves the host names it is given (4a, 5h).
[ -x /usr/sbin/sshd ] || { echo "interop: /usr/sbin/sshd is missing (apt-get install openssh-server)" >&2; exit 1; }
command -v ssh >/dev/null || { echo "interop: ssh is missing (apt-get install openssh-client)" >&2; exit 1; }
if [ "$(id -u)" = 0 ]; then mkdir -p /run/sshd; fi
ssh-keygen -q -t ed25519 -N '' -C 'courier interop host' -f "$work/ssh_host_key"
ssh-keygen -q -t ed25519 -N '' -C 'courier interop client' -f "$work/ssh_client_key"
cp "$work/ssh_client_key.pub" "$work/authorized_keys"
used_ports=" $nginx_port $nginx_tls_port $py_port $tinyproxy_port $dante_port "
other_free_port() {
  local port
  port=$(free_port)
  while [[ "$used_ports" == *" $port "* ]]; do port=$(free_port); done
  used_ports+="$port "
  echo "$port"
}
sshd_port=$(other_free_port)
ssh_socks_port=$(other_free_port)
cat > "$work/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $sshd_port
HostKey $work/ssh_host_key
PidFile $work/sshd.pid
AuthorizedKeysFile $work/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
StrictModes no
AllowTcpForwarding yes
AllowAgentForwarding no
X11Forwarding no
PermitTTY no
LogLevel VERBOSE
CONF
/usr/sbin/sshd -t -f "$work/sshd_config" >"$work/sshd.log" 2>&1 ||
  { echo "interop: sshd rejected its config:" >&2; cat "$work/sshd.log" >&2; exit 1; }
/usr/sbin/sshd -f "$work/sshd_config" -D -e >>"$work/sshd.log" 2>&1 &
sshd_pid=$!
pids+=("$sshd_pid")
# sshd says when it listens (no probe connections to clutter its log).
for _ in $(seq 50); do
  grep -q "^Server listening on 127.0.0.1 port $sshd_port" "$work/sshd.log" && break
  kill -0 "$sshd_pid" 2>/dev/null || break
  sleep 0.1
done
if ! kill -0 "$sshd_pid" 2>/dev/null || ! grep -q "^Server listening on 127.0.0.1 port $sshd_port" "$work/sshd.log"; then
  echo "interop: sshd did not start:" >&2
  cat "$work/sshd.log" >&2
  exit 1
fi
ssh -N -F /dev/null -D "127.0.0.1:$ssh_socks_port" -p "$sshd_port" -i "$work/ssh_client_key" \
  -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
  -o BatchMode=yes -o ExitOnForwardFailure=yes -o ConnectTimeout=5 -o LogLevel=ERROR \
  "$(id -un)@127.0.0.1" >"$work/ssh.log" 2>&1 </dev/null &
ssh_pid=$!
pids+=("$ssh_pid")
# Ready once a SOCKS4a request by name gets nginx's file back through ssh and sshd.
ssh_ready=
for _ in $(seq 50); do
  if curl -s -o /dev/null --max-time 2 -x "socks4a://127.0.0.1:$ssh_socks_port" \
    "http://localhost:$nginx_port/hello.txt"; then
    ssh_ready=1
    break
  fi
  kill -0 "$ssh_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$ssh_ready" ]; then
  echo "interop: ssh -D did not start:" >&2
  cat "$work/ssh.log" >&2
  echo "interop: sshd's log:" >&2
  cat "$work/sshd.log" >&2
  exit 1
fi

export COURIER_INTEROP_NGINX="http://127.0.0.1:$nginx_port"
export COURIER_INTEROP_PYTHON="http://127.0.0.1:$py_port"
export COURIER_INTEROP_NGINX_TLS="https://localhost:$nginx_tls_port"
export COURIER_INTEROP_CA="$work/tls/ca.pem"
export COURIER_INTEROP_TINYPROXY="http://127.0.0.1:$tinyproxy_port"
export COURIER_INTEROP_DANTE="socks5://127.0.0.1:$dante_port"
export COURIER_INTEROP_SSH_SOCKS="127.0.0.1:$ssh_socks_port"
echo "interop: nginx on $COURIER_INTEROP_NGINX and $COURIER_INTEROP_NGINX_TLS, python http.server on $COURIER_INTEROP_PYTHON"
echo "interop: tinyproxy on $COURIER_INTEROP_TINYPROXY, dante on $COURIER_INTEROP_DANTE"
echo "interop: ssh -D (SOCKS4a/5h) on $COURIER_INTEROP_SSH_SOCKS through sshd on 127.0.0.1:$sshd_port"
# The socks4a example, run by the ssh tests (`cargo test --test interop` builds no examples).
cargo build --example socks4a
status=0
cargo test --test interop -- --ignored "$@" || status=$?

# Our server against clients nobody here wrote: the httpd example on a free port (it prints
# `listening on URL` first), then curl, requests and h11 checks against it.
cargo build --example httpd
"$target_dir/debug/examples/httpd" --host 127.0.0.1 --port 0 >"$work/httpd.out" 2>"$work/httpd.err" &
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

# Our WebSocket server against Python's `websockets` and hand-built frames: the ws_echo
# example in both modes (establish on raw sockets, and upgrade from a server route).
cargo build --example ws_echo
python3 scripts/interop_ws.py "$target_dir/debug/examples/ws_echo" || status=$?
exit "$status"
