#!/usr/bin/env python3
"""Writes the Grafana dashboards in dashboards/ from the panel lists below.

Edit this file, not the JSON, then run `python3 deploy/grafana/generate.py`;
`--check` only reports whether the JSON files are up to date (a test runs it).
"""
import json, os, sys
DS = {"type": "prometheus", "uid": "prometheus"}
def panel(pid, title, kind, targets, x, y, w=12, h=8, unit=None, desc=None, stack=False):
    p = {"id": pid, "type": kind, "title": title, "datasource": DS,
         "gridPos": {"x": x, "y": y, "w": w, "h": h},
         "targets": [{"refId": chr(65 + i), "datasource": DS, "expr": e, "legendFormat": l}
                     for i, (e, l) in enumerate(targets)],
         "fieldConfig": {"defaults": {}, "overrides": []}, "options": {}}
    if unit: p["fieldConfig"]["defaults"]["unit"] = unit
    if desc: p["description"] = desc
    if kind == "timeseries":
        p["fieldConfig"]["defaults"]["custom"] = {"stacking": {"mode": "normal" if stack else "none"}, "fillOpacity": 15 if stack else 5}
        p["options"] = {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}}
    if kind == "stat":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "values": False}, "colorMode": "value", "graphMode": "area"}
    return p
def dash(uid, title, desc, panels):
    return {"uid": uid, "title": title, "description": desc, "tags": ["orchard"], "timezone": "browser",
            "schemaVersion": 39, "version": 1, "editable": False, "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"},
            "templating": {"list": [{"name": "instance", "label": "Server", "type": "query", "datasource": DS,
                "query": {"query": "label_values(orchard_build_info{job=\"orchard\"}, instance)", "refId": "instance"},
                "definition": "label_values(orchard_build_info{job=\"orchard\"}, instance)",
                "includeAll": True, "multi": True, "current": {"text": "All", "value": "$__all"}, "refresh": 2}]},
            "links": [{"title": "Orchard dashboards", "type": "dashboards", "tags": ["orchard"], "asDropdown": True}],
            "panels": panels}
