"""Runs real wpipe pipelines (the PyPI package, unchanged) against an Orchard server.

Usage: python wpipe_client.py BASE_URL TOKEN
Prints one JSON object with the ids the client was given and what the runs returned."""

import json
import sys

from wpipe import Pipeline

base, token = sys.argv[1], sys.argv[2]
api = {"base_url": base, "token": token}


def fetch(data):
    return {"rows": 3}


def transform(data):
    return {"doubled": data["rows"] * 2}


def explode(data):
    raise ValueError("disk full while writing rows")


def pipeline(name, steps):
    p = Pipeline(api_config=api, worker_name=name, show_progress=False)
    p.set_steps(steps)
    reg = p.worker_register(name, "1.0.0")
    assert reg and reg.get("id"), f"registration failed: {reg!r}"
    return p


good = pipeline("etl-good", [(fetch, "fetch", "v1"), (transform, "transform", "v2")])
good_out = good.run({})
good_health = good.healthcheck_worker({"id": good.worker_id})

bad = pipeline(
    "etl-bad",
    [(fetch, "fetch", "v1"), (explode, "explode", "v1"), (transform, "transform", "v2")],
)
bad_error = None
try:
    bad.run({})
except Exception as e:  # the pipeline re-raises the step's own exception
    bad_error = f"{type(e).__name__}: {e}"

print(
    json.dumps(
        {
            "good_worker": good.worker_id,
            "good_process": good.process_id,
            "good_out": good_out,
            "good_health": good_health,
            "bad_worker": bad.worker_id,
            "bad_process": bad.process_id,
            "bad_error": bad_error,
        }
    )
)
