#!/usr/bin/env bash
# Installs what building and testing Selfserve need, skipping whatever is
# already there. Sourced by scripts/start.sh and scripts/test.sh.
# Versions are those measured to work on this kind of machine: only the crate registry, npm and
# Debian's packages are reachable, so nothing may download a binary itself.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Builds are slow on 2 cores: keep compiled artifacts outside the clone so
# every clone (and CI) reuses them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/selfserve/target}"
export PATH="$HOME/.cargo/bin:$ROOT/end2end/node_modules/.bin:$PATH"
# cargo-leptos compiles the server with LEPTOS_OUTPUT_NAME set, and Leptos reads
# it at compile time: set it for plain cargo too, so `cargo test` and
# `cargo leptos build` share artifacts instead of rebuilding each other's.
export LEPTOS_OUTPUT_NAME=selfserve
WASM_BINDGEN_VERSION="0.2.130"
CARGO_LEPTOS_VERSION="0.3.10"

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

APT_UPDATED=0
apt_install() {
  if [ "$APT_UPDATED" = 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" </dev/null
}

setup_rust() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "Adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION"; then
    log "Installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2 minutes)"
    # Without --locked: with it, the install needs a webpki-roots version the registry lacks.
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
  fi
}

# Only hot reload (`cargo leptos watch`, scripts/watch.sh) needs cargo-leptos:
# its install takes about 20 minutes on 2 cores, so the release build below
# does the same steps without it.
setup_cargo_leptos() {
  if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    log "Installing cargo-leptos $CARGO_LEPTOS_VERSION (about 20 minutes, once)"
    cargo install "cargo-leptos@$CARGO_LEPTOS_VERSION" --locked --force
  fi
}

setup_node() {
  if ! command -v npm >/dev/null; then
    log "Installing Node.js"
    apt_install nodejs npm
  fi
  # Installed again whenever the lock file changed since the last install
  # (a stamp beside the packages), so a pulled dependency arrives by itself.
  local stamp="$ROOT/end2end/node_modules/.selfserve-package-lock.json"
  if ! cmp -s "$ROOT/end2end/package-lock.json" "$stamp"; then
    log "Installing npm packages (Playwright, axe-core, openid-client, binaryen's wasm-opt)"
    # Playwright must not fetch its own browser: Debian's Chromium is used.
    (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
    cp "$ROOT/end2end/package-lock.json" "$stamp"
  fi
}

# The independent SCIM client (PyPI scim2-client) that the integration tests
# run against /scim2/Me, in its own environment; installed again when its
# pinned requirements change (a copy beside it, as for npm).
SCIM_CLIENT_VENV="$HOME/.cache/selfserve/scim-client"
setup_scim_client() {
  local requirements="$ROOT/end2end/scim/requirements.txt"
  if ! cmp -s "$requirements" "$SCIM_CLIENT_VENV/requirements.txt"; then
    log "Installing the SCIM client (scim2-client) from PyPI"
    rm -rf "$SCIM_CLIENT_VENV"
    python3 -m venv "$SCIM_CLIENT_VENV"
    "$SCIM_CLIENT_VENV/bin/pip" install -q -r "$requirements"
    cp "$requirements" "$SCIM_CLIENT_VENV/requirements.txt"
  fi
}

setup_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    log "Installing Chromium from Debian"
    apt_install chromium
  fi
}

setup_postgres() {
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    log "Installing PostgreSQL from Debian"
    apt_install postgresql
  fi
}

# A throw-away PostgreSQL cluster on loopback (fsync off: it holds test and
# benchmark data only). Sets PG_URL; the caller stops it with stop_postgres,
# usually from an EXIT trap.
pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
start_postgres() {
  PG_BIN="$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")"
  PG_DIR="$(mktemp -d /tmp/selfserve-pg.XXXXXX)"
  PG_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  if [ "$(id -u)" = 0 ]; then chown postgres "$PG_DIR"; fi
  log "Starting PostgreSQL on 127.0.0.1:$PG_PORT"
  pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
  pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off" start >/dev/null
  PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
}
stop_postgres() {
  [ -n "${PG_DIR:-}" ] || return 0
  pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}

