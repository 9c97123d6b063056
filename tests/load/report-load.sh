#!/usr/bin/env bash
# Report throughput of mixs (ten metrics through the prometheus adapter) against a do-nothing
# Mixer, same load, same run.
#
#   tests/load/report-load.sh [CONFIG_DIR] [ROUNDS] [SECONDS_PER_ROUND]
#   MIXS_ENV="DOTNET_gcServer=0" tests/load/report-load.sh     # mixs with other runtime settings
#
# Starts both servers on free loopback ports, then runs h2load (2 connections x 16 streams, a
# sidecar-like ReportRequest of 100 delta-encoded attribute sets) against each in turn, ROUNDS
# times interleaved, SECONDS_PER_ROUND each, and prints the median attribute sets/s of each, the
# ratio mixs / do-nothing, and mixs's peak resident memory (VmHWM). Then it sends exactly 1,000
# Reports and checks that the adapter's counter grew by exactly 100,000. Bounded: every round is time-limited (and h2load is
# killed if it overruns), and both servers are stopped on exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
config="${1:-$root/tests/load/telemetry-10}"
rounds="${2:-3}"
seconds="${3:-5}"
sets=100

command -v h2load >/dev/null || { echo "installing nghttp2-client (h2load)"; apt-get install -y -qq nghttp2-client >/dev/null; }

out="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$out"; }
trap cleanup EXIT

dotnet build -c Release -nologo -v q "$root/mixer/Mixer.Server" >/dev/null
dotnet build -c Release -nologo -v q "$root/tests/Mixer.LoadTools" >/dev/null
tools="$root/tests/Mixer.LoadTools/bin/Release/net10.0/Mixer.LoadTools.dll"
mixs="$root/mixer/Mixer.Server/bin/Release/net10.0/mixs.dll"
dotnet "$tools" report-body "$out/report.bin" "$sets"

promport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dotnet "$tools" noop-mixer --port 0 >"$out/noop.log" 2>&1 & noop_pid=$!; pids+=($noop_pid)
env ${MIXS_ENV:-} dotnet "$mixs" server --port 0 --monitoringPort 0 --prometheusAdapterPort "$promport" --configStoreURL "fs://$config" --log_output_level warn >"$out/mixs.log" 2>&1 & mixspid=$!; pids+=($mixspid)
for i in $(seq 1 100); do
  grep -q "serving gRPC" "$out/noop.log" && grep -q "serving gRPC" "$out/mixs.log" && break
  sleep 0.2
done
noop=$(sed -n 's#.*serving gRPC on http://\([^ ,]*\).*#\1#p' "$out/noop.log" | head -1)
mix=$(sed -n 's#.*serving gRPC on \([^ ,]*\).*#\1#p' "$out/mixs.log" | head -1)
[ -n "$noop" ] && [ -n "$mix" ] || { echo "servers did not start"; cat "$out"/*.log; exit 1; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick_us=$((1000000 / $(getconf CLK_TCK)))

run() { # name address round duration pid
  local t0; t0=$(cpu_ticks "$5")
  timeout $(( $4 + 30 )) h2load -D "$4" -c 2 -m 16 -t 1 -d "$out/report.bin" \
    -H 'content-type: application/grpc' -H 'te: trailers' \
    "http://$2/istio.mixer.v1.Mixer/Report" >"$out/$1-$3.txt"
  local rps; rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$out/$1-$3.txt")
  local done_; done_=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$out/$1-$3.txt")
  local failed; failed=$(sed -n 's/^requests: .* \([0-9]*\) failed.*/\1/p' "$out/$1-$3.txt")
  local t1; t1=$(cpu_ticks "$5")
  # Server CPU (user + system) per attribute set served.
  local cpu; cpu=$(echo "($t1 - $t0) * $tick_us / (${done_:-0} * $sets + 1)" | bc -l)
  echo "$rps ${done_:-0} ${failed:-0} $cpu"
}

# Warm both up (JIT, connection pools), then interleave rounds so drift hits both alike.
run noop "$noop" warm 2 "$noop_pid" >/dev/null; run mixs "$mix" warm 2 "$mixspid" >"$out/mixs.warm"
: >"$out/noop.res"; : >"$out/mixs.res"
for r in $(seq 1 "$rounds"); do
  run noop "$noop" "$r" "$seconds" "$noop_pid" >>"$out/noop.res"
  run mixs "$mix" "$r" "$seconds" "$mixspid" >>"$out/mixs.res"
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
report() { # name file
  local rps failed cpu
  rps=$(cut -d' ' -f1 "$2" | median)
  failed=$(cut -d' ' -f3 "$2" | paste -sd+ | bc)
  cpu=$(cut -d' ' -f4 "$2" | median)
  printf '%-10s %10.0f reports/s %12.0f attribute sets/s   server CPU %6.3f us/set   failed %d\n' "$1" "$rps" "$(echo "$rps * $sets" | bc -l)" "$cpu" "$failed"
}
echo "rounds=$rounds x ${seconds}s, Report of $sets attribute sets (2 connections x 16 streams), config=$config"
report do-nothing "$out/noop.res"
report mixs "$out/mixs.res"
ratio=$(echo "$(cut -d' ' -f1 "$out/mixs.res" | median) / $(cut -d' ' -f1 "$out/noop.res" | median)" | bc -l)
printf 'ratio mixs/do-nothing: %.2f\n' "$ratio"
printf 'mixs peak memory (VmHWM): %s\n' "$(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' "/proc/$mixspid/status")"

# Exactness: a fixed number of Reports (h2load -n) moves the adapter's counter by exactly that
# many sets (the timed rounds above cannot say, as they end with requests in flight).
count() { curl -s "http://127.0.0.1:$promport/metrics" | awk '/^istio_requests_total\{/ {s += $2} END {printf "%.0f", s}'; }
before=$(count)
timeout 120 h2load -n 1000 -c 2 -m 16 -t 1 -d "$out/report.bin" -H 'content-type: application/grpc' -H 'te: trailers' \
  "http://$mix/istio.mixer.v1.Mixer/Report" >"$out/exact.txt"
after=$(count)
echo "exactness: 1000 Reports of $sets sets -> istio_requests_total grew by $((after - before)) (expected $((1000 * sets)))"
