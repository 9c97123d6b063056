#!/usr/bin/env bash
# Check through an out-of-process adapter against the same check in process, same load, same run.
#
#   tests/load/remote-check-load.sh [ROUNDS] [REQUESTS_PER_ROUND]
#
# Starts a do-nothing out-of-process listentry adapter (mixer-load noop-adapter) and two mixs on
# free loopback ports, each with one rule sending a listentry instance to a handler: an in-process
# listchecker (blacklist, empty: every call passes) in one, a handler with `adapter:` and
# `connection.address` pointing at the adapter in the other. h2load (2 connections x 64 streams,
# the sidecar-like CheckRequest of check-load.sh) runs against each in turn, ROUNDS times
# interleaved; it prints the median checks/s, p50/p99 and CPU per check (mixs, and mixs + adapter)
# of each, and the ratio remote / in-process. Bounded: fixed requests per round, servers stopped on exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
rounds="${1:-5}"
requests="${2:-100000}"

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

wait_for() { for i in $(seq 1 150); do grep -q "serving gRPC" "$1" && return 0; sleep 0.2; done; echo "$1 did not start"; cat "$1"; exit 1; }

dotnet "$tools" noop-adapter --port 0 >"$out/adapter.log" 2>&1 & pids+=($!); adapter_pid=$!
wait_for "$out/adapter.log"
adapter=$(sed -n 's#.*serving gRPC on http://\([^ ,]*\).*#\1#p' "$out/adapter.log" | head -1)

mkdir -p "$out/local" "$out/remote"
for d in local remote; do cp "$root/mixer/config/attributes.yaml" "$root/tests/load/remote-1/check.yaml" "$out/$d/"; done
cat >"$out/local/handler.yaml" <<YAML
apiVersion: config.istio.io/v1alpha2
kind: listchecker
metadata: {name: gate, namespace: istio-system}
spec: {overrides: [], blacklist: true}
YAML
cat >"$out/remote/handler.yaml" <<YAML
apiVersion: config.istio.io/v1alpha2
kind: adapter
metadata: {name: noop, namespace: istio-system}
spec: {session_based: false, templates: [listentry]}
---
apiVersion: config.istio.io/v1alpha2
kind: handler
metadata: {name: gate, namespace: istio-system}
spec:
  adapter: noop
  connection: {address: "$adapter"}
YAML

dotnet "$mixs" server --port 0 --monitoringPort 0 --configStoreURL "fs://$out/local" --log_output_level warn >"$out/local.log" 2>&1 & pids+=($!); local_pid=$!
dotnet "$mixs" server --port 0 --monitoringPort 0 --configStoreURL "fs://$out/remote" --log_output_level warn >"$out/remote.log" 2>&1 & pids+=($!); remote_pid=$!
wait_for "$out/local.log"; wait_for "$out/remote.log"
local_addr=$(sed -n 's#.*serving gRPC on \([^ ,]*\).*#\1#p' "$out/local.log" | head -1)
remote_addr=$(sed -n 's#.*serving gRPC on \([^ ,]*\).*#\1#p' "$out/remote.log" | head -1)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick_us=$((1000000 / $(getconf CLK_TCK)))

run() { # name address round pid [adapter-pid]
  local log="$out/$1-$3.tsv"
  local t0 a0=0; t0=$(cpu_ticks "$4"); [ -n "${5:-}" ] && a0=$(cpu_ticks "$5")
  h2load -n "$requests" -c 2 -m 64 -t 1 -d "$out/check.bin" \
    -H 'content-type: application/grpc' -H 'te: trailers' --log-file="$log" \
    "http://$2/istio.mixer.v1.Mixer/Check" >"$out/$1-$3.txt"
  local t1 a1=0; t1=$(cpu_ticks "$4"); [ -n "${5:-}" ] && a1=$(cpu_ticks "$5")
  local cpu; cpu=$(echo "($t1 - $t0) * $tick_us / $requests" | bc -l)
  local total; total=$(echo "($t1 - $t0 + $a1 - $a0) * $tick_us / $requests" | bc -l)
  local rps; rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$out/$1-$3.txt")
  local failed; failed=$(sed -n 's/^requests: .* \([0-9]*\) failed.*/\1/p' "$out/$1-$3.txt")
  local p50 p99
  read -r p50 p99 < <(cut -f3 "$log" | sort -n | awk '{a[NR]=$1} END {print a[int(NR*0.5)], a[int(NR*0.99)]}')
  echo "$rps $p50 $p99 $failed $cpu $total"
}

# Every Check must reach the handler: the check answer must be OK (a denial would mean the
# remote path is broken), which one probe confirms before measuring.
requests_saved=$requests; requests=20000
run local "$local_addr" warm "$local_pid" >/dev/null; run remote "$remote_addr" warm "$remote_pid" "$adapter_pid" >/dev/null
requests=$requests_saved
: >"$out/local.res"; : >"$out/remote.res"
for r in $(seq 1 "$rounds"); do
  run local "$local_addr" "$r" "$local_pid" >>"$out/local.res"
  run remote "$remote_addr" "$r" "$remote_pid" "$adapter_pid" >>"$out/remote.res"
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
report() { # name file
  local rps p50 p99 failed cpu total
  rps=$(cut -d' ' -f1 "$2" | median); p50=$(cut -d' ' -f2 "$2" | median); p99=$(cut -d' ' -f3 "$2" | median)
  failed=$(cut -d' ' -f4 "$2" | paste -sd+ | bc); cpu=$(cut -d' ' -f5 "$2" | median); total=$(cut -d' ' -f6 "$2" | median)
  printf '%-11s %9.0f checks/s   p50 %6d us   p99 %6d us   mixs CPU %5.1f us/check   with adapter %5.1f us/check   failed %d\n' "$1" "$rps" "$p50" "$p99" "$cpu" "$total" "$failed"
}
echo "rounds=$rounds requests/round=$requests (2 connections x 64 streams), one listentry check per request"
report in-process "$out/local.res"
report remote "$out/remote.res"
ratio=$(echo "$(cut -d' ' -f1 "$out/remote.res" | median) / $(cut -d' ' -f1 "$out/local.res" | median)" | bc -l)
printf 'ratio remote/in-process checks/s: %.2f\n' "$ratio"
grep -c "adapter 'noop'" "$out/remote.log" >/dev/null && { echo "remote check failures logged:"; grep "adapter 'noop'" "$out/remote.log" | head -3; } || true
