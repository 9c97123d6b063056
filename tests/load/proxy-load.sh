#!/usr/bin/env bash
# The sidecar's cost, one run: the sample backend direct, through plain YARP forwarding (mixer-proxy
# with --check false --report false: the same forwarder, nothing else), and through mixer-proxy
# with policy on (Check answered from the check cache, every request reported in batches to mixs
# serving tests/load/policy-20, 20 rules).
#
#   tests/load/proxy-load.sh [ROUNDS] [SECONDS] [CONNECTIONS]
#
# wrk (1 thread, CONNECTIONS keep-alive connections) hits each target for SECONDS, ROUNDS times
# interleaved after a 3 s warm-up each, and prints requests/s, p50 and p99 per target (the median
# round), policy-on as a share of plain YARP, and the p99 it adds. Bounded: fixed rounds and
# durations; everything it starts is stopped on exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
rounds="${1:-3}"
seconds="${2:-10}"
connections="${3:-32}"

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

wait_line() { # file pattern
  for _ in $(seq 1 150); do grep -q "$2" "$1" && return 0; sleep 0.2; done
  echo "did not start: $1"; cat "$1"; exit 1
}

dotnet "$mixs" server --port 0 --monitoringPort 0 --configStoreURL "fs://$config" --log_output_level warn >"$out/mixs.log" 2>&1 & pids+=($!)
dotnet "$tools" backend --port 0 >"$out/backend.log" 2>&1 & pids+=($!)
wait_line "$out/mixs.log" "serving gRPC"
wait_line "$out/backend.log" "backend serving"
mixer=$(sed -n 's#.*serving gRPC on \([^ ,]*\).*#\1#p' "$out/mixs.log" | head -1)
backend=$(sed -n 's#.*backend serving HTTP on http://\([^ ,]*\).*#\1#p' "$out/backend.log" | head -1)

identity=(--name productpage-v1 --namespace bookinfo --service productpage.default.svc.cluster.local --labels app=productpage,version=v1)
dotnet "$proxy" --check false --report false "${identity[@]}" --inbound "127.0.0.1:0=$backend" >"$out/plain.log" 2>&1 & pids+=($!)
dotnet "$proxy" --mixer "$mixer" "${identity[@]}" --inbound "127.0.0.1:0=$backend" --admin 127.0.0.1:0 >"$out/policy.log" 2>&1 & pids+=($!)
wait_line "$out/plain.log" "mixer-proxy listening"
wait_line "$out/policy.log" "mixer-proxy listening"
plain=$(sed -n 's#.*inbound-0 http \([^ ]*\) ->.*#\1#p' "$out/plain.log")
policy=$(sed -n 's#.*inbound-0 http \([^ ]*\) ->.*#\1#p' "$out/policy.log")
admin=$(sed -n 's#.*admin http://\([^ ;]*\).*#\1#p' "$out/policy.log")

# A denied request proves the policy is live before measuring.
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'x-user: blocked-2' "http://$policy/")
[ "$code" = 403 ] || { echo "policy not enforced (got $code)"; cat "$out/policy.log" "$out/mixs.log"; exit 1; }

to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.3f", v}' <<<"$1"; }
run() { # name address seconds -> "rps p50ms p99ms errors"
  local txt="$out/$1.txt"
  wrk -t1 -c"$connections" -d"$3"s --latency "http://$2/" >"$txt"
  local rps p50 p99 non2xx
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$txt")
  p50=$(to_ms "$(awk '$1=="50%" {print $2}' "$txt")")
  p99=$(to_ms "$(awk '$1=="99%" {print $2}' "$txt")")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$txt"); non2xx=${non2xx:-0}
  echo "$rps $p50 $p99 $non2xx"
}

for t in "direct $backend" "plain $plain" "policy $policy"; do set -- $t; run "$1" "$2" 3 >/dev/null; done
: >"$out/direct.res"; : >"$out/plain.res"; : >"$out/policy.res"
for r in $(seq 1 "$rounds"); do
  run direct "$backend" "$seconds" >>"$out/direct.res"
  run plain "$plain" "$seconds" >>"$out/plain.res"
  run policy "$policy" "$seconds" >>"$out/policy.res"
done

median() { sort -n -k1,1 "$1" | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }
read -r d_rps d_p50 d_p99 d_err < <(median "$out/direct.res")
read -r p_rps p_p50 p_p99 p_err < <(median "$out/plain.res")
read -r m_rps m_p50 m_p99 m_err < <(median "$out/policy.res")

metric() { curl -s "http://$admin/metrics" | awk -v n="$1" '$1==n {print $2}'; }
monitoring=$(sed -n 's#.*monitoring on \([^ ,]*\).*#\1#p' "$out/mixs.log" | head -1)
handled() { curl -s "http://$monitoring/metrics" | awk -v m="grpc_method=\"$1\"" '/^grpc_server_handled_total/ && index($0, m) {s+=$NF} END {print s+0}'; }
checks=$(handled Check)
reports=$(handled Report)

echo
echo "mixer-proxy load: wrk 1 thread x $connections connections, $rounds rounds x ${seconds}s each (median round), $(nproc) cores"
printf '%-34s %12s %10s %10s %8s\n' target "requests/s" "p50 ms" "p99 ms" non-2xx
printf '%-34s %12s %10s %10s %8s\n' "direct to the backend" "$d_rps" "$d_p50" "$d_p99" "$d_err"
printf '%-34s %12s %10s %10s %8s\n' "plain YARP (no policy)" "$p_rps" "$p_p50" "$p_p99" "$p_err"
printf '%-34s %12s %10s %10s %8s\n' "mixer-proxy, policy on (cached)" "$m_rps" "$m_p50" "$m_p99" "$m_err"
awk -v m="$m_rps" -v p="$p_rps" -v mp="$m_p99" -v pp="$p_p99" 'BEGIN {printf "policy-on / plain YARP: %.1f%% of requests/s (target >= 85%%), p99 %+.3f ms (target <= +1 ms)\n", 100*m/p, mp-pp}'
for t in direct plain policy; do echo "rounds $t (requests/s p50 p99 non-2xx): $(paste -sd ';' "$out/$t.res")"; done
echo "mixs saw $checks Check and $reports Report calls; proxy: check cache hits $(metric mixer_proxy_check_cache_hits_total), Check calls $(metric mixer_proxy_check_calls_total), report sets sent $(metric mixer_proxy_report_sets_sent_total) in $(metric mixer_proxy_report_requests_total) requests, dropped $(metric mixer_proxy_report_sets_dropped_total)"
