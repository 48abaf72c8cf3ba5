"""The Celery side of the bench's chord: a no-op task and a count over the group's results
(the same work as the Orchard workflow it is compared with)."""

import os

from celery import Celery

app = Celery("orchard_bench", broker=os.environ["BENCH_BROKER"], backend=os.environ["BENCH_BACKEND"])
app.conf.update(worker_hijack_root_logger=False, broker_connection_retry_on_startup=True)


@app.task
def noop(x):
    return None


@app.task
def count(results):
    return len(results)
