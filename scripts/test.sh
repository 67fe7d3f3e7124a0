#!/usr/bin/env bash
# README command 2: runs every test. Formatting and lints, unit tests, the
# server's integration tests on SQLite and on a real PostgreSQL server started
# here on loopback, then Playwright in Debian's Chromium against the release
# build. Installs what is missing; needs no input.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

setup_rust
setup_node
setup_chromium
setup_postgres

cd "$ROOT"
log "Formatting and lints"
cargo fmt --all -- --check
cargo clippy --release -p app -p server --all-targets --features app/ssr -- -D warnings
cargo clippy --release -p frontend --features hydrate --target wasm32-unknown-unknown -- -D warnings

# A throw-away PostgreSQL cluster on loopback, removed when the tests end.
trap stop_postgres EXIT
start_postgres
export TEST_POSTGRES_URL="$PG_URL"
export TEST_REQUIRE_POSTGRES=1

log "Unit and integration tests (SQLite and PostgreSQL)"
cargo test --release -p app -p server --features app/ssr

log "End-to-end tests (Playwright, Chromium, release build)"
build_release
E2E_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
E2E_DIR="$(mktemp -d /tmp/selfserve-e2e.XXXXXX)"
export SELFSERVE_PUBLIC_URL="http://127.0.0.1:$E2E_PORT"
export SELFSERVE_LISTEN="127.0.0.1:$E2E_PORT"
export DATABASE_URL="sqlite://$E2E_DIR/e2e.db"
export SELFSERVE_CONFIG="$ROOT/end2end/selfserve.e2e.toml"
export LEPTOS_SITE_ROOT="$ROOT/target/site"
export E2E_SERVER_BIN="$CARGO_TARGET_DIR/release/selfserve"
export BASE_URL="$SELFSERVE_PUBLIC_URL"
(cd end2end && npx playwright test)
rm -rf "$E2E_DIR"

unset SELFSERVE_PUBLIC_URL SELFSERVE_LISTEN DATABASE_URL SELFSERVE_CONFIG
bash scripts/fuzz.sh
log "All tests passed"
