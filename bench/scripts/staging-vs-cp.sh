#!/usr/bin/env bash
# Staging against cp, in the same run and on the same disk: one large file and many small files,
# each copied by `cp` (`cp -r`) and by `./stowage stage`, fsync included on both sides (`sync`
# after each copy, inside the timing). The page cache is dropped before each copy when this user
# may (root); otherwise each copy after the first reads its source from memory, for both tools
# alike. Each copy gets a destination never used before in the run, removed only at the end:
# ext4 allocating inodes next to thousands it deleted seconds ago scans past them all (its
# "recently deleted" check), which made whichever tool copied after a removal twice as slow.
# Prints a table of seconds and MB/s per round, the medians, and the median of each round's own
# ratio (cp's time over Stowage's, above 1 when Stowage is faster): this disk has fast and slow
# spells lasting several copies, and a round's two copies most often share one.
#
#   bench/scripts/staging-vs-cp.sh [dir on the disk to test] [rounds] [big MiB] [small files]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dir="${1:-$here/target/staging-bench}"
rounds="${2:-3}"
big_mib="${3:-2048}"
small_files="${4:-10000}"
mkdir -p "$dir"
src="$dir/src"

drop_caches() {
  sync
  if [ -w /proc/sys/vm/drop_caches ]; then echo 3 > /proc/sys/vm/drop_caches; fi
}
# A virtual machine's disk may be backed by the host's own page cache: whether the source's blocks
# are still there swung one copy of the same file between 0.9 and 4 s, and the second of two
# copies in a row found them there more often. So before each timed copy the source is read once
# (warming the host's cache), then this machine's cache is dropped: every copy, by either tool,
# reads a source that is in the host's cache and not in this machine's.
warm_source() { # path
  if [ -d "$1" ]; then tar -cf - -C "$1" . > /dev/null; else cat "$1" > /dev/null; fi
}
now() { date +%s.%N; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN {printf "%.0f", b / 1e6 / s}'; }
median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

if [ ! -f "$src/big.bin" ] || [ "$(stat -c %s "$src/big.bin")" -ne $((big_mib << 20)) ]; then
  mkdir -p "$src"
  echo "# writing $big_mib MiB of random data to $src/big.bin" >&2
  head -c $((big_mib << 20)) /dev/urandom > "$src/big.bin"
fi
if [ ! -d "$src/small" ] || [ "$(ls "$src/small" | wc -l)" -ne "$small_files" ]; then
  rm -rf "$src/small"; mkdir -p "$src/small"
  echo "# writing $small_files files of 100 KiB to $src/small" >&2
  head -c $((small_files * 102400)) /dev/urandom | split -b 102400 -a 5 -d - "$src/small/f"
fi
"$here/stowage" --version >/dev/null # builds the jar first if needed, outside the timing
sync

big_bytes=$(stat -c %s "$src/big.bin")
small_bytes=$((small_files * 102400))
[ -w /proc/sys/vm/drop_caches ] && caches="dropped before each copy" || caches="not dropped (not root)"
echo "# $(nproc) cores, $(df -h --output=source,fstype "$dir" | tail -1), page cache $caches"
printf '%-6s %-22s %9s %9s\n' round copy seconds MB/s
run() { # name bytes source command...
  local name=$1 bytes=$2 source=$3; shift 3
  warm_source "$source"
  drop_caches
  local t0; t0=$(now)
  "$@" >/dev/null
  sync
  local s; s=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {print b - a}')
  printf '%-6s %-22s %9.2f %9s\n' "$r" "$name" "$s" "$(mbps "$bytes" "$s")"
  echo "$name $s" >> "$dir/times"
}
rm -f "$dir/times"
rm -rf "$dir"/dst-*
for ((r = 1; r <= rounds; r++)); do
  # Alternate which tool goes first.
  if ((r % 2)); then order="cp stowage"; else order="stowage cp"; fi
  for tool in $order; do
    dst="$dir/dst-$r-$tool"; mkdir -p "$dst"
    if [ "$tool" = cp ]; then
      run "cp big" "$big_bytes" "$src/big.bin" cp "$src/big.bin" "$dst/big.bin"
      run "cp -r small" "$small_bytes" "$src/small" cp -r "$src/small" "$dst/small"
    else
      run "stowage stage big" "$big_bytes" "$src/big.bin" "$here/stowage" stage "$src/big.bin" "$dst/big.bin"
      run "stowage stage small" "$small_bytes" "$src/small" "$here/stowage" stage "$src/small" "$dst/small"
    fi
  done
done
echo
printf '%-22s %9s %9s\n' "median of $rounds" seconds MB/s
for name in "cp big" "stowage stage big" "cp -r small" "stowage stage small"; do
  s=$(grep "^$name " "$dir/times" | awk '{print $NF}' | median)
  case "$name" in *big) b=$big_bytes ;; *) b=$small_bytes ;; esac
  printf '%-22s %9.2f %9s\n' "$name" "$s" "$(mbps "$b" "$s")"
done
echo
printf '%-22s %s\n' "ratio per round" "cp seconds / stowage seconds (above 1: stowage faster)"
for kind in big small; do
  case $kind in big) c="cp big" ;; *) c="cp -r small" ;; esac
  ratios=$(paste <(grep "^$c " "$dir/times" | awk '{print $NF}') \
    <(grep "^stowage stage $kind " "$dir/times" | awk '{print $NF}') | awk '{printf "%.2f\n", $1 / $2}')
  printf '%-22s %s  median %s\n' "$kind" "$(echo $ratios)" "$(echo "$ratios" | median)"
done
rm -rf "$dir"/dst-*
