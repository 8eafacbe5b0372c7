#!/usr/bin/env bash
# S3 upload and download throughput of `./stowage stage` against S3Proxy on loopback (a file
# system blob store on the same disk), fsync included (`sync` inside the timing), for one large
# file. S3Proxy is the test suite's server, run from the staging module's test classpath.
#
#   bench/scripts/s3-throughput.sh [dir] [rounds] [MiB]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dir="${1:-$here/target/s3-bench}"
rounds="${2:-3}"
mib="${3:-1024}"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
mkdir -p "$dir"
(cd "$here" && ./mvnw -q -pl staging -am -DskipTests -Dspotless.check.skip=true install \
  && ./mvnw -q -pl staging test-compile dependency:build-classpath -Dmdep.includeScope=test \
       -Dmdep.outputFile="$dir/cp.txt")
"$here/stowage" --version >/dev/null
port=$((20000 + RANDOM % 20000))
rm -rf "$dir/blobs"
"$JAVA_HOME/bin/java" -cp "$here/staging/target/test-classes:$here/staging/target/classes:$(cat "$dir/cp.txt")" \
  dev.stowage.staging.S3ProxyMain "$port" "$dir/blobs" bench > "$dir/s3proxy.log" 2>&1 &
proxy=$!
trap 'kill $proxy 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q listening "$dir/s3proxy.log" && break; sleep 0.2; done
export AWS_ENDPOINT_URL_S3="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=access AWS_SECRET_ACCESS_KEY=secret AWS_REGION=us-east-1
[ -f "$dir/big.bin" ] && [ "$(stat -c %s "$dir/big.bin")" -eq $((mib << 20)) ] || head -c $((mib << 20)) /dev/urandom > "$dir/big.bin"
sync
bytes=$((mib << 20))
secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN {print b - a}'; }
echo "# $(nproc) cores, $mib MiB, S3Proxy $(df -h --output=source,fstype "$dir" | tail -1)"
printf '%-6s %-10s %9s %9s\n' round transfer seconds MB/s
for ((r = 1; r <= rounds; r++)); do
  t0=$(date +%s.%N)
  "$here/stowage" stage "$dir/big.bin" "s3://bench/big-$r.bin" > /dev/null; sync
  s=$(secs "$t0"); printf '%-6s %-10s %9.2f %9.0f\n' "$r" upload "$s" "$(awk -v b=$bytes -v s="$s" 'BEGIN {print b/1e6/s}')"
  rm -f "$dir/down.bin"
  t0=$(date +%s.%N)
  "$here/stowage" stage "s3://bench/big-$r.bin" "$dir/down.bin" > /dev/null; sync
  s=$(secs "$t0"); printf '%-6s %-10s %9.2f %9.0f\n' "$r" download "$s" "$(awk -v b=$bytes -v s="$s" 'BEGIN {print b/1e6/s}')"
  cmp -s "$dir/big.bin" "$dir/down.bin" || { echo "download $r differs from the upload" >&2; exit 1; }
done
