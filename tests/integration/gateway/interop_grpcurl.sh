#!/usr/bin/env bash
# Interop: grpcurl (grpc-go, an independent gRPC implementation) uploads a JSON batch to the
# real agent-gateway binary over mutual TLS; the ack must list the seq and the message must be
# in the TELEMETRY stream with the contract's headers. Plaintext must be refused.
#   interop_grpcurl.sh AGENT_GATEWAY_BIN GW_JS_GET_BIN
set -euo pipefail
gw_bin=$1 js_get=$2
root=$(cd "$(dirname "$0")/../../.." && pwd)
nats_server=${SR_NATS_SERVER:-nats-server}
bin=$("$root/scripts/tools.sh" grpcurl | tail -n1)
grpcurl=$bin/grpcurl

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "interop_grpcurl: FAIL: $*" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port
    for _ in $(seq 1 200); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.05
    done
    fail "nothing listens on port $1"
}

bash "$root/tests/support/gencerts.sh" "$work/pki" agent-1 >/dev/null
nport=$(free_port)
"$nats_server" -a 127.0.0.1 -p "$nport" -js -sd "$work/js" >"$work/nats.log" 2>&1 &
pids+=($!)
wait_port "$nport"
nats_url=nats://127.0.0.1:$nport

# the core normally creates the stream: here a raw JetStream API request over the NATS text
# protocol creates TELEMETRY (telemetry.>, file storage, 2 min duplicate window)
python3 - "$nport" <<'PY'
import json, socket, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=10)
f = s.makefile("rb")
f.readline()  # INFO
cfg = {"name": "TELEMETRY", "subjects": ["telemetry.>"], "storage": "file", "duplicate_window": 120 * 10**9,
       "retention": "limits", "num_replicas": 1}
body = json.dumps(cfg).encode()
s.sendall(b'CONNECT {"verbose":false,"headers":true}\r\nSUB _INBOX.mk 1\r\n')
s.sendall(b"PUB $JS.API.STREAM.CREATE.TELEMETRY _INBOX.mk %d\r\n%s\r\nPING\r\n" % (len(body), body))
while True:
    line = f.readline()
    if not line:
        sys.exit("no reply from nats")
    if line.startswith(b"MSG"):
        n = int(line.split()[-1])
        reply = json.loads(f.read(n + 2)[:n])
        if "error" in reply:
            sys.exit("stream create failed: %r" % reply)
        break
PY

gport=$(free_port)
pki=$work/pki
cat >"$work/gateway.conf" <<CONF
listen = 127.0.0.1:$gport
tls.ca_file = $pki/ca.crt
tls.cert_file = $pki/gateway.crt
tls.key_file = $pki/gateway.key
tls.crl_file = $pki/ca.crl
nats.url = $nats_url
gateway.id = gw-interop
CONF
"$gw_bin" -c "$work/gateway.conf" --check-config >/dev/null || fail "--check-config rejected the config"
"$gw_bin" -c "$work/gateway.conf" >"$work/gateway.log" 2>&1 &
gw_pid=$!
pids+=($gw_pid)
wait_port "$gport"

epoch=$(( $(date +%s) * 1000 ))
batch='{"agent_id":"agent-1","epoch":"'$epoch'","seq":"7","created_unix_ms":"1700000000000",
        "metrics":{"hostname":"interop-host","points":[{"name":"cpu.usage_pct","dim":"total","value":12.5,"time_unix_ms":"1700000000000"},
                                                        {"name":"mem.used_bytes","dim":"","value":1048576,"time_unix_ms":"1700000000000"}]}}'
common=(-import-path "$root/proto" -proto serviceradar/agent/v1/agent.proto -authority localhost
        -cacert "$pki/ca.crt" -cert "$pki/agent-1.crt" -key "$pki/agent-1.key" -max-time 30)
ack=$("$grpcurl" "${common[@]}" -d "$batch" 127.0.0.1:"$gport" serviceradar.agent.v1.AgentGateway/Upload) \
    || { cat "$work/gateway.log" >&2; fail "grpcurl Upload failed"; }
echo "ack: $ack"
python3 - "$ack" <<'PY' || fail "unexpected ack"
import json, sys
a = json.loads(sys.argv[1])
assert a.get("ackedSeqs") == ["7"], a
assert a.get("accepted") == 1, a
assert a.get("duplicates", 0) == 0, a
PY

got=$("$js_get" "$nats_url" TELEMETRY telemetry.metrics.edge) || fail "message not in the stream"
echo "stream: $got"
case $got in
*"Nats-Msg-Id=agent-1:$epoch:7 "*"Sr-Agent-Id=agent-1 "*"msgs=1") ;;
*) fail "unexpected stream content: $got" ;;
esac

# the same batch again: acknowledged, reported as a duplicate, stored once
ack=$("$grpcurl" "${common[@]}" -d "$batch" 127.0.0.1:"$gport" serviceradar.agent.v1.AgentGateway/Upload)
python3 -c 'import json,sys; a=json.loads(sys.argv[1]); assert a.get("duplicates")==1 and a.get("ackedSeqs")==["7"], a' "$ack" \
    || fail "second upload not reported as duplicate: $ack"
"$js_get" "$nats_url" TELEMETRY telemetry.metrics.edge | grep -q "msgs=1$" || fail "duplicate was stored"

# identity mismatch is refused with PERMISSION_DENIED
out=$("$grpcurl" "${common[@]}" -d "${batch/\"agent-1\"/\"agent-9\"}" 127.0.0.1:"$gport" \
      serviceradar.agent.v1.AgentGateway/Upload 2>&1) && fail "mismatched agent_id accepted"
grep -q "PermissionDenied" <<<"$out" || fail "expected PermissionDenied, got: $out"

# plaintext is refused
if "$grpcurl" -plaintext -import-path "$root/proto" -proto serviceradar/agent/v1/agent.proto -max-time 10 \
    -d "$batch" 127.0.0.1:"$gport" serviceradar.agent.v1.AgentGateway/Upload >/dev/null 2>&1; then
    fail "plaintext call accepted"
fi

# graceful stop
kill -TERM "$gw_pid"
rc=0; wait "$gw_pid" || rc=$?
[ "$rc" -eq 0 ] || { cat "$work/gateway.log" >&2; fail "agent-gateway exited $rc on SIGTERM"; }
echo "interop_grpcurl: OK"
