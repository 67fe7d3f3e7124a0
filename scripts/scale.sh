#!/usr/bin/env bash
# Data at scale: the sessions page and sign-in with 10 k users (10 sessions
# each), then with 1 M users (10 M sessions), on SQLite and on PostgreSQL,
# against the release build. The users and sessions are generated in SQL; the
# two accounts measured are real (made by `selfserve user add`, signed in over
# HTTP). Prints one line per figure and the ratio large/small. Run by
# scripts/bench.sh; on its own:
#
#   bash scripts/scale.sh                       # 10 k, then 1 M users
#   SCALE_LARGE=100000 bash scripts/scale.sh    # a quicker look
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

SMALL="${SCALE_SMALL:-10000}"
LARGE="${SCALE_LARGE:-1000000}"
SECONDS_EACH="${BENCH_SECONDS:-5}"
SESSIONS_PER_USER=10
BIN="$CARGO_TARGET_DIR/release/selfserve"
[ -x "$BIN" ] || { echo "build first: bash scripts/start.sh or scripts/test.sh" >&2; exit 1; }
setup_postgres

DIR="$(mktemp -d /tmp/selfserve-scale.XXXXXX)"
SERVER=""
stop_server() { [ -n "$SERVER" ] || return 0; local pid="$SERVER"; SERVER=""; stop_selfserve "$pid"; }
trap 'status=$?; stop_server || status=1; stop_postgres; rm -rf "$DIR"; exit $status' EXIT
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
export SELFSERVE_PUBLIC_URL="$URL" SELFSERVE_LISTEN="127.0.0.1:$PORT" RUST_LOG=warn
export LEPTOS_SITE_ROOT="$ROOT/target/site" SELFSERVE_DEMO=false
export READER_PASSWORD="reader-password-$$" SIGNER_PASSWORD="signer-password-$$"
export SELFSERVE_LOCKOUT__MAX_FAILURES=1000000 SELFSERVE_LOCKOUT__IP_MAX_FAILURES=1000000

now_ms() { python3 -c 'import time; print(int(time.time() * 1000))'; }

# Users numbered from $1 to $2, each with 10 sessions active in the last ten
# minutes. Every generated user shares the signer's password hash (hashing a
# million passwords would take hours, and only the row count matters here).
generate_sqlite() { # from to
  local now; now="$(now_ms)"
  sqlite3 "$DB_FILE" > /dev/null <<SQL
PRAGMA busy_timeout = 10000;
PRAGMA cache_size = -1000000;
BEGIN;
CREATE TEMP TABLE before AS SELECT CASE WHEN $1 = 1 THEN 0 ELSE max(id) END AS id FROM users;
WITH RECURSIVE n(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM n WHERE i < $2)
INSERT INTO users (username, username_key, username_skeleton, password_hash, email, created_at, updated_at)
SELECT 'user' || i, 'user' || i, 'user' || i,
       (SELECT password_hash FROM users WHERE username_key = 'signer'),
       'user' || i || '@example.com', $now, $now
FROM n;
WITH RECURSIVE k(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM k WHERE k < $SESSIONS_PER_USER)
INSERT INTO sessions (id, token_hash, user_id, ip, user_agent, created_at, last_active_at, expires_at)
SELECT lower(hex(randomblob(16))), lower(hex(randomblob(32))), u.id, '192.0.2.' || (u.id % 250),
       'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
       $now - k * 60000, $now - k * 60000, $now + 7 * 86400000
FROM users u, k
WHERE u.id > (SELECT id FROM before);
COMMIT;
SQL
}

