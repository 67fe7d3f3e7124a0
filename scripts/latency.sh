#!/usr/bin/env bash
# How long the server takes to answer the dashboard's pages, as a browser's
# first load asks for them: signed in as the demo user, on a fresh SQLite file,
# over loopback, one request at a time. Prints the median and 95th percentile
# of curl's time_total per page. Run after the release build (scripts/start.sh or scripts/test.sh).
# Usage: bash scripts/latency.sh [requests per page, default 200]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${CARGO_TARGET_DIR:-$HOME/.cache/selfserve/target}/release/selfserve"
N="${1:-200}"
PORT=3471
URL="http://127.0.0.1:$PORT"
WORK="$(mktemp -d)"
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT

SELFSERVE_LISTEN="127.0.0.1:$PORT" SELFSERVE_PUBLIC_URL="$URL" \
  DATABASE_URL="sqlite://$WORK/latency.db" LEPTOS_SITE_ROOT="$ROOT/target/site" \
  RUST_LOG=warn "$BIN" --demo >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 50); do
  curl -fs -o /dev/null "$URL/healthz" && break
  sleep 0.2
done

curl -fs -o /dev/null -c "$WORK/jar" -H "Origin: $URL" \
  --data-urlencode "username=demo" --data-urlencode "password=purple-otter-sings-at-dawn" \
  "$URL/api/sign_in"

printf '%-12s %10s %10s\n' page median p95
for page in /signin / /profile /sessions /consent /approvals; do
  # The sign-in page is for visitors; a signed-in browser is sent home.
  jar="$WORK/jar"
  [ "$page" = /signin ] && jar=/dev/null
  for _ in $(seq 1 "$N"); do
    # The whole streamed page, including the parts rendered after the shell.
    curl -fs -o /dev/null -b "$jar" -w '%{time_total}\n' "$URL$page"
  done | sort -n | awk -v page="$page" '
    { t[NR] = $1 * 1000 }
    END { printf "%-12s %8.1f ms %7.1f ms\n", page, t[int(NR * 0.5 + 0.5)], t[int(NR * 0.95 + 0.5)] }'
done

# Signing in verifies an argon2id hash (m=19456 KiB, t=2, p=1): far slower by design.
for _ in $(seq 1 20); do
  curl -fs -o /dev/null -H "Origin: $URL" -w '%{time_total}\n' \
    --data-urlencode "username=demo" --data-urlencode "password=purple-otter-sings-at-dawn" \
    "$URL/api/sign_in"
done | sort -n | awk '
  { t[NR] = $1 * 1000 }
  END { printf "%-12s %8.1f ms %7.1f ms  (20 sign-ins)\n", "sign-in", t[int(NR * 0.5 + 0.5)], t[int(NR * 0.95 + 0.5)] }'
