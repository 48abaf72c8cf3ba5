"""Workflow figures for `scripts/bench`: steps run as real handler processes on the server's
in-process workers (release build).

- step throughput: a 1,000-step group of `/bin/true` (process spawn and supervisor included),
  W = 64, submit → run succeeded;
- a 1,000-way map of no-op Python handlers and a reduce over their outputs, end to end;
- log throughput: one step writing 100,000 lines, counted as they arrive on its log's
  server-sent event stream (what the run page follows), from submit to the last line;
- beside them, the same map + reduce as a chord on Celery with RabbitMQ (`bench/peers/celery`).
"""

import json, os, subprocess, sys, time, urllib.request

from bench_tasks import wait_job

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Python steps run on the interpreter running this script (a real binary, not a shim); the
# Celery peer runs on a venv of the same interpreter.
PY = json.dumps(sys.executable)

HANDLERS = """
[[handler]]
name = "true"
command = ["/bin/true"]

[[handler]]
name = "pyrange"
command = [PY, "-c", "import json,sys; print(json.dumps(list(range(json.load(sys.stdin)))))"]

[[handler]]
name = "pynoop"
command = [PY, "-c", "import json,sys; json.load(sys.stdin); print('null')"]

[[handler]]
name = "pycount"
command = [PY, "-c", "import json,sys; print(len(json.load(sys.stdin)))"]

[[handler]]
name = "chatty"
command = ["sh", "-c", "cat >/dev/null; seq 1 100000 >&2; echo 100000"]
"""

HANDLERS = HANDLERS.replace("[PY,", f"[{PY},")

LOG_LINES = 100_000


def _wait(get, base, job_id):
    return wait_job(get, base, job_id, every=0.01)


def _submit(get, base, steps, workers):
    body = json.dumps({"kind": "workflow", "params": {"steps": steps, "workers": workers}}).encode()
    return json.loads(get(base + "/api/v1/jobs", body)[1])["id"]


def run(row, start, get, token, tmp, db_url, label):
    d = os.path.join(tmp, "wf-" + label.split()[0].lower())
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "handlers.toml")
    with open(path, "w") as f:
        f.write(HANDLERS)
    if db_url.startswith("sqlite:") and "/wf/" in db_url:
        os.makedirs(os.path.dirname(db_url[len("sqlite:"):]), exist_ok=True)
    proc, base, _ = start(db_url, 64, d, {"ORCHARD_HANDLERS": path})
    try:
        # A 1,000-step group of /bin/true.
        steps = [{"id": f"t{i}", "handler": "true"} for i in range(1000)]
        t0 = time.perf_counter()
        _wait(get, base, _submit(get, base, steps, 64))
        secs = time.perf_counter() - t0
        row("workflow steps, /bin/true", f"{1000 / secs:.0f}", "steps/s",
            f"1,000-step group, W=64, 64 in-process slots, process spawn + supervisor included, {label}")

        # A 1,000-way map of no-op Python steps and a reduce.
        steps = [
            {"id": "gen", "handler": "pyrange", "input": 1000},
            {"id": "noop", "handler": "pynoop", "map": {"$output": "gen"}},
            {"id": "count", "handler": "pycount", "input": {"$output": "noop"}},
        ]
        t0 = time.perf_counter()
        job = _wait(get, base, _submit(get, base, steps, 64))
        secs = time.perf_counter() - t0
        assert job["result"] == 1000, job["result"]
        row("workflow map + reduce, 1,000 no-op Python steps", f"{secs:.2f}", "s",
            f"submit → result, W=64, 64 in-process slots, {label}")

        # Log lines from one step to its followed stream.
        t0 = time.perf_counter()
        job_id = _submit(get, base, [{"id": "talk", "handler": "chatty"}], 1)
        req = urllib.request.Request(f"{base}/api/v1/jobs/{job_id}/steps/talk/log?follow=1&attempt=1")
        req.add_header("authorization", f"Bearer {token}")
        got = 0
        with urllib.request.urlopen(req, timeout=300) as r:
            for line in r:
                if line.startswith(b"data:"):
                    got += 1
                    if got == LOG_LINES:
                        break
        secs = time.perf_counter() - t0
        assert got == LOG_LINES, got
        row("step log to a followed stream", f"{LOG_LINES / secs:.0f}", "lines/s",
            f"100,000 lines from one step, submit → last line on its SSE stream, {label}")
    finally:
        proc.terminate(); proc.wait()


def celery_row(row):
    """The 1,000-way chord on Celery + RabbitMQ, when `bench/peers/celery/setup` has run."""
    python = os.path.join(ROOT, "target", "celery-venv", "bin", "python")
    if not os.path.exists(python) or not os.path.exists("/usr/lib/rabbitmq/bin/rabbitmq-server"):
        row("Celery chord, 1,000 no-op tasks + count", "not run", "s",
            "bench/peers/celery/setup installs Celery and RabbitMQ (make bench runs it)")
        return
    out = subprocess.run([python, os.path.join(ROOT, "bench", "peers", "celery", "chord.py")],
                         capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        row("Celery chord, 1,000 no-op tasks + count", "failed", "s", out.stderr.strip()[-200:])
        return
    got = json.loads(out.stdout.strip().splitlines()[-1])
    row("Celery chord, 1,000 no-op tasks + count", f"{got['seconds']:.2f}", "s",
        f"Celery 5.4 prefork (concurrency {got['concurrency']}, its default) + RabbitMQ 3.10 "
        "(Debian), SQLAlchemy/SQLite result backend, submit → result; compare the map + reduce row")
