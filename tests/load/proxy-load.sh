#!/usr/bin/env bash
# The sidecar's cost, one run: the sample backend direct, through plain YARP forwarding (mixer-proxy
# with --check false --report false: the same binary, Kestrel and forwarder settings and log level,
# nothing else on the path), and through mixer-proxy with policy on (Check answered from the check
# cache, every request reported in batches to mixs serving tests/load/policy-20, 20 rules).
#
#   tests/load/proxy-load.sh [ROUNDS] [SECONDS] [CONNECTIONS]
#   COMPARE_PROXY=/path/to/other/mixer-proxy.dll tests/load/proxy-load.sh   # a second policy-on build, same run
#   COMPARE_ARGS="--report false" (with COMPARE_PROXY)                       # ... or the same build with other flags
#   TELEMETRY=1 tests/load/proxy-load.sh                                      # mixs also exports ten metrics (telemetry-10)
#
# wrk (1 thread, CONNECTIONS HTTP/1.1 keep-alive connections) hits each target for SECONDS, ROUNDS
# times interleaved (the order rotates every round) after a warm-up each (WARMUP seconds, 10 by default), and prints requests/s,
# p50 and p99 per target (median round), policy-on as a share of plain YARP, the p99 it adds, and
# the CPU each process spent per request (utime+stime from /proc over the measured rounds, divided
# by the requests served), and each proxy's GC pause and allocation per request (from its admin
# /metrics). On a shared machine run it as `nice -n -15 tests/load/proxy-load.sh`.
# Bounded: fixed rounds and durations; everything it starts is stopped on exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
rounds="${1:-5}"
seconds="${2:-10}"
connections="${3:-32}"
compare="${COMPARE_PROXY:-}"

command -v wrk >/dev/null || { echo "installing wrk"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

out="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$out"; }
trap cleanup EXIT

for p in mixer/Mixer.Server proxy/Mixer.Proxy tests/Mixer.LoadTools; do
  dotnet build -c Release -nologo -v q "$root/$p" >/dev/null
done
mixs="$root/mixer/Mixer.Server/bin/Release/net10.0/mixs.dll"
proxy="$root/proxy/Mixer.Proxy/bin/Release/net10.0/mixer-proxy.dll"
tools="$root/tests/Mixer.LoadTools/bin/Release/net10.0/Mixer.LoadTools.dll"

