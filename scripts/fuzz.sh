#!/usr/bin/env bash
# Fuzzes the REST API with schemathesis (PyPI) against the release build:
# every operation in /api/openapi.json with a signed-in session on a fresh
# SQLite file, bounded; no answer may be a 5xx, and every answer must match
# the document (status, content type, schema). scripts/test.sh runs it with
# 20 examples per operation; run it longer with e.g.
#   FUZZ_EXAMPLES=500 bash scripts/fuzz.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

EXAMPLES="${FUZZ_EXAMPLES:-20}"
VENV="$HOME/.cache/selfserve/schemathesis"
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "4.32.5"; then
  log "Installing schemathesis 4.32.5 from PyPI"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==4.32.5"
fi
BIN="$CARGO_TARGET_DIR/release/selfserve"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
DIR="$(mktemp -d /tmp/selfserve-fuzz.XXXXXX)"
URL="http://127.0.0.1:$PORT"
SELFSERVE_PUBLIC_URL="$URL" SELFSERVE_LISTEN="127.0.0.1:$PORT" DATABASE_URL="sqlite://$DIR/fuzz.db" \
  LEPTOS_SITE_ROOT="$ROOT/target/site" SELFSERVE_DEMO=true RUST_LOG=warn \
  SELFSERVE_CONFIG="$ROOT/end2end/selfserve.e2e.toml" "$BIN" > "$DIR/server.log" 2>&1 &
SERVER=$!
trap 'status=$?; stop_selfserve "$SERVER" || status=1; rm -rf "$DIR"; exit $status' EXIT
for _ in $(seq 100); do curl -fs "$URL/healthz" >/dev/null && break; sleep 0.1; done
PASSWORD="$(grep -o 'with the password "[^"]*"' "$DIR/server.log" | sed 's/.*"\(.*\)"/\1/')"
COOKIE="$(curl -s -D - -o /dev/null -H 'Sec-Fetch-Site: same-origin' \
  --data-urlencode username=demo --data-urlencode "password=$PASSWORD" "$URL/api/sign_in" |
  tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -n 1)"
[ -n "$COOKIE" ] || { echo "could not sign in" >&2; exit 1; }

CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
fuzz() {
  "$VENV/bin/schemathesis" run "$URL/api/openapi.json" \
    -H "Cookie: $COOKIE" -H "Sec-Fetch-Site: same-origin" \
    --max-examples "$EXAMPLES" --checks "$CHECKS" --no-color "$@"
}
log "Fuzzing the REST API ($EXAMPLES examples per operation)"
# Every operation but the two that end sessions (the stateful phase feeds
# session ids from the list into them, signing the fuzzer out), then those
# two last, on the same throw-away user.
# The event stream never ends by itself, so it is not fuzzed (its tests are
# in server/tests/integration/events.rs).
fuzz --exclude-operation-id delete_all --exclude-operation-id delete_one --exclude-operation-id events
fuzz --include-operation-id delete_one --include-operation-id delete_all
if grep -q "panicked" "$DIR/server.log"; then
  echo "the server panicked while fuzzed:" >&2
  grep -A3 "panicked" "$DIR/server.log" >&2
  exit 1
fi
