#!/usr/bin/env bash
# Autobahn|Testsuite run: the suite's fuzzingclient (Python 2.7) against our WebSocket
# echo server (the ws_echo example) on loopback, then a per-group summary of the report.
#
#   scripts/autobahn.sh
#
# Steps: install the suite (pinned in scripts/autobahn/requirements.txt) with pyenv's
# Python 2.7 into a cache directory unless it is there already; build and start the echo
# server, which prints `listening on ws://HOST:PORT` as its first stdout line; run the
# cases (1.* to 10.*; 12.* and 13.* are permessage-deflate, which we don't do); print
# the summary (scripts/autobahn/summary.py) and the FAILED cases.
#
# Exit status: 0 every case passed (no `behavior` or `behaviorClose` FAILED); 1 some case
# FAILED or has no result, or the server died during the run; 2 no results at all or the
# run could not be set up (install, build, server start, timeout).
#
# Environment (all optional):
#   AUTOBAHN_DIR      install dir of the suite (default ~/.cache/courier-autobahn); made
#                     when missing or when requirements.txt changed
#   AUTOBAHN_PYTHON   the Python 2.7 interpreter (default: pyenv's 2.7.x)
#   AUTOBAHN_OUTDIR   report dir (default $CARGO_TARGET_DIR or target, then /autobahn);
#                     also gets spec.json, wstest.log, server.out and server.err
#   AUTOBAHN_CASES    comma-separated case patterns (default 1.*,2.*,...,10.*)
#   AUTOBAHN_EXCLUDE  comma-separated patterns left out (default 12.*,13.*)
#   AUTOBAHN_TIMEOUT  seconds for the whole wstest run (default 1200)
#   AUTOBAHN_URL      test a server that is already running at this ws:// URL: no build,
#                     no server start
#   WS_ECHO_CMD       command line (run by bash) that starts the server instead of the
#                     ws_echo example; skips the cargo build. Its first stdout line must be
#                     `listening on ws://HOST:PORT`.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
here=$repo/scripts/autobahn

agent=courier
cases=${AUTOBAHN_CASES:-1.*,2.*,3.*,4.*,5.*,6.*,7.*,8.*,9.*,10.*}
exclude=${AUTOBAHN_EXCLUDE:-12.*,13.*}
run_timeout=${AUTOBAHN_TIMEOUT:-1200}
install_dir=${AUTOBAHN_DIR:-$HOME/.cache/courier-autobahn}
start_timeout=60

say() { printf 'autobahn: %s\n' "$*"; }
die() { printf 'autobahn: error: %s\n' "$*" >&2; exit 2; }
t0=$SECONDS
elapsed() { echo "$((SECONDS - t0))s"; }

# --- Python 2.7 and the suite ---------------------------------------------------------

find_python2() {
  if [ -n "${AUTOBAHN_PYTHON:-}" ]; then echo "$AUTOBAHN_PYTHON"; return 0; fi
  local root cand
  root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
  for cand in "$root"/versions/2.7*/bin/python2.7 /usr/local/bin/python2.7 /usr/bin/python2.7; do
    if [ -x "$cand" ] && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (2, 7))' 2>/dev/null; then
      echo "$cand"
      return 0
    fi
  done
  return 1
}
py2=$(find_python2) || die "no Python 2.7 found (pyenv install 2.7.18, or set AUTOBAHN_PYTHON)"
# python3 parses JSON for the script; the suite's Python 2.7 does if there is none.
pyj=$(command -v python3 || echo "$py2")

# wstest ARGS...: the suite's entry point (console script autobahntestsuite.wstest:run),
# with the install dir added by site.addsitedir so that its .pth files (the zope namespace
# package) are processed; -E -s keep the caller's PYTHONPATH and user site out.
wstest_py='import site, sys
site.addsitedir(sys.argv[1])
from autobahntestsuite.wstest import run
sys.argv = ["wstest"] + sys.argv[2:]
run()'
wstest() { "$py2" -E -s -c "$wstest_py" "$install_dir" "$@"; }

