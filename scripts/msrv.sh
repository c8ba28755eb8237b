#!/usr/bin/env bash
# Checks that Cargo.toml's rust-version is true.
#
# 1. The toolchain: if a toolchain of exactly that version is installed (rustup), the
#    library is checked with it, all features on, on the locked tree. That is the real
#    proof; rustup cannot download toolchains on every machine, so it is optional.
# 2. The dependency tree: every package the library builds with (normal and build
#    dependencies, all features, as locked) declares a rust-version; none may exceed
#    ours, or a dependent on our MSRV could not build us. We also say when ours is higher
#    than the tree needs (allowed: our own code may need more, and step 3 checks that).
# 3. Our own code: clippy's `incompatible_msrv` lint reads rust-version and refuses any
#    std API stabilised after it, all features on. (It does not see language features;
#    step 1 does, when the toolchain is there.)
set -euo pipefail
cd "$(dirname "$0")/.."

ours=$(cargo metadata --format-version 1 --no-deps --locked |
  python3 -c 'import json,sys; print(next(p["rust_version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "courier-http"))')
echo "rust-version in Cargo.toml: $ours"

if rustup toolchain list 2>/dev/null | grep -q "^$ours"; then
  echo "toolchain $ours is installed: checking the library with it"
  cargo "+$ours" check --locked --lib --all-features
else
  echo "toolchain $ours is not installed (rustup cannot fetch it here): steps 2 and 3 only"
fi

cargo metadata --format-version 1 --locked --all-features | python3 -c '
import json, sys
ours = sys.argv[1]
meta = json.load(sys.stdin)
packages = {p["id"]: p for p in meta["packages"]}
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
root = next(p["id"] for p in meta["packages"] if p["name"] == "courier-http")
def version(text):
    parts = [int(x) for x in (text or "0").split(".")]
    return tuple(parts + [0] * (3 - len(parts)))
# Walk normal and build dependencies only: dev-dependencies never reach a dependent.
seen, todo = set(), [root]
while todo:
    node = nodes[todo.pop()]
    for dep in node["deps"]:
        if any(kind["kind"] in (None, "build") for kind in dep["dep_kinds"]) and dep["pkg"] not in seen:
            seen.add(dep["pkg"])
            todo.append(dep["pkg"])
needed = max((version(packages[p].get("rust_version")), p) for p in seen)
highest = [packages[p] for p in seen if version(packages[p].get("rust_version")) == needed[0]]
names = ", ".join(sorted(p["name"] + " " + p["version"] for p in highest))
need = ".".join(map(str, needed[0])).removesuffix(".0")
print(f"{len(seen)} packages in the library tree; the highest rust-version is {need} ({names})")
if version(ours) < needed[0]:
    sys.exit(f"rust-version {ours} is false: the locked tree needs {need}")
if version(ours) > needed[0]:
    print(f"note: rust-version {ours} is above what the tree needs ({need}); our own code must need it")
' "$ours"

cargo clippy --locked --lib --all-features -- -D warnings -D clippy::incompatible_msrv
echo "rust-version $ours holds"
