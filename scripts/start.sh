#!/usr/bin/env bash
# README command 1: builds Selfserve if needed and starts it on the embedded
# SQLite default (data/selfserve.db) in demo mode, which creates a demo
# account on first start and prints how to sign in.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

setup_rust
setup_node
build_release

cd "$ROOT"
export SELFSERVE_DEMO=true
export LEPTOS_SITE_ROOT="$ROOT/target/site"
exec "$CARGO_TARGET_DIR/release/selfserve" "$@"