# Stops a server a script started: SIGTERM, then up to 10 s for its graceful
# shutdown. One still running by then has a stuck thread (README, "Security":
# the reactive_graph deadlock was found this way): say so, kill it, fail.
stop_selfserve() { # pid
  local pid="$1"
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    if ! kill -0 "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || true; return 0; fi
    sleep 0.1
  done
  echo "the server (pid $pid) did not stop within 10 s of SIGTERM: a thread is stuck" >&2
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return 1
}

# The site (WASM, JS, CSS, public files) and the server binary, optimised:
# what `cargo leptos build --release` does with the settings in Cargo.toml
# ([workspace.metadata.leptos]), as plain steps.
SITE_ROOT="$ROOT/target/site"
# The pages with bundles of their own: app/src/entries.rs's ENTRIES, each
# built with the frontend's feature entry-NAME (a unit test there checks
# that the three lists agree).
ENTRY_BUNDLES="signin verify home consent"
build_site() {
  if ! command -v brotli >/dev/null; then
    log "Installing brotli from Debian"
    apt_install brotli
  fi
  local staging="$ROOT/target/site.new"
  rm -rf "$staging"
  mkdir -p "$staging/pkg"
  # The whole app's bundle, and the single-page bundles of the pages people
  # land on first (app/src/entries.rs: each is the frontend with feature
  # entry-NAME). Only the frontend crate is built again for each.
  local entry
  build_bundle selfserve "$staging/pkg"
  for entry in $ENTRY_BUNDLES; do
    build_bundle "selfserve-$entry" "$staging/pkg"
  done
  cp "$ROOT/style/main.css" "$staging/pkg/selfserve.css"
  # Each name carries its content's hash, so browsers may keep the file for a
  # year (the server says so); the server reads the names from hash.txt
  # beside its binary, as Leptos does under cargo-leptos.
  local hashes="" path
  for path in "$staging"/pkg/*; do
    local file hash kind stem
    file="$(basename "$path")" kind="${path##*.}" stem="${file%.*}"
    hash="$(sha256sum "$path" | cut -c1-16)"
    mv "$path" "$staging/pkg/$stem.$hash.$kind"
    # hash.txt's keys: "js" for the app's, "signin.js" for a page's own.
    local key="${stem#selfserve}"
    hashes+="${key#-}${key:+.}$kind: $hash"$'\n'
  done
  # Compressed once here rather than on every request.
  for file in "$staging"/pkg/*; do
    brotli --quality=11 --keep "$file"
    gzip -9 --keep "$file"
  done
  cp -r "$ROOT/public/." "$staging/"
  rm -rf "$SITE_ROOT"
  mv "$staging" "$SITE_ROOT"
  mkdir -p "$CARGO_TARGET_DIR/release"
  printf '%s' "$hashes" > "$CARGO_TARGET_DIR/release/hash.txt"
}

# One browser bundle: the frontend crate as WASM (its entry feature for a
# single-page bundle), wasm-bindgen's JS, wasm-opt.
build_bundle() { # name out-dir
  local name="$1" out="$2" features="hydrate"
  case "$name" in
    selfserve-*) features+=",entry-${name#selfserve-}" ;;
  esac
  log "Building the browser bundle $name (WASM, release)"
  # Every feature set writes the same frontend.wasm; cargo sees that the file
  # is not this set's and builds the frontend crate again (about a second).
  (cd "$ROOT" && cargo build --profile wasm-release --target wasm32-unknown-unknown \
    -p frontend --lib --no-default-features --features "$features")
  local artifact="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/frontend.wasm"
  wasm-bindgen --target web --no-typescript --out-name "$name" --out-dir "$out" "$artifact"
  # Leptos asks for <output-name>.wasm when LEPTOS_OUTPUT_NAME is set at build time.
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    "$out/${name}_bg.wasm" -o "$out/$name.wasm"
  rm "$out/${name}_bg.wasm"
}

build_server() {
  log "Building the server (release)"
  (cd "$ROOT" && cargo build --release -p server --bin selfserve)
}

build_release() {
  build_site
  build_server
}
