#!/usr/bin/env bash
# Hot reload for development: installs cargo-leptos once (about 20 minutes on
# 2 cores), then runs `cargo leptos watch` in demo mode on the embedded SQLite
# default. Arguments go to cargo leptos watch.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

setup_rust
setup_cargo_leptos
setup_node

cd "$ROOT"
export SELFSERVE_DEMO=true
exec cargo leptos watch "$@"
