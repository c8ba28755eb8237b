#!/usr/bin/env bash
# Side-by-side client benchmarks: courier against reqwest and hyper-util (the issue's
# table: sequential, 4x4, 64 tasks on 4 connections, 256 MiB download, peak RSS for
# 1,000 GETs over 250 hosts). Builds the standalone crate benches/peers in release and
# runs `peers compare`, passing every argument through:
#
#   scripts/bench_peers.sh                 # the full run (7 rounds x 20k GETs, 256 MiB)
#   scripts/bench_peers.sh --quick         # a smoke run (3 rounds x 2k GETs, 64 MiB)
#   scripts/bench_peers.sh --scenarios seq,download --rounds 11
#
# Client on CPU 0, the raw server on CPU 1 (two cores needed for the pinning; with one
# the run still works, unpinned). One `RESULT scenario=… client=…` line per client and
# scenario for machines. Builds into $CARGO_TARGET_DIR (default /tmp/tgt-peers, apart
# from the main crate's target/).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/tgt-peers}
cargo build --release --manifest-path benches/peers/Cargo.toml
exec "$CARGO_TARGET_DIR/release/peers" compare "$@"