stamp="$( { cat "$here/requirements.txt"; "$py2" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
install_suite() {
  mkdir -p "$(dirname "$install_dir")"
  exec 9>"$install_dir.lock"
  flock -w 1200 9 || die "could not lock $install_dir.lock"
  if [ "$(cat "$install_dir/.courier-stamp" 2>/dev/null)" = "$stamp" ]; then return 0; fi
  local t=$SECONDS tmp="$install_dir.tmp.$$"
  say "installing Autobahn|Testsuite into $install_dir with $py2"
  if ! "$py2" -m pip --version >/dev/null 2>&1; then
    say "no pip for $py2: python -m ensurepip"
    "$py2" -m ensurepip >/dev/null || die "ensurepip failed for $py2"
  fi
  rm -rf "$tmp"
  if ! timeout 900 "$py2" -m pip install -q --disable-pip-version-check --no-warn-script-location \
    --target "$tmp" -r "$here/requirements.txt" >"$tmp.log" 2>&1; then
    grep -v DEPRECATION "$tmp.log" | tail -40 >&2
    rm -rf "$tmp" "$tmp.log"
    die "pip install failed"
  fi
  rm -f "$tmp.log"
  local saved=$install_dir
  install_dir=$tmp
  wstest -a >/dev/null 2>&1 || { rm -rf "$tmp"; die "the installed wstest does not run"; }
  install_dir=$saved
  echo "$stamp" >"$tmp/.courier-stamp"
  rm -rf "$install_dir"
  mv "$tmp" "$install_dir"
  say "installed in $((SECONDS - t))s"
}
install_suite
exec 9>&-
say "$(wstest -a 2>/dev/null | tr '\n' ' ')($py2)"

# --- report dir -----------------------------------------------------------------------

