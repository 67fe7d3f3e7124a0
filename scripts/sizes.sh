#!/usr/bin/env bash
# Prints the size of what a browser downloads from the release build
# (run after `cargo leptos build --release`): raw and gzip -9 bytes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../target/site/pkg"
printf '%-16s %10s %10s\n' file raw gzip
for f in selfserve.wasm selfserve.js selfserve.css; do
  printf '%-16s %10d %10d\n' "$f" "$(wc -c < "$f")" "$(gzip -9 -c "$f" | wc -c)"
done
