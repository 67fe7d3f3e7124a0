#!/usr/bin/env bash
# README command 2: runs every test. Formatting and lints, unit tests, the
# server's integration tests on SQLite and on a real PostgreSQL server started
# here on loopback, then Playwright in Debian's Chromium against the release
# build. Installs what is missing; needs no input.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

setup_rust
setup_node
setup_scim_client
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
# The protocol peers (npm oidc-provider, PyPI scim2-client) are installed by
# setup_node and setup_scim_client: a test that finds one missing fails
# instead of skipping.
export TEST_REQUIRE_PEERS=1

log "Unit and integration tests (SQLite and PostgreSQL)"
cargo test --release -p app -p server --features app/ssr

log "End-to-end tests (Playwright, Chromium, release build)"
bash scripts/e2e.sh

bash scripts/fuzz.sh
log "All tests passed"
