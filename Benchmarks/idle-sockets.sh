#!/usr/bin/env bash
# Idle-socket exhaustion (issue 11): 30,000 sockets that connect and send nothing, from three
# client processes on their own loopback addresses; meanwhile GET /health must still answer
# within a second. Prints how many sockets the server kept, /health times and the server's RSS.
# Usage: Benchmarks/idle-sockets.sh [SOCKETS]
set -euo pipefail
cd "$(dirname "$0")/.."
SOCKETS=${1:-30000}
PORT=${PORT:-18191}

scripts/bootstrap
swift build -c release --product hotdesk >&2
BIN=$(swift build -c release --show-bin-path)
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
printf 'settings:\n  default_login: true\n  internal_address: 127.0.0.1:%s\n' "$PORT" > "$WORK/d.yaml"
"$BIN/hotdesk" import "$WORK/d.yaml" --db "$WORK/db.sqlite" >/dev/null
"$BIN/hotdesk" serve --db "$WORK/db.sqlite" --host 127.0.0.1 --port "$PORT" --idle-timeout 60 2>"$WORK/server.log" &
SERVER=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done

PER=$((SOCKETS / 3))
for n in 1 2 3; do
  python3 - "$PORT" "$PER" "127.0.$((100 + n)).1" <<'PY' &
import socket, sys, time, resource
port, count, source = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
held = []
for i in range(count):
    s = socket.socket()
    s.setblocking(False)
    s.bind((source, 0))
    try: s.connect(("127.0.0.1", port))
    except BlockingIOError: pass
    except OSError: s.close(); continue
    held.append(s)
time.sleep(30)
PY
done
sleep 8
echo "open sockets to the server (client side, established): $(ss -Htn state established "( dport = :$PORT )" | wc -l)"
echo "server connections (server side, established): $(ss -Htn state established "( sport = :$PORT )" | wc -l)"
for i in 1 2 3 4 5; do
  curl -s -o /dev/null -m 5 -w "GET /health: %{http_code} in %{time_total} s\n" "http://127.0.0.1:$PORT/health" || echo "GET /health: no answer within 5 s"
done
echo "server RSS: $(( $(awk '/VmRSS/ {print $2}' /proc/$SERVER/status) / 1024 )) MB, open files: $(ls /proc/$SERVER/fd | wc -l)"
