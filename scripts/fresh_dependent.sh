#!/usr/bin/env bash
# What a new user gets: the newest compatible dependencies, not our lockfile.
#
# 1. The project is copied to a scratch directory, `cargo update` takes every dependency
#    to its newest compatible version, and `cargo clippy --all-targets -D warnings` must
#    pass there too (e.g. no call rustls deprecated since our lockfile was made).
# 2. A new crate depending on that copy (path dependency, default features) builds
#    examples/day_one.rs as its main.rs (GET + JSON + `?`, a deadline, a retry, default
#    headers: the README's side-by-side), clippy-clean, and runs it.
# 3. `cargo package --list`: the package ships src, README, licences and examples only.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scratch=$(mktemp -d "${TMPDIR:-/tmp}/courier-fresh.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export CARGO_TARGET_DIR="$scratch/target"

git ls-files -z | (cd "$root" && xargs -0 tar -cf -) | (mkdir -p "$scratch/courier" && tar -xf - -C "$scratch/courier")
cd "$scratch/courier"
cargo update 2>&1 | grep -E "Updating|Adding|Removing|Locking" || true
cargo clippy --all-targets -- -D warnings

mkdir -p "$scratch/dependent/src"
cp "$root/examples/day_one.rs" "$scratch/dependent/src/main.rs"
cat > "$scratch/dependent/Cargo.toml" <<'TOML'
[package]
name = "dependent"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
courier-http = { path = "../courier" }
serde = { version = "1", features = ["derive"] }
tokio = { version = "1", features = ["macros", "rt"] }
TOML
cd "$scratch/dependent"
cargo update 2>&1 | grep -E "Locking" || true
cargo clippy -- -D warnings
cargo build -q
timeout 60 cargo run -q

cd "$root"
listed=$(cargo package --list --allow-dirty 2>/dev/null)
unexpected=$(printf '%s\n' "$listed" | grep -vE '^(src/|examples/|README\.md$|LICENSE-(MIT|APACHE)$|Cargo\.toml(\.orig)?$|Cargo\.lock$|\.cargo_vcs_info\.json$)' || true)
if [ -n "$unexpected" ]; then
  printf 'the package would ship more than src, README, licences and examples:\n%s\n' "$unexpected"
  exit 1
fi
for needed in LICENSE-MIT LICENSE-APACHE README.md src/lib.rs; do
  printf '%s\n' "$listed" | grep -qx "$needed" || { echo "the package lacks $needed"; exit 1; }
done
echo "fresh dependent: clippy-clean with the newest dependencies, day_one runs, package contents as intended"
