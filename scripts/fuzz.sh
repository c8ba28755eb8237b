#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ (libFuzzer, nightly) for a fixed time each.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [targets...]
#
# Default: 60 s per target, every target. Seeds in fuzz/seeds/<target>/ are copied into
# fuzz/corpus/<target>/ (ignored by git), which libFuzzer grows between runs. Crashes,
# timeouts and OOMs land in fuzz/artifacts/<target>/; the summary prints one line per
# target and the script exits 1 if any target failed.
#
# Environment:
#   FUZZ_SANITIZER  address (default) or none: `none` builds without ASan (faster runs)
#   FUZZ_JOBS       targets run side by side (default 1)
#   FUZZ_ARGS       extra libFuzzer flags for every target
set -uo pipefail

cd "$(dirname "$0")/../fuzz" || exit 2

seconds=${1:-60}
[[ $# -gt 0 ]] && shift
all_targets=(response_head request_head chunked_body date set_cookie client_response server_request multipart ws_handshake)
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${all_targets[@]}")
sanitizer=${FUZZ_SANITIZER:-address}
jobs=${FUZZ_JOBS:-1}

# Pure parsers: any allocation still live after an input is a leak. The loopback targets
# keep a runtime, sockets and tasks alive across inputs on purpose, so no leak check there.
leak_check() {
    case "$1" in
        response_head | request_head | chunked_body | date) echo 1 ;;
        *) echo 0 ;;
    esac
}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked || exit 2
fi

echo "== building (sanitizer: $sanitizer)"
build_start=$(date +%s)
# cargo fuzz build takes one target or all; build all when several are asked for.
build_target=()
[[ ${#targets[@]} -eq 1 ]] && build_target=("${targets[0]}")
cargo +nightly fuzz build -O --sanitizer "$sanitizer" "${build_target[@]}" 2>&1 | tail -n 3
if [[ ${PIPESTATUS[0]} -ne 0 ]]; then
    echo "build failed" >&2
    exit 2
fi
echo "== build took $(($(date +%s) - build_start)) s"

triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
bin_dir=target/$triple/release
log_dir=target/fuzz-logs
mkdir -p "$log_dir"

run_target() {
    local target=$1
    mkdir -p "corpus/$target" "artifacts/$target"
    if [[ -d "seeds/$target" ]]; then
        cp -n seeds/"$target"/* "corpus/$target/" 2>/dev/null || true
    fi
    # shellcheck disable=SC2086
    "$bin_dir/$target" "corpus/$target" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -detect_leaks="$(leak_check "$target")" \
        -artifact_prefix="artifacts/$target/" ${FUZZ_ARGS:-} \
        >"$log_dir/$target.log" 2>&1
    echo $? >"$log_dir/$target.rc"
}

echo "== fuzzing ${#targets[@]} target(s), $seconds s each, $jobs at a time"
run_start=$(date +%s)
running=0
for target in "${targets[@]}"; do
    rm -f "$log_dir/$target.rc"
    run_target "$target" &
    running=$((running + 1))
    if [[ $running -ge $jobs ]]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

failed=0
printf '\n%-16s %12s  %s\n' target executions result
for target in "${targets[@]}"; do
    log=$log_dir/$target.log
    rc=$(cat "$log_dir/$target.rc" 2>/dev/null || echo '?')
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    artifact=$(grep -o "Test unit written to [^ ]*" "$log" | tail -n 1 | sed 's/Test unit written to //')
    if [[ $rc == 0 ]]; then
        result=ok
    else
        failed=1
        result="CRASH (exit $rc) ${artifact:-no artifact} log: fuzz/$log"
    fi
    printf '%-16s %12s  %s\n' "$target" "${execs:-?}" "$result"
done
echo "== fuzzing took $(($(date +%s) - run_start)) s"
exit $failed
