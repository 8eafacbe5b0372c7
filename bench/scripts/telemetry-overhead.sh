#!/usr/bin/env bash
# Tracing overhead of the full cycle: bench-cycle with telemetry off (A) and on (B), side by side
# (cycle-ab.sh).
#
#   bench/scripts/telemetry-overhead.sh [pairs] [bench-cycle options...]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pairs="${1:-3}"
shift || true
exec "$here/cycle-ab.sh" "$pairs" "--telemetry off" "--telemetry on" "$@"
