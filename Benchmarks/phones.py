#!/usr/bin/env python3
"""Prepares N logged-in Yealink phones against a running HotDesk, the way real phones get there:
first fetch (the provisioning secret), a Digest fetch (the claim), a login through the app, and the
logged-in config. Writes wrk inputs: config requests with their Digest Authorization and ETag, one
file per wrk thread (config.0.txt, config.1.txt: each phone in one thread only), NC requests per
phone with nc counting up on one nonce, as a phone does (HotDesk refuses an nc used before: a
replayed header is a stale nonce), and app menus. `--refresh` asks each phone's config again for a
new nonce (a nonce lasts 5 minutes; wrk starts its files from the top each run), its ETag and its
app token (a login changes both), and rewrites the config and menu inputs: run it before every wrk
run of the configs. Loopback only.
Usage: phones.py SERVER COUNT OUTDIR [--refresh]   (NC: requests per phone per run, default 300)"""
import hashlib, http.client, os, re, sys, urllib.parse

server, count, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
host = urllib.parse.urlparse(server)
conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
AGENT = "Yealink SIP-T46U 108.86.0.45"

def get(path, headers=None):
    conn.request("GET", path, headers={"User-Agent": AGENT, **(headers or {})})
    r = conn.getresponse()
    return r.status, dict(r.getheaders()), r.read().decode()

def setting(body, key):
    m = re.search(r"^" + re.escape(key) + r" = (.*)$", body, re.M)
    return m.group(1).strip() if m else None

def digest(path, user, password, challenge, nc=1):
    p = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    ha1 = hashlib.md5(f"{user}:{p['realm']}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"GET:{path}".encode()).hexdigest()
    count, cnonce = "%08x" % nc, "benchbench"
    response = hashlib.md5(f"{ha1}:{p['nonce']}:{count}:{cnonce}:auth:{ha2}".encode()).hexdigest()
    return (f'Digest username="{user}", realm="{p["realm"]}", nonce="{p["nonce"]}", uri="{path}", '
            f'algorithm=MD5, qop=auth, nc={count}, cnonce="{cnonce}", response="{response}"')

THREADS, NC = 2, int(os.environ.get("NC", "300"))

def app_path(body):
    key = next(v for k, v in re.findall(r"^linekey\.(\d+)\.value = (.*)$", body, re.M) if "/app/" in v)
    return urllib.parse.urlparse(key).path

def refresh():
    """A new nonce per phone, and NC requests for each (nc 2, 3, …), round by round over the
    phones, each phone in one thread's file only (two threads never race one phone's nc). nc 1
    fetches the config as it is now: its ETag and app token (a login gives the phone new ones)
    are the ones the inputs send."""
    phones, app = [], []
    with open(os.path.join(out, "credentials.txt")) as f:
        for line in f:
            path, user, password, _ = line.rstrip("\n").split("\t")
            status, headers, _ = get(path)
            assert status == 401, (path, status)
            challenge = headers["WWW-Authenticate"]
            status, headers, body = get(path, {"Authorization": digest(path, user, password, challenge, 1)})
            assert status == 200, (path, status)
            phones.append((path, user, password, headers["ETag"], challenge))
            app.append(app_path(body))
    with open(os.path.join(out, "app.txt"), "w") as f:
        for path in app: f.write(f"{path}\n")
    for thread in range(THREADS):
        mine = phones[thread::THREADS]
        with open(os.path.join(out, f"config.{thread}.txt"), "w") as f:
            for nc in range(2, NC + 2):
                for path, user, password, etag, challenge in mine:
                    f.write(f"{path}\t{digest(path, user, password, challenge, nc)}\t{etag}\n")
    return len(phones)

if sys.argv[4:] == ["--refresh"]:
    print(f"{refresh()} phones: new Digest nonces, {NC} requests each")
    sys.exit(0)

sample, credentials = None, []
for i in range(count):
    mac = "001565%06x" % (0xb00000 + i)
    path = f"/provision/{mac}.cfg"
    status, _, body = get(path)
    assert status == 200, (path, status, body[:200])
    user = setting(body, "static.auto_provision.server.username")
    password = setting(body, "static.auto_provision.server.password")
    status, headers, _ = get(path)
    assert status == 401, (path, status)
    challenge = headers["WWW-Authenticate"]
    status, _, body = get(path, {"Authorization": digest(path, user, password, challenge, 1)})
    assert status == 200, (path, status)
    token_path = app_path(body)
    ext, pin = 10000 + i, "%04d" % (i % 10000)
    status, _, screen = get(f"{token_path}/submit?net=int&ext={ext}&pw={pin}")
    assert status == 200 and "Logged in" in screen, screen[:300]
    status, headers, body = get(path, {"Authorization": digest(path, user, password, challenge, 2)})
    assert status == 200 and setting(body, "account.1.user_name") == str(ext), body[:300]
    credentials.append((path, user, password, headers["ETag"]))
    sample = sample or body

os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "credentials.txt"), "w") as f:
    for fields in credentials: f.write("\t".join(fields) + "\n")
refresh()
with open(os.path.join(out, "sample.cfg"), "w") as f:
    f.write(sample)
print(f"{count} phones logged in; a logged-in config is {len(sample.encode())} bytes")
