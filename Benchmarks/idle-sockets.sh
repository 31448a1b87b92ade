#!/usr/bin/env bash
# Idle-socket exhaustion (issue 11): 30,000 sockets that connect and send nothing, from three
# client processes on their own loopback addresses; meanwhile GET /health must still answer
# within a second. Prints how many sockets the server kept, /health times and the server's RSS.
# Then (issue 21) 1,100 requests whose body comes a byte every 8 s (cut at the body deadline,
# --idle-timeout), and 3,000 event streams opened with one auditor key (8 admitted, the rest 429):
# /health must answer in under 50 ms throughout.
# Usage: Benchmarks/idle-sockets.sh [SOCKETS] [SLOW_BODIES] [STREAMS]
set -euo pipefail
cd "$(dirname "$0")/.."
SOCKETS=${1:-30000}
SLOW=${2:-1100}
STREAMS=${3:-3000}
PORT=${PORT:-18191}

scripts/bootstrap
swift build -c release --product hotdesk >&2
BIN=$(swift build -c release --show-bin-path)
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
printf 'settings:\n  default_login: true\n  internal_address: 127.0.0.1:%s\n' "$PORT" > "$WORK/d.yaml"
"$BIN/hotdesk" import "$WORK/d.yaml" --db "$WORK/db.sqlite" >/dev/null
KEY=$("$BIN/hotdesk" apikey create --db "$WORK/db.sqlite" --name watcher --role auditor)
"$BIN/hotdesk" serve --db "$WORK/db.sqlite" --host 127.0.0.1 --port "$PORT" --idle-timeout 20 2>"$WORK/server.log" &
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
wait $(jobs -p | grep -v "^$SERVER$") 2>/dev/null || true

health() {  # the slowest of N /health answers, in ms
  local worst=0
  for _ in $(seq "$1"); do
    t=$(curl -s -o /dev/null -m 5 -w "%{time_total}" "http://127.0.0.1:$PORT/health" || echo 5)
    ms=$(python3 -c "print(int(float('$t') * 1000))")
    (( ms > worst )) && worst=$ms
    sleep 0.2
  done
  echo "$worst"
}

echo "slow bodies: $SLOW POST /admin/sign-in, one body byte every 8 s"
python3 - "$PORT" "$SLOW" <<'PY' &
import socket, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
held = []
for i in range(count):
    s = socket.socket()
    s.bind((f"127.0.{110 + i // 250}.{i % 250 + 2}", 0))
    s.connect(("127.0.0.1", port))
    s.sendall(b"POST /admin/sign-in HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{")
    held.append(s)
start = time.time()
while time.time() - start < 40:
    time.sleep(8)
    for s in list(held):
        try: s.sendall(b" ")
        except OSError: held.remove(s)
print(f"slow bodies still open after {int(time.time() - start)} s: {len(held)} of {count}")
PY
SLOWPID=$!
sleep 2
echo "slowest /health while the bodies trickle: $(health 25) ms"
wait $SLOWPID

echo "event streams: $STREAMS GET /api/v1/events with one auditor key"
python3 - "$PORT" "$STREAMS" "$KEY" <<'PY' &
import socket, sys, time, collections
port, count, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
held, codes = [], collections.Counter()
for i in range(count):
    s = socket.socket()
    s.bind((f"127.0.{120 + i // 250}.{i % 250 + 2}", 0))
    s.connect(("127.0.0.1", port))
    s.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\r\n".encode())
    held.append(s)
for s in held:
    s.settimeout(5)
    try: codes[s.recv(64).split(b" ")[1].decode()] += 1
    except Exception: codes["none"] += 1
print(f"event streams answered: {dict(codes)}")
time.sleep(10)
PY
STREAMPID=$!
sleep 3
echo "slowest /health with the streams asked for: $(health 25) ms"
wait $STREAMPID
echo "server RSS after: $(( $(awk '/VmRSS/ {print $2}' /proc/$SERVER/status) / 1024 )) MB, open files: $(ls /proc/$SERVER/fd | wc -l)"

