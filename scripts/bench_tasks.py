"""Task-tree figures for `scripts/bench`: generating, importing and exporting a 1,000,000-task
tree, peak server memory for two file sizes, and the children listing under load.

Each import runs on a fresh server (release build, SQLite) so its peak RSS (VmHWM) is the
import's own. The listing is measured one request at a time (latency) and with wrk at
concurrency 32 (throughput and latency under load)."""

import http.client, json, os, subprocess, tempfile, time, urllib.parse

TREE = dict(max_depth=7, max_children=12, name_length=12, roots=20, seed=1)


def _rss_peak_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def wait_job(get, base, job_id, limit=600, every=0.05):
    """The job once it has succeeded (an error if it failed, was cancelled or took too long)."""
    t0 = time.time()
    while time.time() - t0 < limit:
        _, body = get(f"{base}/api/v1/jobs/{job_id}")
        job = json.loads(body)
        if job["state"] in ("succeeded", "failed", "cancelled"):
            if job["state"] != "succeeded":
                raise RuntimeError(f"job {job_id} {job['state']}: {job.get('error')}")
            return job
        time.sleep(every)
    raise RuntimeError(f"job {job_id} did not finish in {limit} s")


def _generate(get, base, tasks, path):
    """Runs a generate job for `tasks` tasks, downloads the file; returns (tasks, seconds)."""
    params = dict(TREE, max_tasks=tasks, **{"import": False})
    t0 = time.perf_counter()
    _, body = get(f"{base}/api/v1/tasks/generate", json.dumps(params).encode())
    job = wait_job(get, base, json.loads(body)["job_id"])
    secs = time.perf_counter() - t0
    _, data = get(f"{base}/api/v1/files/{job['result']['file']}")
    with open(path, "wb") as f:
        f.write(data)
    return job["result"]["tasks"], secs


def _import(start, get, tmp, name, path):
    """Imports `path` into a fresh server; returns (server, base, seconds, peak RSS KiB, before KiB)."""
    d = os.path.join(tmp, name)
    proc, base, _ = start(f"sqlite:{d}/orchard.db", 2, d)
    before = _rss_peak_kib(proc.pid)
    with open(path, "rb") as f:
        data = f.read()
    t0 = time.perf_counter()
    _, body = get(f"{base}/api/v1/tasks/import", data)
    wait_job(get, base, json.loads(body)["job_id"])
    secs = time.perf_counter() - t0
    return proc, base, secs, _rss_peak_kib(proc.pid), before


def _parents(get, base, want=400):
    """Ids of tasks with children, breadth first from the roots."""
    out, queue = [], [None]
    while queue and len(out) < want:
        parent = queue.pop(0)
        q = "?limit=200" + (f"&parent={parent}" if parent else "")
        _, body = get(f"{base}/api/v1/tasks{q}")
        for t in json.loads(body)["items"]:
            if t["child_count"] > 0:
                out.append(t["id"])
                queue.append(t["id"])
    return out


def _sequential(base, token, paths, n=2000):
    u = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(u.hostname, u.port)
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        conn.request("GET", paths[i % len(paths)], headers={"authorization": f"Bearer {token}"})
        r = conn.getresponse()
        r.read()
        assert r.status == 200, r.status
        times.append((time.perf_counter() - t0) * 1000)
    conn.close()
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.99)]


def _wrk(base, token, paths, tmp):
    script = os.path.join(tmp, "children.lua")
    with open(script, "w") as f:
        f.write("paths = {" + ",".join(json.dumps(p) for p in paths) + "}\n")
        f.write("i = 0\n")
        f.write("request = function()\n  i = i + 1\n")
        f.write(f'  return wrk.format("GET", paths[(i % #paths) + 1], {{["Authorization"] = "Bearer {token}"}})\nend\n')
        f.write("done = function(s, lat, req)\n")
        f.write('  io.write(string.format("RESULT %d %d %d %.3f %.3f\\n", s.requests, s.duration, '
                "s.errors.status + s.errors.connect + s.errors.read + s.errors.timeout, "
                "lat:percentile(50) / 1000, lat:percentile(99) / 1000))\nend\n")
    out = subprocess.run(["wrk", "-t2", "-c32", "-d10s", "-s", script, base + "/"],
                         capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("RESULT"))
    _, reqs, dur_us, errors, p50, p99 = line.split()
    return int(reqs) / (int(dur_us) / 1e6), int(errors), float(p50), float(p99)