generate_postgres() { # from to
  local now; now="$(now_ms)"
  psql -q -v ON_ERROR_STOP=1 "$DATABASE_URL" <<SQL
BEGIN;
CREATE TEMP TABLE before AS SELECT CASE WHEN $1 = 1 THEN 0 ELSE max(id) END AS id FROM users;
INSERT INTO users (username, username_key, username_skeleton, password_hash, email, created_at, updated_at)
SELECT 'user' || i, 'user' || i, 'user' || i,
       (SELECT password_hash FROM users WHERE username_key = 'signer'),
       'user' || i || '@example.com', $now, $now
FROM generate_series($1, $2) AS i;
INSERT INTO sessions (id, token_hash, user_id, ip, user_agent, created_at, last_active_at, expires_at)
SELECT md5(random()::text || clock_timestamp()::text),
       replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''),
       u.id, '192.0.2.' || (u.id % 250),
       'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
       $now - k * 60000, $now - k * 60000, $now + 7 * 86400000
FROM users u CROSS JOIN generate_series(1, $SESSIONS_PER_USER) AS k
WHERE u.id > (SELECT id FROM before);
COMMIT;
-- As autovacuum would shortly after a load of this size.
ANALYZE;
SQL
}

start_server() {
  "$BIN" > "$DIR/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 300); do curl -fs "$URL/healthz" >/dev/null && return; sleep 0.1; done
  echo "the server did not start:" >&2; cat "$DIR/server.log" >&2; exit 1
}

# p50 and p99 of wrk at one keep-alive connection.
p50_p99() { # wrk args...
  wrk -t1 -c1 -d"${SECONDS_EACH}s" --latency -H 'Accept-Encoding: br, gzip' "$@" |
    awk '$1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 } END { print p50, p99 }'
}

to_ms() { # wrk's 1.23ms / 456.00us / 1.2s
  awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else { sub(/s$/, "", v); v *= 1000 }; printf "%.2f", v }' <<<"$1"
}

measure() { # label
  start_server
  local cookie
  cookie="$(curl -s -D - -o /dev/null -H 'Sec-Fetch-Site: same-origin' \
    --data-urlencode username=reader --data-urlencode "password=$READER_PASSWORD" "$URL/api/sign_in" |
    tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -n 1)"
  [ -n "$cookie" ] || { echo "could not sign in as reader" >&2; exit 1; }
  cat > "$DIR/signin.lua" <<LUA
wrk.method = "POST"
wrk.body = "username=signer&password=$SIGNER_PASSWORD"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Sec-Fetch-Site"] = "same-origin"
LUA
  read -r page_p50 page_p99 < <(p50_p99 -H "Cookie: $cookie" "$URL/sessions")
  read -r signin_p50 signin_p99 < <(p50_p99 -s "$DIR/signin.lua" "$URL/api/sign_in")
  stop_server
  printf '%-9s %-22s /sessions p50 %-9s p99 %-9s  sign-in p50 %-9s p99 %s\n' \
    "$BACKEND" "$1" "$page_p50" "$page_p99" "$signin_p50" "$signin_p99"
  eval "PAGE_$2=$(to_ms "$page_p50") SIGNIN_$2=$(to_ms "$signin_p50")"
}

run() { # backend
  BACKEND="$1"
  "$BIN" user add reader --password-env READER_PASSWORD > /dev/null
  "$BIN" user add signer --password-env SIGNER_PASSWORD > /dev/null
  local started
  started="$(date +%s)"
  "generate_$BACKEND" 1 "$SMALL"
  echo "$BACKEND: generated $SMALL users in $(( $(date +%s) - started )) s" >&2
  measure "$SMALL users" SMALL
  started="$(date +%s)"
  "generate_$BACKEND" $(( SMALL + 1 )) "$LARGE"
  echo "$BACKEND: generated $LARGE users in all, in $(( $(date +%s) - started )) s more" >&2
  measure "$LARGE users" LARGE
  awk -v ps="$PAGE_SMALL" -v pl="$PAGE_LARGE" -v ss="$SIGNIN_SMALL" -v sl="$SIGNIN_LARGE" -v b="$BACKEND" \
    'BEGIN { printf "%-9s %-22s /sessions %.2f x, sign-in %.2f x (p50, large / small)\n", b, "ratio", pl / ps, sl / ss }'
}

DB_FILE="$DIR/scale.db"
export DATABASE_URL="sqlite://$DB_FILE"
run sqlite

start_postgres > /dev/null
pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres scale
export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/scale"
run postgres
