#!/usr/bin/env bash
# Tracing overhead of the full cycle: bench-cycle with telemetry off and on, in separate JVMs
# (one JVM running both would have the JIT compile the cycle for two tracers and favour neither),
# alternating off/on so that drift on a shared machine hits both. Prints each process's medians
# and, over all counted cycles, the medians per mode and their ratio.
#
#   bench/scripts/telemetry-overhead.sh [pairs] [bench-cycle options...]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
pairs="${1:-3}"
shift || true
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

printf '%-5s %-4s %12s %14s\n' pair tel "cycle ms" "cycle+next ms"
for ((p = 1; p <= pairs; p++)); do
  for mode in off on; do
    "$here/stowage" bench-cycle --telemetry "$mode" --vacuum-each "$@" 2>/dev/null > "$out/$p-$mode.txt"
    # counted rows: "<run> <tasks> <matched> <launched> <total ms> <next ms> ..."
    awk '/^[0-9]+ /{print $5, $5+$6}' "$out/$p-$mode.txt" > "$out/$p-$mode.rows"
    cat "$out/$p-$mode.rows" >> "$out/all-$mode.rows"
    printf '%-5s %-4s %12.1f %14.1f\n' "$p" "$mode" \
      "$(cut -d' ' -f1 "$out/$p-$mode.rows" | median)" "$(cut -d' ' -f2 "$out/$p-$mode.rows" | median)"
  done
done
off=$(cut -d' ' -f1 "$out/all-off.rows" | median); on=$(cut -d' ' -f1 "$out/all-on.rows" | median)
off2=$(cut -d' ' -f2 "$out/all-off.rows" | median); on2=$(cut -d' ' -f2 "$out/all-on.rows" | median)
n=$(wc -l < "$out/all-on.rows")
echo "counted cycles, ms (cycle): off $(cut -d' ' -f1 "$out/all-off.rows" | tr '\n' ' ')"
echo "counted cycles, ms (cycle): on  $(cut -d' ' -f1 "$out/all-on.rows" | tr '\n' ' ')"
printf '%-10s %12.1f %14.1f\n' "all off" "$off" "$off2"
printf '%-10s %12.1f %14.1f\n' "all on" "$on" "$on2"
printf 'overhead (median of %d counted cycles per mode): cycle %+.1f%%, cycle + next %+.1f%%\n' \
  "$n" "$(awk -v a="$on" -v b="$off" 'BEGIN {print (a / b - 1) * 100}')" \
  "$(awk -v a="$on2" -v b="$off2" 'BEGIN {print (a / b - 1) * 100}')"
