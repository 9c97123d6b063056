#!/usr/bin/env bash
# Check throughput of mixs against a do-nothing Mixer, same load, same run.
#
#   tests/load/check-load.sh [CONFIG_DIR] [ROUNDS] [REQUESTS_PER_ROUND]
#   MIXS_ARGS='--numCheckCacheEntries 10000' tests/load/check-load.sh   # the same with the exact check cache
#
# Starts both servers on free loopback ports, then runs h2load (2 connections x 64 streams, a
# sidecar-like CheckRequest of ~20 attributes) against each in turn, ROUNDS times interleaved, and
# prints the median checks/s, p50 and p99 of each and the ratio mixs / do-nothing. Bounded: every
# round sends a fixed number of requests, and both servers are stopped on exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
config="${1:-$root/tests/load/policy-20}"
rounds="${2:-5}"
requests="${3:-200000}"

command -v h2load >/dev/null || { echo "installing nghttp2-client (h2load)"; apt-get install -y -qq nghttp2-client >/dev/null; }

out="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$out"; }
trap cleanup EXIT

dotnet build -c Release -nologo -v q "$root/mixer/Mixer.Server" >/dev/null
dotnet build -c Release -nologo -v q "$root/tests/Mixer.LoadTools" >/dev/null
tools="$root/tests/Mixer.LoadTools/bin/Release/net10.0/Mixer.LoadTools.dll"
mixs="$root/mixer/Mixer.Server/bin/Release/net10.0/mixs.dll"
dotnet "$tools" check-body "$out/check.bin"

dotnet "$tools" noop-mixer --port 0 >"$out/noop.log" 2>&1 & pids+=($!); noop_pid=$!
dotnet "$mixs" server --port 0 --monitoringPort 0 --configStoreURL "fs://$config" --log_output_level warn ${MIXS_ARGS:-} >"$out/mixs.log" 2>&1 & pids+=($!); mixs_pid=$!
for i in $(seq 1 100); do
  grep -q "serving gRPC" "$out/noop.log" && grep -q "serving gRPC" "$out/mixs.log" && break
  sleep 0.2
done
noop=$(sed -n 's#.*serving gRPC on http://\([^ ,]*\).*#\1#p' "$out/noop.log" | head -1)
mix=$(sed -n 's#.*serving gRPC on \([^ ,]*\).*#\1#p' "$out/mixs.log" | head -1)
[ -n "$noop" ] && [ -n "$mix" ] || { echo "servers did not start"; cat "$out"/*.log; exit 1; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick_us=$((1000000 / $(getconf CLK_TCK)))

run() { # name address round pid
  local log="$out/$1-$3.tsv"
  local t0; t0=$(cpu_ticks "$4")
  h2load -n "$requests" -c 2 -m 64 -t 1 -d "$out/check.bin" \
    -H 'content-type: application/grpc' -H 'te: trailers' --log-file="$log" \
    "http://$2/istio.mixer.v1.Mixer/Check" >"$out/$1-$3.txt"
  local t1; t1=$(cpu_ticks "$4")
  local cpu; cpu=$(echo "($t1 - $t0) * $tick_us / $requests" | bc -l)
  local rps; rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$out/$1-$3.txt")
  local failed; failed=$(sed -n 's/^requests: .* \([0-9]*\) failed.*/\1/p' "$out/$1-$3.txt")
  # Latency column (3rd, microseconds) sorted: p50 and p99.
  local p50 p99
  read -r p50 p99 < <(cut -f3 "$log" | sort -n | awk '{a[NR]=$1} END {print a[int(NR*0.5)], a[int(NR*0.99)]}')
  echo "$rps $p50 $p99 $failed $cpu"
}

# Warm both up (JIT, connection pools), then interleave rounds so drift hits both alike.
requests_saved=$requests; requests=20000
run noop "$noop" warm "$noop_pid" >/dev/null; run mixs "$mix" warm "$mixs_pid" >/dev/null
requests=$requests_saved
: >"$out/noop.res"; : >"$out/mixs.res"
for r in $(seq 1 "$rounds"); do
  run noop "$noop" "$r" "$noop_pid" >>"$out/noop.res"
  run mixs "$mix" "$r" "$mixs_pid" >>"$out/mixs.res"
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
report() { # name file
  local rps p50 p99 failed cpu
  rps=$(cut -d' ' -f1 "$2" | median); p50=$(cut -d' ' -f2 "$2" | median); p99=$(cut -d' ' -f3 "$2" | median)
  failed=$(cut -d' ' -f4 "$2" | paste -sd+ | bc); cpu=$(cut -d' ' -f5 "$2" | median)
  printf '%-10s %10.0f checks/s   p50 %6d us   p99 %6d us   server CPU %5.1f us/check   failed %d\n' "$1" "$rps" "$p50" "$p99" "$cpu" "$failed"
}
echo "rounds=$rounds requests/round=$requests (2 connections x 64 streams), config=$config ${MIXS_ARGS:-}"
report do-nothing "$out/noop.res"
report mixs "$out/mixs.res"
ratio=$(echo "$(cut -d' ' -f1 "$out/mixs.res" | median) / $(cut -d' ' -f1 "$out/noop.res" | median)" | bc -l)
printf 'ratio mixs/do-nothing: %.2f\n' "$ratio"
