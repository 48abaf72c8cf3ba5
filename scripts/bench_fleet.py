#!/usr/bin/env python3
"""Fleet figures: many wpipe workers heartbeating against one Orchard server.

N simulated workers (1,000 by default) register through `/matricula`, then each sends
`/healthchecker` once a second for D seconds (30 by default), spread evenly over the second,
over keep-alive connections. Reported: heartbeat latency p50/p99, the server's CPU use
during the run (from /proc), the render time of /workers under that load, and the delay
until a change (a process opened and a task started by one worker) reaches the Workers
page's event stream and shows in the workers API.

Used by scripts/bench (release build); run alone to try it on any build:
    scripts/bench_fleet.py --bin target/debug/orchard --workers 200 --seconds 5
"""

import argparse, asyncio, json, os, shutil, socket, statistics, subprocess, sys, tempfile, threading, time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "bench-fleet-token-0123456789abcdef01"


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(base, path, body=None, token=True, timeout=60):
    req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode())
    if body is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {TOKEN}")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def cpu_seconds(pid):
    """User + system CPU time of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf(os.sysconf_names["SC_CLK_TCK"])
    return (int(fields[11]) + int(fields[12])) / ticks


async def heartbeats(port, ids, seconds, latencies, errors, connections=50):
    """Each id heartbeats once a second, offsets spread over the second; one keep-alive
    connection serves len(ids)/connections workers in turn."""
    groups = [ids[i::connections] for i in range(connections)]
    start = time.perf_counter() + 0.5

    async def conn(group, k):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for second in range(seconds):
                for j, wid in enumerate(group):
                    offset = (k + j * connections) / len(ids)
                    due = start + second + offset
                    delay = due - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    body = json.dumps({"id": wid}).encode()
                    req = (
                        f"POST /healthchecker HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n"
                    ).encode() + body
                    t0 = time.perf_counter()
                    writer.write(req)
                    await writer.drain()
                    status_line = await reader.readline()
                    length = 0
                    while True:
                        line = await reader.readline()
                        if line in (b"\r\n", b""):
                            break
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                    await reader.readexactly(length)
                    latencies.append((time.perf_counter() - t0) * 1000)
                    if b" 200 " not in status_line:
                        errors.append(status_line.decode(errors="replace").strip())
        finally:
            writer.close()

    await asyncio.gather(*(conn(g, k) for k, g in enumerate(groups) if g))


def change_delay(base, port, worker_id):
    """Seconds from a worker's change to (a) its event on the SSE stream the Workers page
    listens to, (b) the change showing in the workers API."""
    seen = threading.Event()
    ready = threading.Event()

    def listen():
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
        ready.set()
        buf = b""
        s.settimeout(30)
        try:
            while not seen.is_set():
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
                if worker_id.encode() in buf:
                    seen.set()
        except OSError:
            pass
        finally:
            s.close()

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    ready.wait(5)
    time.sleep(0.3)  # let the stream open on the server
    before = next(r for r in json.loads(http(base, "/dashboard_workers")[1]) if r["id"] == worker_id)
    t0 = time.perf_counter()
    p = json.loads(http(base, "/newprocess", {"id": worker_id})[1])
    http(base, "/actualizar_task", {"task_id": p["sons"][0]["id"], "status": "start"})
    seen.wait(30)
    event = time.perf_counter() - t0 if seen.is_set() else float("nan")
    while True:
        rows = json.loads(http(base, "/dashboard_workers")[1])
        now = next(r for r in rows if r["id"] == worker_id)
        if now["processed"] > before["processed"] and now["active"] > before["active"]:
            break
        if time.perf_counter() - t0 > 30:
            return event, float("nan")
        time.sleep(0.005)
    api = time.perf_counter() - t0
    return event, api


def run(row, binary, tmp, workers=1000, seconds=30, database_url=None, label="release build"):
    """Adds the fleet rows to the bench table through `row(what, figure, unit, conditions)`."""
    port = free_port()
    data = os.path.join(tmp, "fleet")
    os.makedirs(data, exist_ok=True)
    db = database_url or f"sqlite:{data}/orchard.db"
    db_name = "Postgres" if db.startswith("postgres") else "SQLite"
    env = dict(os.environ, RUST_LOG="warn", ORCHARD_API_TOKEN=TOKEN)
    proc = subprocess.Popen(
        [binary, "serve", "--addr", f"127.0.0.1:{port}", "--database-url", db,
         "--data-dir", data, "--workers", "0"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(3000):
            try:
                if http(base, "/healthz", token=False)[0] == 200:
                    break
            except Exception:
                if proc.poll() is not None:
                    sys.exit("orchard exited during start-up")
                time.sleep(0.01)
        tasks = [{"name": n, "version": "1"} for n in ("extract", "transform", "load")]
        ids = [json.loads(http(base, "/matricula", {"name": f"sim-{i:04d}", "version": "1.0", "tasks": tasks})[1])["id"]
               for i in range(workers)]
        latencies, errors = [], []
        cpu0, wall0 = cpu_seconds(proc.pid), time.perf_counter()
        result = {}

        def probe():
            # Halfway through, under full load: page render time and change delays.
            time.sleep(min(seconds / 2, 10))
            renders = []
            for _ in range(5):
                t0 = time.perf_counter()
                status, body = http(base, "/workers")
                renders.append((time.perf_counter() - t0) * 1000)
                assert status == 200 and b"sim-0000" in body
            result["render"] = statistics.median(renders)
            delays = [change_delay(base, port, ids[k]) for k in (0, workers // 2, workers - 1)]
            result["event"] = statistics.median(d[0] for d in delays)
            result["api"] = statistics.median(d[1] for d in delays)

        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        asyncio.run(heartbeats(port, ids, seconds, latencies, errors))
        cpu = (cpu_seconds(proc.pid) - cpu0) / (time.perf_counter() - wall0)
        prober.join(60)
        assert not errors, f"{len(errors)} failed heartbeats, e.g. {errors[0]}"
        cond = f"{workers:,} wpipe workers × 1 heartbeat/s for {seconds} s, {db_name}, {label}"
        rate = len(latencies) / seconds
        row("fleet: heartbeat latency p50", f"{percentile(latencies, 50):.2f}", "ms", cond)
        row("fleet: heartbeat latency p99", f"{percentile(latencies, 99):.2f}", "ms", cond)
        row("fleet: heartbeats served", f"{rate:.0f}", "per s", cond)
        row("fleet: server CPU during heartbeats", f"{cpu * 100:.0f}", "% of one core", cond + "; /proc user+system")
        if "render" in result:
            row("fleet: server render of /workers under load", f"{result['render']:.0f}", "ms", f"median of 5, {workers:,} workers listed")
            row("fleet: change → event on the Workers page's stream", f"{result['event'] * 1000:.0f}", "ms",
                "median of 3: /newprocess + task start until its SSE event (the page then refetches within 300 ms)")
            row("fleet: change → visible in the workers API", f"{result['api'] * 1000:.0f}", "ms",
                "median of 3: until /dashboard_workers shows the new running process")
    finally:
        proc.terminate()
        proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "orchard"))
    ap.add_argument("--workers", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    a = ap.parse_args()
    if not os.path.exists(a.bin):
        sys.exit(f"no binary at {a.bin}")
    rows = []
    tmp = tempfile.mkdtemp(prefix="orchard-bench-fleet-")
    try:
        label = "debug build" if "/debug/" in a.bin else "release build"
        run(lambda *r: rows.append(r), a.bin, tmp, a.workers, a.seconds, a.database_url, label)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("| what | figure | unit | conditions |")
    print("|---|---:|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
