#!/usr/bin/env python3
"""Prepares N logged-in Yealink phones against a running HotDesk, the way real phones get there:
first fetch (the provisioning secret), a Digest fetch (the claim), a login through the app, and the
logged-in config. Writes wrk inputs: config requests (path + Digest Authorization, the nonce reused
for the run as a phone on one connection would), the same with If-None-Match, and app menus.
`--refresh` (after the first run) only asks each phone's config again for a new Digest nonce (a nonce
lasts 5 minutes) and rewrites the config inputs. Loopback only. Usage: phones.py SERVER COUNT OUTDIR [--refresh]"""
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

def digest(path, user, password, challenge):
    p = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    ha1 = hashlib.md5(f"{user}:{p['realm']}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"GET:{path}".encode()).hexdigest()
    nc, cnonce = "00000001", "benchbench"
    response = hashlib.md5(f"{ha1}:{p['nonce']}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
    return (f'Digest username="{user}", realm="{p["realm"]}", nonce="{p["nonce"]}", uri="{path}", '
            f'algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}"')

def write_configs(configs):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.txt"), "w") as f:
        for path, auth, _ in configs: f.write(f"{path}\t{auth}\n")
    with open(os.path.join(out, "config304.txt"), "w") as f:
        for path, auth, etag in configs: f.write(f"{path}\t{auth}\t{etag}\n")

if sys.argv[4:] == ["--refresh"]:
    configs = []
    with open(os.path.join(out, "credentials.txt")) as f:
        for line in f:
            path, user, password, etag = line.rstrip("\n").split("\t")
            status, headers, _ = get(path)
            assert status == 401, (path, status)
            configs.append((path, digest(path, user, password, headers["WWW-Authenticate"]), etag))
    write_configs(configs)
    print(f"{len(configs)} phones: new Digest nonces")
    sys.exit(0)

configs, app, sample, credentials = [], [], None, []
for i in range(count):
    mac = "001565%06x" % (0xb00000 + i)
    path = f"/provision/{mac}.cfg"
    status, _, body = get(path)
    assert status == 200, (path, status, body[:200])
    user = setting(body, "static.auto_provision.server.username")
    password = setting(body, "static.auto_provision.server.password")
    status, headers, _ = get(path)
    assert status == 401, (path, status)
    auth = digest(path, user, password, headers["WWW-Authenticate"])
    status, _, body = get(path, {"Authorization": auth})
    assert status == 200, (path, status)
    key = next(v for k, v in re.findall(r"^linekey\.(\d+)\.value = (.*)$", body, re.M) if "/app/" in v)
    token_path = urllib.parse.urlparse(key).path
    ext, pin = 10000 + i, "%04d" % (i % 10000)
    status, _, screen = get(f"{token_path}/submit?net=int&ext={ext}&pw={pin}")
    assert status == 200 and "Logged in" in screen, screen[:300]
    status, headers, body = get(path, {"Authorization": auth})
    assert status == 200 and setting(body, "account.1.user_name") == str(ext), body[:300]
    etag = headers["ETag"]
    key = next(v for k, v in re.findall(r"^linekey\.(\d+)\.value = (.*)$", body, re.M) if "/app/" in v)
    configs.append((path, auth, etag))
    credentials.append((path, user, password, etag))
    app.append(urllib.parse.urlparse(key).path)
    sample = sample or body

write_configs(configs)
with open(os.path.join(out, "credentials.txt"), "w") as f:
    for fields in credentials: f.write("\t".join(fields) + "\n")
with open(os.path.join(out, "app.txt"), "w") as f:
    for path in app: f.write(f"{path}\n")
with open(os.path.join(out, "sample.cfg"), "w") as f:
    f.write(sample)
print(f"{count} phones logged in; a logged-in config is {len(sample.encode())} bytes")
