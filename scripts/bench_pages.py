"""Per-page client budgets (`BENCH_ONLY=pages`, and part of `make bench`): what a browser
downloads to hydrate each page from a cold cache, every chunk it loads included, and the time
from navigation to a working control on a throttled connection."""
import json
import os
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KIB = 1024
# Targets (brotli bytes on the wire, page document included).
OVERVIEW_BUDGET = 200 * KIB
PAGE_BUDGET = 260 * KIB
THROTTLED = ["/", "/tasks"]


def _pages(base, get):
    """Every page of the router, with ids that exist: a job, a task, a worker and a process."""
    job = json.loads(get(base + "/api/v1/jobs", json.dumps(
        {"kind": "file_average", "params": {"files": 4, "entries": 10, "workers": 2, "seed": 1}}).encode())[1])
    task = json.loads(get(base + "/api/v1/tasks", json.dumps({"parent_id": None, "title": "Plan the launch"}).encode())[1])
    # A worker's processes are the jobs it took part in (a process id is `<job>.<worker>`).
    for _ in range(3000):
        detail = json.loads(get(f"{base}/api/v1/jobs/{job['id']}")[1])
        if detail["state"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.01)
    worker = detail["contributions"][0]["worker_id"]
    return [("/", "/"), ("/tasks", "/tasks"), ("/tasks/{id}", f"/tasks/{task['id']}"),
            ("/workers", "/workers"), ("/workers/{id}", f"/workers/{worker}"),
            ("/workers/{id}/processes/{pid}", f"/workers/{worker}/processes/{job['id']}.{worker}"),
            ("/jobs", "/jobs"), ("/jobs/{id}", f"/jobs/{job['id']}"), ("/login", "/login"),
            ("/setup/{token}", "/setup/not-a-token"), ("/admin/users", "/admin/users"),
            ("/admin/audit", "/admin/audit"), ("/admin/tokens", "/admin/tokens")]


def measure(base, get, token):
    """Runs scripts/page_budget.js over every page; its JSON report."""
    pages = _pages(base, get)
    out = subprocess.run(["node", os.path.join(ROOT, "scripts", "page_budget.js"), base, token,
                          ",".join(p for _, p in pages), ",".join(THROTTLED)],
                         capture_output=True, text=True, timeout=900)
    try:
        report = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"pages": [], "throttled": [], "errors": [out.stderr.strip()[:300]]}
    labels = dict((p, label) for label, p in pages)
    for p in report["pages"]:
        p["label"] = labels.get(p["path"], p["path"])
    return report


def rows(row, report):
    """The table rows of a report: one per page, the largest, the throttled times."""
    for p in report["pages"]:
        kinds = ", ".join(f"{k} {v / KIB:.0f}" for k, v in sorted(p["by_kind"].items()))
        budget = OVERVIEW_BUDGET if p["path"] == "/" else PAGE_BUDGET
        verdict = "within" if p["bytes"] <= budget else "OVER"
        row(f"page download, cold cache: {p['label']}", f"{p['bytes'] / KIB:.0f}", "KiB",
            f"{kinds} KiB; {len(p['files'])} client files, sent as {'/'.join(p['encodings']) or '?'}; "
            f"{verdict} budget {budget // KIB} KiB")
    if report["pages"]:
        worst = max(report["pages"], key=lambda p: p["bytes"])
        row("page download, cold cache: largest page", f"{worst['bytes'] / KIB:.0f}", "KiB",
            f"{worst['label']}; targets: overview ≤ 200 KiB, every page ≤ 260 KiB")
    for t in report["throttled"]:
        ms = t["interactive_ms"]
        spread = "" if ms is None else f"median of {t['runs']} ({t['min_ms'] / 1000:.2f}–{t['max_ms'] / 1000:.2f}); "
        row(f"navigation → interactive, throttled: {t['path']}",
            "timeout" if ms is None else f"{ms / 1000:.2f}", "s",
            f"{spread}1.6 Mbit/s down, 750 kbit/s up, 150 ms RTT, cold cache; "
            f"{t['bytes'] / KIB:.0f} KiB; the theme switch answers a click")
    errors = report["errors"]
    row("page budgets: console errors", f"{len(errors)}", "errors",
        "every page above" + (f"; first: {errors[0][:100]}" if errors else ""))


def run(row, start, get, token, tmp):
    d = os.path.join(tmp, "pages")
    proc, base, _ = start(f"sqlite:{d}/orchard.db", 2, d)
    try:
        rows(row, measure(base, get, token))
    finally:
        proc.terminate()
        proc.wait()