outdir=${AUTOBAHN_OUTDIR:-${CARGO_TARGET_DIR:-target}/autobahn}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
rm -f "$outdir"/index.json "$outdir"/index.html "$outdir"/*_case_*.json "$outdir"/*_case_*.html \
  "$outdir"/wstest.log "$outdir"/server.out "$outdir"/server.err "$outdir"/server.exit

# --- the server -----------------------------------------------------------------------

server_pid=""
wstest_pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  if [ -n "$wstest_pid" ]; then kill "$wstest_pid" 2>/dev/null || true; fi
  if [ -n "$server_pid" ]; then
    # The server runs in its own session and process group (setsid): end the group.
    kill -TERM -- "-$server_pid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 -- "-$server_pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -KILL -- "-$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -n "${AUTOBAHN_URL:-}" ]; then
  url=$AUTOBAHN_URL
  say "testing the server already running at $url"
else
  if [ -z "${WS_ECHO_CMD:-}" ]; then
    say "cargo build --release --example ws_echo"
    t=$SECONDS
    cargo build --release --example ws_echo --message-format=json-render-diagnostics \
      >"$outdir/build.json" || die "cargo build failed"
    exe=$("$pyj" -c 'import json, sys
for line in open(sys.argv[1]):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "ws_echo" and m.get("executable"):
        print(m["executable"])' "$outdir/build.json" | tail -n1)
    [ -n "$exe" ] || exe=${CARGO_TARGET_DIR:-$repo/target}/release/examples/ws_echo
    [ -x "$exe" ] || die "no ws_echo binary at $exe"
    say "built in $((SECONDS - t))s: $exe"
    WS_ECHO_CMD="$(printf '%q' "$exe") --host 127.0.0.1 --port 0"
  fi
  say "starting: $WS_ECHO_CMD"
  # bash writes the server's exit status to server.exit, so a server that dies is seen
  # even while it is an unreaped child.
  : >"$outdir/server.out"
  # shellcheck disable=SC2016 # expanded by the inner bash
  AUTOBAHN_SERVER_CMD=$WS_ECHO_CMD AUTOBAHN_SERVER_EXIT=$outdir/server.exit \
    setsid bash -c '(eval "$AUTOBAHN_SERVER_CMD"); echo $? >"$AUTOBAHN_SERVER_EXIT"' \
    >"$outdir/server.out" 2>"$outdir/server.err" </dev/null &
  server_pid=$!
  url=""
  deadline=$((SECONDS + start_timeout))
  while [ -z "$url" ]; do
    if [ "$(wc -l <"$outdir/server.out")" -ge 1 ]; then
      first=$(head -n1 "$outdir/server.out")
      url=$(printf '%s\n' "$first" | sed -n 's/^listening on \(wss\{0,1\}:\/\/[^ ]*\).*$/\1/p')
      [ -n "$url" ] || die "the server's first line is not 'listening on ws://HOST:PORT': $first"
      break
    fi
    if [ -f "$outdir/server.exit" ]; then
      tail -20 "$outdir/server.err" >&2
      die "the server exited with status $(cat "$outdir/server.exit") before it was listening"
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "the server printed no 'listening on' line in ${start_timeout}s"
    sleep 0.2
  done
  say "server (pid $server_pid) listening on $url"
fi

# --- the run --------------------------------------------------------------------------

"$pyj" -c 'import json, sys
outdir, agent, url, cases, exclude = sys.argv[1:6]
split = lambda s: [p.strip() for p in s.split(",") if p.strip()]
spec = {
    "outdir": outdir,
    "servers": [{"agent": agent, "url": url}],
    "cases": split(cases),
    "exclude-cases": split(exclude),
    "exclude-agent-cases": {},
}
json.dump(spec, open(outdir + "/spec.json", "w"), indent=2)' "$outdir" "$agent" "$url" "$cases" "$exclude"

say "wstest -m fuzzingclient (cases $cases; excluded $exclude; timeout ${run_timeout}s; log $outdir/wstest.log)"
t=$SECONDS
(cd "$outdir" && exec timeout -k 10 "$run_timeout" "$py2" -u -E -s -c "$wstest_py" "$install_dir" \
  -m fuzzingclient -s "$outdir/spec.json") >"$outdir/wstest.log" 2>&1 &
wstest_pid=$!
server_died=""
last_report=$SECONDS
while kill -0 "$wstest_pid" 2>/dev/null; do
  if [ -n "$server_pid" ] && [ -f "$outdir/server.exit" ]; then
    server_died=1
    say "the server died (status $(cat "$outdir/server.exit")) during the run; stopping wstest"
    kill "$wstest_pid" 2>/dev/null || true
    break
  fi
  if [ $((SECONDS - last_report)) -ge 30 ]; then
    last_report=$SECONDS
    n=$(grep -c '^Running test case ID' "$outdir/wstest.log" || true)
    last=$(grep '^Running test case ID' "$outdir/wstest.log" | tail -n1 | awk '{print $5}')
    say "... $((SECONDS - t))s: $n cases started${last:+, now $last}"
  fi
  sleep 1
done
wstest_status=0
wait "$wstest_pid" || wstest_status=$?
wstest_pid=""
run_time=$((SECONDS - t))
if [ -n "$server_pid" ] && [ -f "$outdir/server.exit" ]; then server_died=1; fi
say "wstest finished in ${run_time}s (exit status $wstest_status)"

status=0
if [ "$wstest_status" = 124 ] || [ "$wstest_status" = 137 ]; then
  say "wstest timed out after ${run_timeout}s"
  status=2
elif [ "$wstest_status" != 0 ] && [ -z "$server_died" ]; then
  say "wstest failed (exit status $wstest_status)"
  status=2
fi
if grep -q '^Connection to .* failed' "$outdir/wstest.log"; then
  say "$(grep '^Connection to .* failed' "$outdir/wstest.log" | head -n1)"
  [ "$status" != 0 ] || status=1
fi
if [ -n "$server_died" ]; then
  status=1
  say "the server died during the run (exit status $(cat "$outdir/server.exit")); its stderr ends:"
  tail -20 "$outdir/server.err" | sed 's/^/    /'
fi
if [ "$status" != 0 ]; then
  last=$(grep '^Running test case ID' "$outdir/wstest.log" | tail -n1 | awk '{print $5}')
  say "cases started: $(grep -c '^Running test case ID' "$outdir/wstest.log" || true)${last:+, the last $last}"
  say "wstest.log ends:"
  grep -v -e '^Running test case ID' -e '^Cases = ' "$outdir/wstest.log" | tail -20 | cut -c1-300 | sed 's/^/    /'
fi

echo
summary_status=0
"$pyj" "$here/summary.py" "$outdir" "$agent" "$outdir/wstest.log" || summary_status=$?
if [ "$summary_status" = 2 ]; then status=2; elif [ "$summary_status" != 0 ] && [ "$status" = 0 ]; then status=1; fi

say "total $(elapsed) (wstest ${run_time}s); $([ "$status" = 0 ] && echo PASS || echo "FAIL (exit $status)")"
exit "$status"