def run(row, start, get, token, tmp):
    big = os.path.join(tmp, "tree-1m.json")
    small = os.path.join(tmp, "tree-100k.json")
    d = os.path.join(tmp, "gen")
    proc, base, _ = start(f"sqlite:{d}/orchard.db", 2, d)
    try:
        n, secs = _generate(get, base, 1_000_000, big)
        row("tree generation", f"{n / secs:,.0f}", "tasks/s",
            f"{n:,} tasks to a {os.path.getsize(big) / 1e6:.0f} MB file, max depth 7, ≤ 12 children")
        _generate(get, base, 100_000, small)
    finally:
        proc.terminate(); proc.wait()

    proc, base, secs, peak_small, _ = _import(start, get, tmp, "imp-small", small)
    proc.terminate(); proc.wait()
    proc, base, secs, peak, before = _import(start, get, tmp, "imp-big", big)
    try:
        mb = os.path.getsize(big) / 1e6
        row("tree import, 1,000,000 tasks (seed 000 format)", f"{secs:.1f}", "s",
            "upload to job done, one transaction, SQLite, target ≤ 10")
        row("tree import rate", f"{mb / secs:.1f}", "MB/s", f"{mb:.0f} MB file")
        row("server peak RSS, importing 1,000,000 tasks", f"{peak / 1024:.0f}", "MiB",
            f"VmHWM; {before / 1024:.0f} MiB before the import")
        row("server peak RSS, importing 100,000 tasks", f"{peak_small / 1024:.0f}", "MiB",
            "VmHWM, fresh server: peak independent of file size")

        t0 = time.perf_counter()
        _, data = get(f"{base}/api/v1/tasks/export")
        secs = time.perf_counter() - t0
        row("tree export (streamed download)", f"{len(data) / 1e6 / secs:.1f}", "MB/s",
            f"{len(data) / 1e6:.0f} MB, 1,000,000 tasks, SQLite")

        parents = _parents(get, base)
        paths = [f"/api/v1/tasks?parent={p}" for p in parents]
        p50, p99 = _sequential(base, token, paths)
        row("children fetch, one at a time (p50)", f"{p50:.2f}", "ms",
            f"1,000,000-task tree, {len(paths)} parents in turn, SQLite")
        row("children fetch, one at a time (p99)", f"{p99:.2f}", "ms", "same run, target ≤ 5")
        rps, errors, p50, p99 = _wrk(base, token, paths, tmp)
        row("children fetch at concurrency 32", f"{rps:,.0f}", "requests/s",
            f"wrk 10 s, 2 threads, {errors} errors")
        row("children fetch at concurrency 32 (p50 / p99)", f"{p50:.2f} / {p99:.2f}", "ms",
            "same run (queueing on 2 cores included)")
    finally:
        proc.terminate(); proc.wait()

    # One parent with 100,000 children: its first page and a page deep in it.
    flat = os.path.join(tmp, "flat.json")
    with open(flat, "w") as f:
        f.write('{"tasks":[{"id":"wide","name":"wide","tasks":[')
        f.write(",".join(f'{{"id":"w{i}","name":"child {i}"}}' for i in range(100_000)))
        f.write("]}]}")
    proc, base, _, _, _ = _import(start, get, tmp, "flat", flat)
    try:
        _, body = get(f"{base}/api/v1/tasks?parent=wide&limit=200")
        cursor = json.loads(body)["next_cursor"]
        deep = None
        for _ in range(250):
            _, body = get(f"{base}/api/v1/tasks?parent=wide&limit=200&cursor={cursor}")
            cursor = json.loads(body)["next_cursor"]
            deep = cursor
        paths = ["/api/v1/tasks?parent=wide&limit=200",
                 f"/api/v1/tasks?parent=wide&limit=200&cursor={urllib.parse.quote(deep)}"]
        p50, p99 = _sequential(base, token, paths, 1000)
        row("children page of a 100,000-child task (p50 / p99)", f"{p50:.2f} / {p99:.2f}", "ms",
            "200 per page, first and 250th page alternately, SQLite")
    finally:
        proc.terminate(); proc.wait()
