#!/usr/bin/env bash
# Per-call cost of the out-of-process adapter host, against the cheapest call of the same server.
#
#   tests/load/adapter-load.sh [ROUNDS] [REQUESTS_PER_ROUND]
#
# Starts the sample audit adapter (sdk/samples/Mixer.Samples.AuditAdapter) on a free loopback
# port and runs h2load (2 connections x 64 streams) in interleaved rounds against:
#   baseline  InfrastructureBackend/CloseSession for an unknown session (parse, one dictionary
#             lookup, a small answer: the gRPC stack and little else)
#   check     listentry.HandleListEntryService/HandleListEntry as Istio 1.0's Mixer sends it:
#             the handler's params (a Struct of ~200 bytes) in every call, a caller to look up
# and prints median calls/s, p50, p99, adapter CPU per call and the ratio check / baseline. The
# handler lookup hashes and compares the params bytes on every call; this shows what that, the
# instance conversion and the handler cost over the bare gRPC call. Bounded, and stops the adapter
# on exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
rounds="${1:-5}"
requests="${2:-200000}"

command -v h2load >/dev/null || { echo "installing nghttp2-client (h2load)"; apt-get install -y -qq nghttp2-client >/dev/null; }

out="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$out"; }
trap cleanup EXIT

dotnet build -c Release -nologo -v q "$root/sdk/samples/Mixer.Samples.AuditAdapter" >/dev/null
adapter="$root/sdk/samples/Mixer.Samples.AuditAdapter/bin/Release/net10.0/Mixer.Samples.AuditAdapter.dll"

# Request bodies, gRPC-framed, encoded by hand (field numbers of the 1.0 protos).
python3 - "$out" <<'PY'
import struct, sys
out = sys.argv[1]
def varint(n):
    b = bytearray()
    while True:
        x = n & 0x7f; n >>= 7
        if n: b.append(x | 0x80)
        else: b.append(x); return bytes(b)
def field(num, payload):  # length-delimited
    return varint(num << 3 | 2) + varint(len(payload)) + payload
def s(num, text): return field(num, text.encode())
def value_string(text): return s(3, text)                       # google.protobuf.Value.string_value
def value_number(n): return varint(2 << 3 | 1) + struct.pack('<d', n)
def value_list(items): return field(6, b''.join(field(1, i) for i in items))
def entry(key, value): return field(1, s(1, key) + field(2, value))  # Struct.fields map entry
params = b''.join([
    entry('auditLog', value_string(out + '/audit.jsonl')),
    entry('blockedEntries', value_list([value_string('spiffe://cluster.local/ns/legacy/sa/batch'),
                                        value_string('spiffe://cluster.local/ns/evil/sa/default')])),
    entry('validDuration', value_string('5s')),
    entry('validUseCount', value_number(1000)),
])
any_ = s(1, 'type.googleapis.com/google.protobuf.Struct') + field(2, params)
instance = s(72295727, 'caller.instance.istio-system') + s(1, 'spiffe://cluster.local/ns/default/sa/productpage')
check = field(1, instance) + field(2, any_) + s(3, '12345')
close = s(1, 'no-such-session')
for name, body in (('check', check), ('baseline', close)):
    with open(f'{out}/{name}.bin', 'wb') as f:
        f.write(b'\0' + struct.pack('>I', len(body)) + body)
PY

dotnet "$adapter" --port 0 --log-level Warning >"$out/adapter.log" 2>&1 & pids+=($!); adapter_pid=$!
for i in $(seq 1 100); do grep -q "serving gRPC" "$out/adapter.log" && break; sleep 0.2; done
address=$(sed -n 's#.*serving gRPC on \([^ ]*\).*#\1#p' "$out/adapter.log" | head -1)
[ -n "$address" ] || { echo "adapter did not start"; cat "$out/adapter.log"; exit 1; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick_us=$((1000000 / $(getconf CLK_TCK)))

run() { # name path round
  local log="$out/$1-$3.tsv"
  local t0; t0=$(cpu_ticks "$adapter_pid")
  h2load -n "$requests" -c 2 -m 64 -t 1 -d "$out/$1.bin" \
    -H 'content-type: application/grpc' -H 'te: trailers' --log-file="$log" \
    "http://$address$2" >"$out/$1-$3.txt"
  local t1; t1=$(cpu_ticks "$adapter_pid")
  local cpu; cpu=$(echo "($t1 - $t0) * $tick_us / $requests" | bc -l)
  local rps; rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$out/$1-$3.txt")
  local failed; failed=$(sed -n 's/^requests: .* \([0-9]*\) failed.*/\1/p' "$out/$1-$3.txt")
  local p50 p99
  read -r p50 p99 < <(cut -f3 "$log" | sort -n | awk '{a[NR]=$1} END {print a[int(NR*0.5)], a[int(NR*0.99)]}')
  echo "$rps $p50 $p99 $failed $cpu"
}

check_path=/listentry.HandleListEntryService/HandleListEntry
base_path=/istio.mixer.adapter.model.v1beta1.InfrastructureBackend/CloseSession

# A gRPC error would still count as an h2load success, and h2load shows no trailers: an error
# answers with trailers only, so a check that answers with a message body (a CheckResult) is OK.
saved=$requests; requests=20000
run check "$check_path" warm >/dev/null; run baseline "$base_path" warm >/dev/null
requests=$saved
data=$(sed -n 's/^traffic: .*(\([0-9]*\)) data.*/\1/p' "$out/check-warm.txt")
[ "${data:-0}" -gt 0 ] || { echo "HandleListEntry answered without a CheckResult (a gRPC error):"; cat "$out/check-warm.txt"; exit 1; }

: >"$out/check.all"; : >"$out/baseline.all"
for r in $(seq 1 "$rounds"); do
  run baseline "$base_path" "$r" >>"$out/baseline.all"
  run check "$check_path" "$r" >>"$out/check.all"
done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { awk -v c="$2" '{print $c}' "$out/$1.all" | median; }
printf "%-10s %10s %9s %9s %14s %7s\n" server calls/s p50_us p99_us cpu_us/call failed
for s in baseline check; do
  printf "%-10s %10.0f %9s %9s %14.1f %7s\n" "$s" "$(col $s 1)" "$(col $s 2)" "$(col $s 3)" "$(col $s 5)" "$(awk '{f+=$4} END {print f}' "$out/$s.all")"
done
echo "ratio check/baseline calls/s: $(echo "$(col check 1) / $(col baseline 1)" | bc -l | xargs printf '%.2f')"
echo "ratio check/baseline adapter CPU per call: $(echo "$(col check 5) / $(col baseline 5)" | bc -l | xargs printf '%.2f')"
echo "(rounds: $rounds x $requests requests each, interleaved; load average $(cut -d' ' -f1-3 /proc/loadavg))"
