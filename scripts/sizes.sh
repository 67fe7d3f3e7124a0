#!/usr/bin/env bash
# Prints the size of what a browser downloads from the release build (run
# after scripts/start.sh or scripts/test.sh built it): raw, and as sent to a
# browser that accepts brotli (the precompressed .br file) or only gzip.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../target/site/pkg"
printf '%-34s %10s %10s %10s\n' file raw brotli gzip
for f in selfserve*.wasm selfserve*.js selfserve*.css; do
  printf '%-34s %10d %10d %10d\n' "$f" "$(wc -c < "$f")" "$(wc -c < "$f.br")" "$(wc -c < "$f.gz")"
done
