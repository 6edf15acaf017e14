#!/usr/bin/env python3
"""HTTP benchmark of the request pipeline, with wrk on 127.0.0.1.

Starts `silo serve` (release build) on a fresh data directory, creates companies, users and
one saved report per company, then measures in one run:
  1. the unauthenticated /healthz endpoint (the "hello" baseline);
  2. an authenticated GET of a small row by id, routed to one company;
  3. the same, cycling over every company (each request a different company and token);
  4. logins/s alone, and a read load's p99 alone and while logins run concurrently.

usage: scripts/bench_http.py [--companies 1000] [--duration 10] [--connections 64]
(SILO_BIN=path runs that binary instead of building this checkout, to compare two builds.)
"""
import argparse, json, os, re, shutil, signal, subprocess, sys, tempfile, time
import urllib.request, urllib.error

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "bench-password-1"


def call(base, method, path, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req) as res:
            text = res.read()
            return res.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def wrk(url, duration, connections, script=None, env=None):
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, env={**os.environ, **(env or {})}).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p99_ms": float(p99.group(1)) * scale,
            "non2xx": int(errors.group(1)) if errors else 0, "socket": socket.group(1) if socket else "none"}


CYCLE_LUA = """
local lines = {}
for line in io.lines(os.getenv("TARGETS")) do lines[#lines + 1] = line end
local i = 0
request = function()
  i = i + 1
  local token, path = lines[(i % #lines) + 1]:match("(%S+) (%S+)")
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. token})
end
"""

LOGIN_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("LOGIN_BODY")
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--companies", type=int, default=1000)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    binary = os.environ.get("SILO_BIN")
    if not binary:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        binary = os.path.join(target, "release/silo")
    tmp = tempfile.mkdtemp(prefix="silo-bench-")
    port = 18080 + os.getpid() % 1000
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SILO_ADMIN_EMAIL": "root@bench.test", "SILO_ADMIN_PASSWORD": PASSWORD,
           "SILO_LOGIN_LIMIT_ACCOUNT": "0", "SILO_LOGIN_LIMIT_ADDRESS": "0", "RUST_LOG": "warn",
           "SILO_MAX_OPEN_COMPANIES": str(max(args.companies, 1))}
    server = subprocess.Popen([binary, "serve", "--data-dir",
                               os.path.join(tmp, "data"), "--listen", f"127.0.0.1:{port}"], env=env)
    try:
        for _ in range(100):
            try:
                if call(base, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        root = call(base, "POST", "/api/auth/login", body={"email": "root@bench.test", "password": PASSWORD})[1]["access_token"]
        targets = []
        t0 = time.time()
        for i in range(args.companies):
            company = call(base, "POST", "/api/admin/companies", root, {"name": f"Bench {i}"})[1]
            email = f"user{i}@bench.test"
            call(base, "POST", "/api/admin/users", root,
                 {"email": email, "password": PASSWORD, "role": "analyst", "company_id": company["id"]})
            token = call(base, "POST", "/api/auth/login", body={"email": email, "password": PASSWORD})[1]["access_token"]
            status, report = call(base, "POST", "/api/reports", token,
                                  {"title": "Q3", "report_type": "summary", "report_data": {"k": i}})
            path = f"/api/reports/{report['id']}" if status == 201 else "/api/company"
            assert call(base, "GET", path, token)[0] == 200, path
            targets.append(f"{token} {path}")
        print(f"setup: {args.companies} companies, users and reports in {time.time() - t0:.1f} s; routed path {targets[0].split()[1].rsplit('/', 1)[0]}/…")
        one = os.path.join(tmp, "one.txt"); many = os.path.join(tmp, "many.txt")
        open(one, "w").write(targets[0] + "\n"); open(many, "w").write("\n".join(targets) + "\n")
        lua = os.path.join(tmp, "cycle.lua"); open(lua, "w").write(CYCLE_LUA)
        login_lua = os.path.join(tmp, "login.lua"); open(login_lua, "w").write(LOGIN_LUA)
        d, c = args.duration, args.connections
        wrk(base + "/healthz", 2, c)  # warm-up
        hello = wrk(base + "/healthz", d, c)
        routed = wrk(base, d, c, lua, {"TARGETS": one})
        cycled = wrk(base, d, c, lua, {"TARGETS": many})
        print(f"{'endpoint':<44}{'req/s':>10}{'p99 ms':>9}  errors")
        for name, r in [("GET /healthz (hello)", hello), ("routed GET, one company", routed),
                        (f"routed GET, cycling {args.companies} companies", cycled)]:
            print(f"{name:<44}{r['rps']:>10.0f}{r['p99_ms']:>9.2f}  non-2xx {r['non2xx']}, socket {r['socket']}")
        print(f"ratio one company / hello: {routed['rps'] / hello['rps']:.2f} (target >= 0.5)")
        print(f"ratio cycling / hello:     {cycled['rps'] / hello['rps']:.2f} (target >= 0.4)")
        # Logins next to a read load: 8 connections read, 4 log in.
        body = json.dumps({"email": "user0@bench.test", "password": PASSWORD})
        solo = wrk(base, d, 8, lua, {"TARGETS": one})
        login_proc = subprocess.Popen(["wrk", "-t1", "-c4", f"-d{d}s", "-s", login_lua, base + "/api/auth/login"],
                                      stdout=subprocess.PIPE, text=True, env={**os.environ, "LOGIN_BODY": body})
        loaded = wrk(base, d, 8, lua, {"TARGETS": one})
        login_out = login_proc.communicate()[0]
        logins = float(re.search(r"Requests/sec:\s+([\d.]+)", login_out).group(1))
        print(f"logins/s with a read load: {logins:.1f} (target >= 30)")
        print(f"read p99 solo {solo['p99_ms']:.2f} ms, with logins {loaded['p99_ms']:.2f} ms "
              f"(ratio {loaded['p99_ms'] / solo['p99_ms']:.2f}, target <= 2)")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