I = 'instance=~"$instance"'
overview = dash("orchard-overview", "Orchard · Overview", "Traffic, latency and errors of the Orchard servers", [
  panel(1, "Servers up", "stat", [(f'sum(up{{job="orchard",{I}}})', "up")], 0, 0, 4, 4),
  panel(2, "Requests / s", "stat", [(f'sum(rate(orchard_http_requests_total{{{I}}}[5m]))', "req/s")], 4, 0, 5, 4, "reqps"),
  panel(3, "5xx ratio", "stat", [(f'sum(rate(orchard_http_requests_total{{status=~"5..",{I}}}[5m])) / clamp_min(sum(rate(orchard_http_requests_total{{{I}}}[5m])), 1e-9)', "5xx")], 9, 0, 5, 4, "percentunit"),
  panel(4, "p95 latency", "stat", [(f'histogram_quantile(0.95, sum by (le) (rate(orchard_http_request_duration_seconds_bucket{{{I}}}[5m])))', "p95")], 14, 0, 5, 4, "s"),
  panel(5, "Live event streams", "stat", [(f'sum(orchard_sse_clients{{{I}}})', "SSE clients")], 19, 0, 5, 4),
  panel(6, "Traffic by route", "timeseries", [(f'sum by (route) (rate(orchard_http_requests_total{{{I}}}[5m]))', "{{route}}")], 0, 4, 12, 9, "reqps", stack=True),
  panel(7, "Latency (p50, p95, p99)", "timeseries", [
      (f'histogram_quantile(0.50, sum by (le) (rate(orchard_http_request_duration_seconds_bucket{{{I}}}[5m])))', "p50"),
      (f'histogram_quantile(0.95, sum by (le) (rate(orchard_http_request_duration_seconds_bucket{{{I}}}[5m])))', "p95"),
      (f'histogram_quantile(0.99, sum by (le) (rate(orchard_http_request_duration_seconds_bucket{{{I}}}[5m])))', "p99")], 12, 4, 12, 9, "s"),
  panel(8, "p95 latency by route", "timeseries", [(f'histogram_quantile(0.95, sum by (le, route) (rate(orchard_http_request_duration_seconds_bucket{{{I}}}[5m])))', "{{route}}")], 0, 13, 12, 9, "s"),
  panel(9, "Errors by route and status", "timeseries", [(f'sum by (route, status) (rate(orchard_http_requests_total{{status=~"[45]..",{I}}}[5m]))', "{{status}} {{route}}")], 12, 13, 12, 9, "reqps"),
  panel(10, "Database pool connections", "timeseries", [(f'sum by (instance, state) (orchard_db_pool_connections{{{I}}})', "{{instance}} {{state}}")], 0, 22, 12, 8),
  panel(11, "Versions", "table", [(f'orchard_build_info{{{I}}}', "{{instance}} {{version}}")], 12, 22, 12, 8),
])
jobs = dash("orchard-jobs", "Orchard · Jobs & queue", "Queue depth, throughput, task durations and retries", [
  panel(1, "Ready tasks (queue depth)", "stat", [(f'max(orchard_job_tasks{{state="ready",{I}}})', "ready")], 0, 0, 6, 4),
  panel(2, "Oldest ready task", "stat", [(f'max(orchard_queue_oldest_ready_age_seconds{{{I}}})', "age")], 6, 0, 6, 4, "s"),
  panel(3, "Running jobs", "stat", [(f'max(orchard_jobs{{state="running",{I}}})', "running")], 12, 0, 6, 4),
  panel(4, "Tasks completed / min", "stat", [(f'sum(rate(orchard_job_task_duration_seconds_count{{{I}}}[5m])) * 60', "tasks/min")], 18, 0, 6, 4),
  panel(5, "Queue depth by state", "timeseries", [(f'max by (state) (orchard_job_tasks{{state=~"ready|leased|waiting",{I}}})', "{{state}}")], 0, 4, 12, 9, stack=True,
        desc="Waiting: blocked on inputs; ready: waiting for a worker; leased: running"),
  panel(6, "Age of the oldest ready task", "timeseries", [(f'max(orchard_queue_oldest_ready_age_seconds{{{I}}})', "oldest ready")], 12, 4, 12, 9, "s"),
  panel(7, "Throughput by phase (tasks / s)", "timeseries", [(f'sum by (phase) (rate(orchard_job_task_duration_seconds_count{{{I}}}[5m]))', "{{phase}}")], 0, 13, 12, 9, "ops", stack=True),
  panel(8, "Task duration by phase (p50, p95)", "timeseries", [
      (f'histogram_quantile(0.50, sum by (le, phase) (rate(orchard_job_task_duration_seconds_bucket{{{I}}}[5m])))', "p50 {{phase}}"),
      (f'histogram_quantile(0.95, sum by (le, phase) (rate(orchard_job_task_duration_seconds_bucket{{{I}}}[5m])))', "p95 {{phase}}")], 12, 13, 12, 9, "s"),
  panel(9, "Retries and lease expiries / min", "timeseries", [
      (f'sum by (phase) (rate(orchard_job_task_retries_total{{{I}}}[5m])) * 60', "retry {{phase}}"),
      (f'sum(rate(orchard_lease_expiries_total{{{I}}}[5m])) * 60', "lease expired, requeued"),
      (f'sum(rate(orchard_lease_expiry_failures_total{{{I}}}[5m])) * 60', "lease expired, task failed")], 0, 22, 12, 9),
  panel(10, "Jobs by state", "timeseries", [(f'max by (state) (orchard_jobs{{{I}}})', "{{state}}")], 12, 22, 6, 9),
  panel(11, "Jobs ended / hour", "timeseries", [(f'sum by (state) (increase(orchard_jobs_finished_total{{{I}}}[1h]))', "{{state}}")], 18, 22, 6, 9),
])
workers = dash("orchard-workers", "Orchard · Workers", "Fleet health and what each worker does", [
  panel(1, "Healthy workers", "stat", [(f'max(orchard_workers{{health="healthy",{I}}})', "healthy")], 0, 0, 6, 4),
  panel(2, "Late workers", "stat", [(f'max(orchard_workers{{health="late",{I}}})', "late")], 6, 0, 6, 4),
  panel(3, "Dead workers", "stat", [(f'max(orchard_workers{{health="dead",{I}}})', "dead")], 12, 0, 6, 4),
  panel(4, "Worker processes up", "stat", [('sum(up{job="orchard-worker"})', "up")], 18, 0, 6, 4),
  panel(5, "Workers by health", "timeseries", [(f'max by (health) (orchard_workers{{{I}}})', "{{health}}")], 0, 4, 12, 9, stack=True),
  panel(6, "Tasks / min per worker", "timeseries", [('sum by (worker_id) (rate(orchard_worker_tasks_finished_total{outcome="completed"}[5m])) * 60 * on (worker_id) group_left (name) max by (worker_id, name) (orchard_worker_info)', "{{name}}")], 12, 4, 12, 9,
        desc="In-process workers report through their server, `orchard worker` processes through --metrics-addr"),
  panel(7, "Running tasks per worker", "timeseries", [('sum by (worker_id) (orchard_worker_tasks_running) * on (worker_id) group_left (name) max by (worker_id, name) (orchard_worker_info)', "{{name}}")], 0, 13, 12, 9, stack=True),
  panel(8, "Task outcomes / min", "timeseries", [('sum by (outcome) (rate(orchard_worker_tasks_finished_total[5m])) * 60', "{{outcome}}")], 12, 13, 12, 9, stack=True),
  panel(9, "Task time on workers (p95 by phase)", "timeseries", [('histogram_quantile(0.95, sum by (le, phase) (rate(orchard_worker_task_duration_seconds_bucket{outcome="completed"}[5m])))', "{{phase}}")], 0, 22, 12, 9, "s"),
  panel(10, "Lease call errors / min", "timeseries", [('sum by (call) (rate(orchard_worker_lease_call_errors_total[5m])) * 60', "{{call}}")], 12, 22, 12, 9),
  panel(11, "Lease call round trip (p50 and p99)", "timeseries", [
      ('histogram_quantile(0.50, sum by (le, call) (rate(orchard_worker_lease_call_duration_seconds_bucket[5m])))', "p50 {{call}}"),
      ('histogram_quantile(0.99, sum by (le, call) (rate(orchard_worker_lease_call_duration_seconds_bucket[5m])))', "p99 {{call}}")], 0, 31, 24, 9, "s",
        desc="A worker waits for each completion batch before it starts the tasks the batch's claim leased: at low W this bounds a job of quick tasks"),
])
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dashboards")
check = "--check" in sys.argv[1:]
stale = []
for name, d in [("overview", overview), ("jobs-and-queue", jobs), ("workers", workers)]:
    path = os.path.join(here, f"{name}.json")
    text = json.dumps(d, indent=2) + "\n"
    if check:
        with open(path) as f:
            if f.read() != text:
                stale.append(path)
    else:
        with open(path, "w") as f:
            f.write(text)
if stale:
    sys.exit("out of date (run python3 deploy/grafana/generate.py): " + ", ".join(stale))
