#!/usr/bin/env bash
# The PBX's question on every call setup: POST /pbx/v1/authorize, against a class of service with
# 3 nested levels and 50 rules, at 64 connections, as a ratio to GET /health in the same run.
# Usage: Benchmarks/authorize.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-10}
CONNECTIONS=${2:-64}
PORT=${PORT:-18190}

scripts/bootstrap --bench
swift build -c release --product hotdesk >&2
BIN=$(swift build -c release --show-bin-path)

WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
{
  echo "settings:"
  echo "  default_login: true"
  echo "  internal_address: 127.0.0.1:$PORT"
  echo "  emergency_numbers: [\"112\"]"
  echo "  number_classes: {international: \"^00[0-9]+$\"}"
  echo "classes_of_service:"
  # Three levels: top includes middle includes base; 50 rules in all, the matching one last.
  echo "  - name: base"
  echo "    default: deny"
  echo "    rules:"
  for i in $(seq 1 16); do echo "      - {pattern: \"9${i}XX\", action: deny}"; done
  echo "      - {pattern: \"XXXX\", action: allow}"
  echo "  - name: middle"
  echo "    default: deny"
  echo "    includes: [base]"
  echo "    rules:"
  for i in $(seq 1 17); do echo "      - {pattern: \"8${i}XX\", action: deny}"; done
  echo "  - name: top"
  echo "    default: deny"
  echo "    includes: [middle]"
  echo "    rules:"
  for i in $(seq 1 15); do echo "      - {pattern: \"7${i}XX\", action: deny}"; done
  echo "      - {class: international, action: deny}"
  echo "devices:"
  echo "  - {mac: \"00:15:65:be:00:01\", model: yealink-t46u, cos_if_not_logged: top, line: {number: \"8001\", sip_password: \"bench-line-secret\"}}"
} > "$WORK/directory.yaml"
"$BIN/hotdesk" import "$WORK/directory.yaml" --db "$WORK/db.sqlite" >&2
KEY=$("$BIN/hotdesk" pbxkey create --db "$WORK/db.sqlite" --name bench)
LOG_LEVEL=warning "$BIN/hotdesk" serve --db "$WORK/db.sqlite" --host 127.0.0.1 --port "$PORT" 2> "$WORK/server.log" &
SERVER=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

cat > "$WORK/authorize.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"auth_user": "8001", "callee": "5502"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
LUA
# The answer must be an allow decided by the base class's last rule, three levels down.
ANSWER=$(curl -s -X POST -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" -d '{"auth_user": "8001", "callee": "5502"}' "http://127.0.0.1:$PORT/pbx/v1/authorize")
python3 -c 'import json,sys; a=json.loads(sys.argv[1]); sys.exit(0 if a["decision"] == "allow" and a["cos"] == "base" else 1)' "$ANSWER" \
  || { echo "unexpected answer: $ANSWER" >&2; exit 1; }

run() { wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency "$@" 2>&1; }
latency() { awk -v p="$2" '$1 == p { print $2 }' <<< "$1"; }
rate() { awk '/Requests\/sec/ { print $2 }' <<< "$1"; }
HEALTH=$(run "http://127.0.0.1:$PORT/health")
AUTH=$(run -s "$WORK/authorize.lua" "http://127.0.0.1:$PORT/pbx/v1/authorize")
echo "connections $CONNECTIONS, $SECONDS_EACH s each, same run"
echo "GET /health:            $(rate "$HEALTH") req/s, p50 $(latency "$HEALTH" 50%), p99 $(latency "$HEALTH" 99%)"
echo "POST /pbx/v1/authorize: $(rate "$AUTH") req/s, p50 $(latency "$AUTH" 50%), p99 $(latency "$AUTH" 99%)"
python3 -c "print('throughput ratio authorize/health: %.2f' % (float('$(rate "$AUTH")') / float('$(rate "$HEALTH")')))"
grep -q "Non-2xx" <<< "$AUTH" && { echo "authorize answered errors:" >&2; grep "Non-2xx" <<< "$AUTH" >&2; exit 1; }
exit 0
