#!/usr/bin/env python3
"""Logins per second through the real app screens, after Benchmarks/phones.py logged the phones in
(it wrote credentials.txt). Each phone asks for a Digest nonce first and counts its nc up on every
config fetch, as a phone does.

Each phone, over and over: fetches its config (its current app token), and if logged in logs out
(GET /app/<token>/logout/confirm); then logs in the way a person does — menu, form, Done
(GET /app/<token>, /login?net=int, /submit?net=int&ext=&pw=) — and fetches the logged-in config
(the line must be there). A login counts when that config names the extension. Workers (asyncio,
raw keep-alive sockets, PROCESSES processes × CONNECTIONS/PROCESSES connections) each take their
own phones in turn. Prints logins/s over SECONDS and latency percentiles of a whole login.
Loopback only. Usage: logins.py SERVER OUTDIR SECONDS CONNECTIONS PROCESSES"""
import asyncio, hashlib, multiprocessing, os, re, sys, time, urllib.parse

server, out, seconds, connections, processes = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
url = urllib.parse.urlparse(server)
AGENT = "Yealink SIP-T46U 108.86.0.45"
TOKEN = re.compile(rb"/app/([A-Za-z0-9_-]{32})")
USER = re.compile(rb"^account\.1\.user_name = (\d+)", re.M)


class Digest:
    """One phone's answers to its nonce: nc 1, 2, … (HotDesk refuses an nc used before)."""

    def __init__(self, path, user, password):
        self.path, self.user, self.password, self.nc = path, user, password, 0
        self.realm = self.nonce = None
        self.ha2 = hashlib.md5(f"GET:{path}".encode()).hexdigest()

    def challenged(self, header):
        p = dict(re.findall(r'(\w+)="?([^",]*)"?', header))
        self.realm, self.nonce, self.nc = p["realm"], p["nonce"], 0
        self.ha1 = hashlib.md5(f"{self.user}:{self.realm}:{self.password}".encode()).hexdigest()

    def header(self):
        self.nc += 1
        nc = "%08x" % self.nc
        response = hashlib.md5(f"{self.ha1}:{self.nonce}:{nc}:bench:auth:{self.ha2}".encode()).hexdigest()
        return (f'Digest username="{self.user}", realm="{self.realm}", nonce="{self.nonce}", uri="{self.path}", '
                f'algorithm=MD5, qop=auth, nc={nc}, cnonce="bench", response="{response}"')


class Connection:
    def __init__(self):
        self.reader = self.writer = None

    async def get(self, path, auth=None):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(url.hostname, url.port)
        head = f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\nUser-Agent: {AGENT}\r\n"
        if auth:
            head += f"Authorization: {auth}\r\n"
        self.writer.write((head + "\r\n").encode())
        status = int((await self.reader.readline()).split()[1])
        length, challenge = 0, None
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            if name.strip().lower() == b"www-authenticate" and b"MD5" in value:
                challenge = value.decode().strip()
        self.challenge = challenge
        return status, await self.reader.readexactly(length)

    async def config(self, digest):
        """The phone's config with its next nc; a new nonce first when it has none or it went stale."""
        if digest.nonce is not None:
            status, body = await self.get(digest.path, digest.header())
            if status == 200:
                return status, body
        status, _ = await self.get(digest.path)
        assert status == 401 and self.challenge, (digest.path, status)
        digest.challenged(self.challenge)
        return await self.get(digest.path, digest.header())


async def worker(phones, deadline, results):
    conn = Connection()
    while time.monotonic() < deadline:
        for phone in phones:
            digest, ext, pin = phone
            path = digest.path
            status, body = await conn.config(digest)
            assert status == 200, (path, status)
            token = TOKEN.search(body).group(1).decode()
            if USER.search(body):
                status, screen = await conn.get(f"/app/{token}/logout/confirm")
                assert status == 200, status
                status, body = await conn.config(digest)
                token = TOKEN.search(body).group(1).decode()
            start = time.monotonic()
            await conn.get(f"/app/{token}")
            await conn.get(f"/app/{token}/login?net=int")
            status, screen = await conn.get(f"/app/{token}/submit?net=int&ext={ext}&pw={pin}")
            assert status == 200 and b"Logged in" in screen, screen[:200]
            status, body = await conn.config(digest)
            user = USER.search(body)
            assert status == 200 and user and user.group(1).decode() == ext, body[:200]
            results.append(time.monotonic() - start)
            if time.monotonic() >= deadline:
                break


def process(index, phones, per_process, deadline, queue):
    mine = phones[index::processes]
    results = []

    async def main():
        await asyncio.gather(*(worker(mine[i::per_process], deadline, results) for i in range(per_process)))

    asyncio.run(main())
    queue.put(results)


if __name__ == "__main__":
    phones = []
    with open(os.path.join(out, "credentials.txt")) as f:
        for i, line in enumerate(f):
            path, user, password, _ = line.rstrip("\n").split("\t")
            # phones.py logs phone i in as extension 10000+i with PIN i % 10000, zero-padded.
            phones.append((Digest(path, user, password), str(10000 + i), "%04d" % (i % 10000)))
    queue = multiprocessing.Queue()
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    workers = [multiprocessing.Process(target=process, args=(i, phones, max(1, connections // processes), deadline, queue)) for i in range(processes)]
    for w in workers:
        w.start()
    latencies = sorted(sum((queue.get() for _ in workers), []))
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    pct = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    print(f"{len(latencies)} logins in {elapsed:.1f} s: {len(latencies) / elapsed:.0f} logins/s "
          f"(and as many logouts), login p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms")
