#!/usr/bin/env bash
# The PBX under load (issue 24): SIPp through the example Kamailio (examples/pbx/kamailio.cfg),
# HotDesk answering its questions (the credentials of every REGISTER; the credentials and the
# class of service of every call, in one question), against the same Kamailio answering from a
# static table in the same run: the ceiling, the same configuration with the HTTP questions
# replaced by their answers (HA1 computed in the script, a fixed "deny"). Two scenarios (Benchmarks/pbx/*.xml), each ATTEMPTS
# times at most CONCURRENT at once, ROUNDS times alternating HotDesk and the ceiling:
#   register  REGISTER, 401, REGISTER with Digest, 200 (a phone's own line of USERS)
#   call      INVITE, 407, ACK, INVITE with Digest, 403 from the class of service, ACK
# Prints attempts per second of each, the ratio to the ceiling (goal: >= 0.5) and the p99 of an
# attempt's time, from its first request to its final answer (SIPp's response-time trace).
# Usage: Benchmarks/pbx.sh [ATTEMPTS] [CONCURRENT] [ROUNDS] [USERS]
set -euo pipefail
cd "$(dirname "$0")/.."
ATTEMPTS=${1:-4000}
CONCURRENT=${2:-32}
ROUNDS=${3:-3}
# One line per attempt by default: each line registers once per round. A running phone keeps its
# Call-ID from one REGISTER to the next, which SIPp cannot (it tells its calls apart by Call-ID);
# the same line again with a new Call-ID is a phone that restarted, which costs the example one
# more question (POST /pbx/v1/calls/reset): fewer USERS than ATTEMPTS measures that path.
USERS=${4:-$ATTEMPTS}
PORT=${PORT:-18210}
SIP_PORT=${SIP_PORT:-15070}

