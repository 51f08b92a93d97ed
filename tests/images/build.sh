#!/usr/bin/env bash
# Builds the images the examples and the Docker tests run, from tests/workload, without a
# registry: reconciler-test/echo:1, :2 (same program, VERSION 1 and 2), :bad (exits 1 after
# 300 ms) and reconciler-test/proxy:1. Safe to run concurrently and repeatedly; Docker's build
# cache makes a repeat take about a second.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
target_dir="${RECONCILER_IMAGES_TARGET:-$root/target/images}"
triple=x86_64-unknown-linux-gnu
mkdir -p "$target_dir"
exec 9>"$target_dir/.lock"
flock 9

if ! docker info >/dev/null 2>&1; then
    echo "build.sh: no Docker engine answers (docker info failed); start dockerd or set DOCKER_HOST" >&2
    exit 1
fi

# Its own target dir: a cargo running tests may hold the workspace's build lock.
RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR="$target_dir" \
    cargo build --quiet --release --locked -p workload --target "$triple" \
    --manifest-path "$root/Cargo.toml"

context="$target_dir/context"
rm -rf "$context"
mkdir -p "$context"
cp "$target_dir/$triple/release/workload" "$context/workload"
cp "$root/tests/images/Dockerfile" "$context/Dockerfile"

build() {
    local out
    if ! out="$(DOCKER_BUILDKIT=0 docker build --quiet "$@" "$context" 2>&1)"; then
        echo "$out" >&2
        return 1
    fi
}
build -t reconciler-test/echo:1 --build-arg VERSION=1
build -t reconciler-test/echo:2 --build-arg VERSION=2
build -t reconciler-test/echo:bad --build-arg VERSION=bad --build-arg FAIL_AFTER=300
build -t reconciler-test/proxy:1 --build-arg VERSION=1
echo "built reconciler-test/echo:1 reconciler-test/echo:2 reconciler-test/echo:bad reconciler-test/proxy:1"
