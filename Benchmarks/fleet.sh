#!/usr/bin/env bash
# The fleet benchmark: a real HotDesk server (release build, fresh SQLite) and N simulated phones
# on N loopback addresses running login/logout cycles at once, pushes included.
# Usage: Benchmarks/fleet.sh [PHONES] [CYCLES] [MODEL]
# Prints throughput and latency percentiles, and each latency as a ratio to GET /health measured
# by the same client in the same run (the reference).
set -euo pipefail
cd "$(dirname "$0")/.."
PHONES=${1:-50}
CYCLES=${2:-10}
MODEL=${3:-sangoma-s500}
PORT=${PORT:-18180}
PUSH_PORT=${PUSH_PORT:-18181}

scripts/bootstrap
swift build -c release --product hotdesk >&2
swift build -c release --product phonesim >&2
BIN=$(swift build -c release --show-bin-path)

WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
{
  echo "settings:"
  echo "  default_login: true"
  echo "  internal_address: 127.0.0.1:$PORT"
  echo "  push_port: $PUSH_PORT"
  # A whole site booting at once, as on its first day: enrolment limits raised for it (the
  # defaults, 60 a minute, are for a site in service: docs/security.md).
  echo "  enrolment: {per_minute: 100000, max_unclaimed: 1000000}"
  echo "extensions:"
  for ((i = 0; i < PHONES; i++)); do
    echo "  - {number: \"$((7000 + i))\", name: \"Bench $i\", voicemail_pin: \"1234\", sip_password: \"bench-sip-$i\"}"
  done
} > "$WORK/directory.yaml"
"$BIN/hotdesk" import "$WORK/directory.yaml" --db "$WORK/db.sqlite" >&2
LOG_LEVEL=warning "$BIN/hotdesk" serve --db "$WORK/db.sqlite" --host 127.0.0.1 --port "$PORT" 2> "$WORK/server.log" &
SERVER=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

"$BIN/phonesim" fleet --server "http://127.0.0.1:$PORT" --phones "$PHONES" --model "$MODEL" --logins "$CYCLES" --push-port "$PUSH_PORT"
echo "push jobs by state:"
sqlite3 "$WORK/db.sqlite" "SELECT state, COUNT(*) FROM push_jobs GROUP BY state" 2>/dev/null || echo "(sqlite3 not installed)"