scripts/bootstrap --sip --pbx-bench
swift build -c release --product hotdesk >&2
BIN=$(swift build -c release --show-bin-path)
WORK=$(mktemp -d)
cleanup() { kill "${SERVER:-}" "${KAMAILIO:-}" 2>/dev/null || true; [ -n "${KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"; }
trap cleanup EXIT

# USERS phones, each with its own line (in use while nobody is logged in on it), whose class of
# service lets through nothing but internal numbers: an international call is the 403.
{
  echo "settings:"
  echo "  default_login: true"
  echo "  internal_address: 127.0.0.1:$PORT"
  echo "  sip: {server: \"127.0.0.2:$SIP_PORT\", realm: \"127.0.0.2\"}"
  echo "  emergency_numbers: [\"112\"]"
  echo "  number_classes: {international: \"^00[0-9]+$\"}"
  echo "classes_of_service:"
  echo "  - {name: lobby, default: deny, rules: [{pattern: \"5XXX\", action: allow}, {class: international, action: deny}]}"
  echo "devices:"
  for i in $(seq 1 "$USERS"); do
    printf '  - {mac: "00:15:65:%02x:%02x:%02x", model: yealink-t46u, cos_if_not_logged: lobby, line: {number: "8%04d", sip_password: "secret-8%04d"}}\n' \
      $((i / 65536)) $(((i / 256) % 256)) $((i % 256)) "$i" "$i"
  done
} >"$WORK/directory.yaml"
# SIPp's CSV: the user, and its Digest answer as SIPp takes it from a file.
for i in $(seq 1 "$USERS"); do printf '8%04d;[authentication username=8%04d password=secret-8%04d]\n' "$i" "$i" "$i"; done |
  { echo SEQUENTIAL; cat; } >"$WORK/users.csv"

cd "$WORK"
"$BIN/hotdesk" import directory.yaml --db hotdesk.sqlite --screens "$OLDPWD/Screens" >/dev/null
KEY=$("$BIN/hotdesk" pbxkey create --name bench --db hotdesk.sqlite)
LOG_LEVEL=warning "$BIN/hotdesk" serve --db hotdesk.sqlite --host 127.0.0.1 --port "$PORT" --screens "$OLDPWD/Screens" >server.log 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done

# The ceiling: the two questions answered in the script.
python3 - "$OLDPWD/examples/pbx/kamailio.cfg" >static.cfg <<'PY'
import sys
s = open(sys.argv[1]).read()
credentials = '$var(code) = http_client_query("$env(HOTDESK_URL)/pbx/v1/credentials/$var(user)?source_ip=$si", "", "Authorization: Bearer $env(HOTDESK_KEY)", "$var(body)");'
authorize = '$var(code) = http_client_query("$env(HOTDESK_URL)/pbx/v1/authorize", "{\\"auth_user\\": \\"$au\\", \\"callee\\": \\"$rU\\", \\"source_ip\\": \\"$si\\", \\"credentials\\": true}", "Content-Type: application/json\\r\\nAuthorization: Bearer $env(HOTDESK_KEY)", "$var(body)");'
for text in (credentials, authorize):
    if text not in s: sys.exit("Benchmarks/pbx.sh: the example's HotDesk question changed; update the ceiling: " + text[:60])
s = s.replace(credentials, '$var(a1) = $var(user) + ":127.0.0.2:secret-" + $var(user); $var(code) = 200; '
              '$var(body) = "{\\"ha1\\": \\"" + $(var(a1){s.md5}) + "\\", \\"emergency_caller_id\\": \\"\\"}";')
s = s.replace(authorize, '$var(a1) = $au + ":127.0.0.2:secret-" + $au; $var(code) = 200; '
              '$var(body) = "{\\"decision\\": \\"deny\\", \\"reason\\": \\"international\\", \\"caller_id\\": \\"\\", \\"ha1\\": \\"" + $(var(a1){s.md5}) + "\\"}";')
print(s)
PY

kamailio_start() { # config
  HOTDESK_URL="http://127.0.0.1:$PORT" HOTDESK_KEY="$KEY" /usr/sbin/kamailio -f "$1" -l "udp:127.0.0.2:$SIP_PORT" -DD -E -n "${WORKERS:-16}" -m 256 -M 16 \
    -L /usr/lib/x86_64-linux-gnu/kamailio/modules -w "$WORK" >>kamailio.log 2>&1 &
  KAMAILIO=$!
  for _ in $(seq 1 50); do ss -lun | grep -q "127.0.0.2:$SIP_PORT " && return; sleep 0.1; done
  echo "Benchmarks/pbx.sh: Kamailio did not start: $(tail -5 kamailio.log)" >&2; exit 1
}
kamailio_stop() { kill "$KAMAILIO" 2>/dev/null || true; wait "$KAMAILIO" 2>/dev/null || true; KAMAILIO=; }

run() { # scenario label -> "attempts/s p99_ms failed"
  rm -f ./*_rtt.csv
  local start end
  start=$(date +%s.%N)
  sipp 127.0.0.2:"$SIP_PORT" -sf "$OLDPWD/Benchmarks/pbx/$1.xml" -inf users.csv -i 127.0.0.9 -p 0 \
    -m "$ATTEMPTS" -l "$CONCURRENT" -r 100000 -timeout 120 -trace_rtt -rtt_freq 1 -trace_err -nostdin >"sipp-$1.log" 2>&1 || true
  end=$(date +%s.%N)
  if ! ls ./*_rtt.csv >/dev/null 2>&1; then
    echo "Benchmarks/pbx.sh: SIPp measured nothing: $(tail -5 "sipp-$1.log") $(tail -5 ./*_errors.log 2>/dev/null)" >&2
    exit 1
  fi
  python3 - "$ATTEMPTS" "$start" "$end" ./*_rtt.csv <<'PY'
import sys
attempts, start, end, path = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
# Date_ms;response_time_ms;rtd_no: one line per attempt answered.
times = sorted(float(line.split(";")[1]) for line in open(path) if line[0].isdigit())
ok = len(times)
p99 = times[min(ok - 1, int(ok * 0.99))] if ok else float("nan")
print(f"{ok / (end - start):.0f} {p99:.1f} {attempts - ok}")
PY
}

echo "PBX under load: $ATTEMPTS attempts, $CONCURRENT at once, $USERS lines, $ROUNDS rounds (Kamailio -n ${WORKERS:-16})"
printf '%-9s %-6s %12s %10s %7s\n' scenario round HotDesk/s ceiling/s ratio
for scenario in register call; do
  for round in $(seq 1 "$ROUNDS"); do
    kamailio_start "$OLDPWD/examples/pbx/kamailio.cfg"; read -r hd hd_p99 hd_failed < <(run "$scenario"); kamailio_stop
    kamailio_start static.cfg; read -r st st_p99 st_failed < <(run "$scenario"); kamailio_stop
    ratio=$(python3 -c "print(f'{$hd / $st:.2f}')")
    printf '%-9s %-6s %12s %10s %7s   p99 %s ms vs %s ms; unanswered %s / %s\n' "$scenario" "$round" "$hd" "$st" "$ratio" "$hd_p99" "$st_p99" "$hd_failed" "$st_failed"
  done
done
