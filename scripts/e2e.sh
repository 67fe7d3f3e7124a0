#!/usr/bin/env bash
# The Playwright tests in Debian's Chromium against the release build, on a
# fresh SQLite file: `bash scripts/e2e.sh` runs them all, and arguments are
# Playwright's (`bash scripts/e2e.sh a11y keyboard` runs those files).
# scripts/test.sh runs it after the other tests.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

setup_rust
setup_node
setup_chromium

cd "$ROOT"
build_release
E2E_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
E2E_DIR="$(mktemp -d /tmp/selfserve-e2e.XXXXXX)"
trap 'rm -rf "$E2E_DIR"' EXIT
export SELFSERVE_PUBLIC_URL="http://127.0.0.1:$E2E_PORT"
export SELFSERVE_LISTEN="127.0.0.1:$E2E_PORT"
export DATABASE_URL="sqlite://$E2E_DIR/e2e.db"
export SELFSERVE_CONFIG="$ROOT/end2end/selfserve.e2e.toml"
export LEPTOS_SITE_ROOT="$ROOT/target/site"
export E2E_SERVER_BIN="$CARGO_TARGET_DIR/release/selfserve"
export BASE_URL="$SELFSERVE_PUBLIC_URL"
# The external identity provider's client secret, shared by the server and
# end2end/idp/provider.mjs; random each run.
SELFSERVE_IDENTITY_PROVIDER_CORP_CLIENT_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
export SELFSERVE_IDENTITY_PROVIDER_CORP_CLIENT_SECRET
# A second server on its own database whose operator requires a second
# factor (mfa.required), for end2end/tests/mfa.spec.ts, and keeps account
# deletion to the administrator (accounts.self_deletion), for profile.spec.ts.
E2E_MFA_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export E2E_MFA_BASE_URL="http://127.0.0.1:$E2E_MFA_PORT"
export E2E_MFA_DATABASE_URL="sqlite://$E2E_DIR/e2e-mfa-required.db"
# A third on its own database, reached as http://localhost:PORT: WebAuthn
# needs a secure context and a relying party id that is a name, not an
# address (end2end/tests/mfa-passkeys.spec.ts).
E2E_PASSKEY_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export E2E_PASSKEY_BASE_URL="http://localhost:$E2E_PASSKEY_PORT"
export E2E_PASSKEY_LISTEN="127.0.0.1:$E2E_PASSKEY_PORT"
export E2E_PASSKEY_DATABASE_URL="sqlite://$E2E_DIR/e2e-passkeys.db"
(cd end2end && npx playwright test "$@")
