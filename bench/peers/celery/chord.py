"""Runs a 1,000-way chord (no-op tasks, then a count over their results) on Celery with a
RabbitMQ broker started for the purpose, and prints its time as JSON: submit → result.

The broker runs from Debian's package with its own node name, ports, data folder and epmd,
so it neither needs nor touches a system broker; everything it starts is stopped at the end.
Results go to SQLAlchemy's SQLite backend (the RPC backend cannot do chords)."""

import json, os, shutil, socket, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
RABBIT = "/usr/lib/rabbitmq/bin"
N = int(os.environ.get("BENCH_CHORD", "1000"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    tmp = tempfile.mkdtemp(prefix="orchard-celery-")
    amqp, dist, epmd = free_port(), free_port(), free_port()
    node = f"orchardbench{amqp}@localhost"
    env = dict(os.environ, HOME=tmp, RABBITMQ_NODENAME=node, RABBITMQ_NODE_PORT=str(amqp),
               RABBITMQ_DIST_PORT=str(dist), ERL_EPMD_PORT=str(epmd),
               RABBITMQ_MNESIA_BASE=os.path.join(tmp, "mnesia"),
               RABBITMQ_LOG_BASE=os.path.join(tmp, "log"),
               RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(tmp, "enabled_plugins"),
               RABBITMQ_CONFIG_FILE=os.path.join(tmp, "rabbitmq"))
    with open(os.path.join(tmp, "enabled_plugins"), "w") as f:
        f.write("[].\n")
    broker = subprocess.Popen([f"{RABBIT}/rabbitmq-server"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    worker = None
    try:
        # The node answers once it has registered; until then rabbitmqctl fails at once.
        deadline = time.time() + 120
        while subprocess.run([f"{RABBIT}/rabbitmqctl", "-n", node, "await_startup", "--timeout", "60"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode:
            if broker.poll() is not None or time.time() > deadline:
                sys.exit("RabbitMQ did not start")
            time.sleep(0.5)
        wenv = dict(os.environ, BENCH_BROKER=f"amqp://guest:guest@127.0.0.1:{amqp}//",
                    BENCH_BACKEND=f"db+sqlite:///{tmp}/results.db", PYTHONPATH=HERE)
        worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "tasks", "worker",
                                   "--loglevel=warning", "--without-gossip", "--without-mingle",
                                   "--without-heartbeat"],
                                  cwd=HERE, env=wenv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.environ.update(BENCH_BROKER=wenv["BENCH_BROKER"], BENCH_BACKEND=wenv["BENCH_BACKEND"])
        sys.path.insert(0, HERE)
        from celery import chord
        import tasks
        # A first chord of one warms the worker up (imports, connections, tables).
        chord([tasks.noop.s(0)])(tasks.count.s()).get(timeout=120)
        t0 = time.perf_counter()
        got = chord(tasks.noop.s(i) for i in range(N))(tasks.count.s()).get(timeout=600)
        secs = time.perf_counter() - t0
        assert got == N, got
        print(json.dumps({"seconds": secs, "tasks": N, "concurrency": os.cpu_count()}))
    finally:
        if worker:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
        subprocess.run([f"{RABBIT}/rabbitmqctl", "-n", node, "stop"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            broker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            broker.kill()
        subprocess.run(["epmd", "-kill"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
