#!/usr/bin/env bash
# Every benchmark in turn, with the figures docs/performance.md quotes. Each starts and stops its own
# services on free loopback ports. Run on a quiet machine: the figures are wall-clock.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=.venv/bin/python
for b in duplicates first_notification reach cold_start load classify publisher; do
  [ -f "bench/$b.py" ] || continue
  echo "=== bench/$b.py"
  "$PY" "bench/$b.py"
done
