#!/usr/bin/env bash
# Release build of the whole workspace (rvsd, rvsadm, rvs-bench). Used by `make build` and by the build stage of
# the images in docker/, so both compile the same thing the same way: an image built on a machine whose
# CARGO_TARGET_DIR is already built (and mounted at the same path) finds every unit fresh.
#
# Usage: scripts/build.sh [extra cargo build arguments]
# Environment: CARGO (default cargo, looked up on PATH and in ~/.cargo/bin), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PATH:${HOME:-/root}/.cargo/bin"
CARGO="${CARGO:-cargo}"
if ! command -v "$CARGO" >/dev/null; then
    echo "build.sh: '$CARGO' not found (PATH=$PATH); install rustup, or mount the host's ~/.cargo and ~/.rustup" >&2
    exit 1
fi
exec "$CARGO" build --release --workspace "$@"
