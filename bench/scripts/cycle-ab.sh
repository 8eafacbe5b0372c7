#!/usr/bin/env bash
# Two configurations of the full cycle side by side: bench-cycle with options A and with options B,
# in separate JVMs (one JVM running both would have the JIT compile the cycle for both and favour
# neither), alternating A/B so that drift on a shared machine hits both. Prints each process's
# medians and, over all counted cycles, the medians per configuration and B's overhead over A.
#
#   bench/scripts/cycle-ab.sh PAIRS "A OPTIONS" "B OPTIONS" [bench-cycle options for both...]
#   bench/scripts/cycle-ab.sh 3 "--queues 1" "--queues 100"
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
pairs="$1"
a_opts="$2"
b_opts="$3"
shift 3
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

printf '%-5s %-4s %12s %14s\n' pair run "cycle ms" "cycle+next ms"
for ((p = 1; p <= pairs; p++)); do
  for mode in A B; do
    opts="$a_opts"
    [ "$mode" = B ] && opts="$b_opts"
    # shellcheck disable=SC2086 # each configuration is a list of options
    "$here/stowage" bench-cycle $opts --vacuum-each "$@" 2>/dev/null > "$out/$p-$mode.txt"
    # counted rows: "<run> <tasks> <matched> <launched> <total ms> <next ms> ..."
    awk '/^[0-9]+ /{print $5, $5+$6}' "$out/$p-$mode.txt" > "$out/$p-$mode.rows"
    cat "$out/$p-$mode.rows" >> "$out/all-$mode.rows"
    printf '%-5s %-4s %12.1f %14.1f\n' "$p" "$mode" \
      "$(cut -d' ' -f1 "$out/$p-$mode.rows" | median)" "$(cut -d' ' -f2 "$out/$p-$mode.rows" | median)"
  done
done
a=$(cut -d' ' -f1 "$out/all-A.rows" | median); b=$(cut -d' ' -f1 "$out/all-B.rows" | median)
a2=$(cut -d' ' -f2 "$out/all-A.rows" | median); b2=$(cut -d' ' -f2 "$out/all-B.rows" | median)
n=$(wc -l < "$out/all-B.rows")
echo "A: $a_opts; B: $b_opts"
echo "counted cycles, ms (cycle): A $(cut -d' ' -f1 "$out/all-A.rows" | tr '\n' ' ')"
echo "counted cycles, ms (cycle): B $(cut -d' ' -f1 "$out/all-B.rows" | tr '\n' ' ')"
printf '%-10s %12.1f %14.1f\n' "all A" "$a" "$a2"
printf '%-10s %12.1f %14.1f\n' "all B" "$b" "$b2"
printf 'B over A (median of %d counted cycles each): cycle %+.1f%%, cycle + next %+.1f%%\n' \
  "$n" "$(awk -v x="$b" -v y="$a" 'BEGIN {print (x / y - 1) * 100}')" \
  "$(awk -v x="$b2" -v y="$a2" 'BEGIN {print (x / y - 1) * 100}')"