# Policy for mixs: the 20-rule config of the Check benchmark (tests/load/policy-20). Inbound to
# productpage in namespace bookinfo, 19 rules are evaluated and do not match; deny-2 refuses a
# request whose x-user is blocked-2.
config="$root/tests/load/policy-20"
# TELEMETRY=1: the ten Istio metrics of tests/load/telemetry-10 through the prometheus adapter as
# well, so every reported request is also decoded and counted in mixs (a mesh with telemetry on).
promargs=()
if [ "${TELEMETRY:-0}" = 1 ]; then
  mkdir -p "$out/config"
  cp "$config"/*.yaml "$out/config/"
  cp "$root/tests/load/telemetry-10/metrics.yaml" "$out/config/"
  config="$out/config"
  promargs=(--prometheusAdapterPort "$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')")
fi

wait_line() { # file pattern
  for _ in $(seq 1 150); do grep -q "$2" "$1" && return 0; sleep 0.2; done
  echo "did not start: $1"; cat "$1"; exit 1
}

declare -A pid addr label
dotnet "$mixs" server --port 0 --monitoringPort 0 "${promargs[@]}" --configStoreURL "fs://$config" --log_output_level warn >"$out/mixs.log" 2>&1 & pids+=($!); mixs_pid=$!
dotnet "$tools" backend --port 0 >"$out/backend.log" 2>&1 & pids+=($!); backend_pid=$!
wait_line "$out/mixs.log" "serving gRPC"
wait_line "$out/backend.log" "backend serving"
mixer=$(sed -n 's#.*serving gRPC on \([^ ,]*\).*#\1#p' "$out/mixs.log" | head -1)
backend=$(sed -n 's#.*backend serving HTTP on http://\([^ ,]*\).*#\1#p' "$out/backend.log" | head -1)

identity=(--name productpage-v1 --namespace bookinfo --service productpage.default.svc.cluster.local --labels app=productpage,version=v1)
# Both proxies get an admin listener, so the only difference is --check/--report.
start_proxy() { # name dll flags...
  local name=$1 dll=$2; shift 2
  dotnet "$dll" "$@" "${identity[@]}" --inbound "127.0.0.1:0=$backend" --admin 127.0.0.1:0 >"$out/$name.log" 2>&1 & pids+=($!); pid[$name]=$!
}
start_proxy plain "$proxy" --check false --report false
start_proxy policy "$proxy" --mixer "$mixer"
targets=(direct plain policy)
# COMPARE_ARGS: extra flags for the compared proxy, e.g. COMPARE_PROXY=<this build> COMPARE_ARGS="--report false"
# splits policy-on's cost into its Check and Report parts in one run.
[ -n "$compare" ] && { start_proxy compare "$compare" --mixer "$mixer" ${COMPARE_ARGS:-}; targets+=(compare); }
pid[direct]=$backend_pid; addr[direct]=$backend
for t in "${targets[@]:1}"; do
  wait_line "$out/$t.log" "mixer-proxy listening"
  addr[$t]=$(sed -n 's#.*inbound-0 http \([^ ]*\) ->.*#\1#p' "$out/$t.log")
done
declare -A admin_of
for t in "${targets[@]:1}"; do admin_of[$t]=$(sed -n 's#.*admin http://\([^ ;]*\).*#\1#p' "$out/$t.log"); done
admin=${admin_of[policy]}
label[direct]="direct to the backend"; label[plain]="plain YARP (no policy)"
label[policy]="mixer-proxy, policy on (cached)"; label[compare]="COMPARE_PROXY, policy on (cached)"

# A denied request proves the policy is live before measuring.
for t in "${targets[@]:2}"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'x-user: blocked-2' "http://${addr[$t]}/")
  [ "$code" = 403 ] || { echo "policy not enforced by $t (got $code)"; cat "$out/$t.log" "$out/mixs.log"; exit 1; }
done

tick_us=$((1000000 / $(getconf CLK_TCK)))
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.3f", v}' <<<"$1"; }
# The proxy's own GC figures from its admin /metrics: "pause_seconds allocated_bytes" (0 0 for the backend).
gc_of() { [ -n "${admin_of[$1]:-}" ] || { echo "0 0"; return; }; curl -s "http://${admin_of[$1]}/metrics" | awk '$1=="mixer_proxy_gc_pause_seconds_total" {p=$2} $1=="mixer_proxy_allocated_bytes_total" {a=$2} END {print p+0, a+0}'; }
run() { # target seconds -> "rps p50ms p99ms non2xx requests backend_ticks proxy_ticks mixs_ticks gc_pause_us alloc_bytes"
  local t=$1 txt="$out/$1.txt" b0 p0 m0 b1 p1 m1 g0 a0 g1 a1
  read -r g0 a0 < <(gc_of "$t")
  b0=$(cpu_ticks "$backend_pid"); p0=$(cpu_ticks "${pid[$t]}"); m0=$(cpu_ticks "$mixs_pid")
  wrk -t1 -c"$connections" -d"$2"s --latency "http://${addr[$t]}/" >"$txt"
  b1=$(cpu_ticks "$backend_pid"); p1=$(cpu_ticks "${pid[$t]}"); m1=$(cpu_ticks "$mixs_pid")
  read -r g1 a1 < <(gc_of "$t")
  local rps p50 p99 non2xx requests
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$txt")
  p50=$(to_ms "$(awk '$1=="50%" {print $2}' "$txt")")
  p99=$(to_ms "$(awk '$1=="99%" {print $2}' "$txt")")
  requests=$(awk '/requests in/ {print $1}' "$txt")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$txt"); non2xx=${non2xx:-0}
  # For the direct target the "proxy" is the backend itself: its proxy column stays 0.
  [ "$t" = direct ] && p1=$p0
  echo "$rps $p50 $p99 $non2xx $requests $((b1 - b0)) $((p1 - p0)) $((m1 - m0)) $(awk -v a="$g0" -v b="$g1" 'BEGIN {printf "%.0f", (b-a)*1e6}') $(awk -v a="$a0" -v b="$a1" 'BEGIN {printf "%.0f", b-a}')"
}

# Warm-up: long enough for tiered compilation to finish in every process (mixs, backend, proxies):
# a sidecar runs for days, and the policy-on proxy and mixs have more code to tier up than plain
# YARP, so a short warm-up charges their start-up JIT to the first measured round.
for t in "${targets[@]}"; do run "$t" "${WARMUP:-10}" >/dev/null; done
for t in "${targets[@]}"; do : >"$out/$t.res"; done
n=${#targets[@]}
for r in $(seq 1 "$rounds"); do
  for i in $(seq 0 $((n - 1))); do
    t=${targets[$(((i + r - 1) % n))]}
    run "$t" "$seconds" >>"$out/$t.res"
  done
done

median() { sort -n -k1,1 "$1" | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }
cpu_per_request() { # file column -> microseconds per request over all rounds
  awk -v c="$2" -v us="$tick_us" '{t+=$c; n+=$5} END {printf "%.1f", n ? t*us/n : 0}' "$1"
}

metric() { curl -s "http://$admin/metrics" | awk -v n="$1" '$1==n {print $2}'; }
monitoring=$(sed -n 's#.*monitoring on \([^ ,]*\).*#\1#p' "$out/mixs.log" | head -1)
handled() { curl -s "http://$monitoring/metrics" | awk -v m="grpc_method=\"$1\"" '/^grpc_server_handled_total/ && index($0, m) {s+=$NF} END {print s+0}'; }
checks=$(handled Check)
reports=$(handled Report)

echo
echo "mixer-proxy load: wrk 1 thread x $connections connections, $rounds rounds x ${seconds}s each (median round; CPU over all rounds), $(nproc) cores, nice $(nice), load average $(cut -d' ' -f1-3 /proc/loadavg)"
per_request() { # file column scale -> column total / requests, over all rounds
  awk -v c="$2" -v k="$3" '{t+=$c; n+=$5} END {printf "%.1f", n ? t*k/n : 0}' "$1"
}
printf '%-36s %11s %8s %8s %7s %12s %12s %12s %10s %10s\n' target "requests/s" "p50 ms" "p99 ms" non-2xx "proxy us/req" "backend us" "mixs us" "GC us/req" "B/req"
for t in "${targets[@]}"; do
  read -r rps p50 p99 err _ < <(median "$out/$t.res")
  printf '%-36s %11s %8s %8s %7s %12s %12s %12s %10s %10s\n' "${label[$t]}" "$rps" "$p50" "$p99" "$err" \
    "$(cpu_per_request "$out/$t.res" 7)" "$(cpu_per_request "$out/$t.res" 6)" "$(cpu_per_request "$out/$t.res" 8)" \
    "$(per_request "$out/$t.res" 9 1)" "$(per_request "$out/$t.res" 10 1)"
  echo "$rps $p99" >"$out/$t.med"
done
ratio() { # target
  read -r m mp <"$out/$1.med"; read -r p pp <"$out/plain.med"
  awk -v m="$m" -v p="$p" -v mp="$mp" -v pp="$pp" -v who="$1" 'BEGIN {printf "%s / plain YARP: %.1f%% of requests/s (target >= 85%%), p99 %+.3f ms (target <= +1 ms)\n", who, 100*m/p, mp-pp}'
}
for t in "${targets[@]:2}"; do ratio "$t"; done
for t in "${targets[@]}"; do echo "rounds $t (requests/s p50 p99 non-2xx requests; CPU ticks backend proxy mixs; proxy GC pause us, allocated bytes): $(paste -sd ';' "$out/$t.res")"; done
echo "mixs saw $checks Check and $reports Report calls; policy proxy: check cache hits $(metric mixer_proxy_check_cache_hits_total), Check calls $(metric mixer_proxy_check_calls_total), report sets sent $(metric mixer_proxy_report_sets_sent_total) in $(metric mixer_proxy_report_requests_total) requests, dropped $(metric mixer_proxy_report_sets_dropped_total)"
