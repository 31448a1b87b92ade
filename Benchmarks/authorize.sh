#!/usr/bin/env bash
# The PBX's question on every call setup: POST /pbx/v1/authorize, against a class of service with
# 3 nested levels and 50 rules, at 64 connections, as a ratio to GET /health in the same run; and
# its question at every registration: GET /pbx/v1/credentials/<user>, for a phone's own line and
# for a user nobody has (a SIP scanner's guess: 404). DEVICES more phones with their own lines
# are in the store (default 10,000), as at a large site.
# Usage: Benchmarks/authorize.sh [SECONDS] [CONNECTIONS] [DEVICES]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-10}
CONNECTIONS=${2:-64}
DEVICES=${3:-10000}
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
  for i in $(seq 1 "$DEVICES"); do
    printf '  - {mac: "%012x", model: sangoma-s500, line: {number: "%d", sip_password: "line-secret-%d"}}\n' $((0x0050c2000000 + i)) $((200000 + i)) "$i"
  done
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
printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$KEY" > "$WORK/key.lua"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/pbx/v1/credentials/8001")" = 200 ] \
  || { echo "the phone's own line has no credentials" >&2; exit 1; }
LINE=$(run -s "$WORK/key.lua" "http://127.0.0.1:$PORT/pbx/v1/credentials/8001")
GUESS=$(run -s "$WORK/key.lua" "http://127.0.0.1:$PORT/pbx/v1/credentials/99999999")
echo "connections $CONNECTIONS, $SECONDS_EACH s each, same run, $((DEVICES + 1)) phones with their own lines"
ratio() { python3 -c "print('%.2f' % (float('$(rate "$1")') / float('$(rate "$HEALTH")')))"; }
row() { printf '%-44s %10s req/s  %5s× health  p50 %8s  p99 %8s\n' "$1" "$(rate "$2")" "$(ratio "$2")" "$(latency "$2" 50%)" "$(latency "$2" 99%)"; }
row "GET /health" "$HEALTH"
row "POST /pbx/v1/authorize (a phone's own line)" "$AUTH"
row "GET /pbx/v1/credentials/<own line>" "$LINE"
row "GET /pbx/v1/credentials/<unknown user> (404)" "$GUESS"
for out in "$AUTH" "$LINE"; do
  grep -q "Non-2xx" <<< "$out" && { echo "errors where 200s were expected:" >&2; grep "Non-2xx" <<< "$out" >&2; exit 1; }
done
exit 0
