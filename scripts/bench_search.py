"""Search and filter figures for `scripts/bench` on a 1,000,000-task tree carrying fields
(labels, status, priority, due dates, some notes), on SQLite and (when TEST_DATABASE_URL is
set) Postgres:

- what the text index costs the import: SQLite's one-pass trigram indexing timed on its own,
  and on Postgres the same file imported with and without the two pg_trgm indexes;
- a rare word (a substring of one title) through `GET /api/v1/tasks/search`, p50 / p99;
- a label + status filter (about 5,000 matches, counted in full), p50 / p99;
- a broad filter (`status:doing`, about 200,000 matches, counted in full);
- beside them, the `LIKE` scan the search used before (`LOWER(title) LIKE '%word%'`), timed
  inside the database."""

import json, os, random, re, subprocess, time, urllib.parse, sqlite3

N = 1_000_000
LABELS = [f"area-{i:02}" for i in range(20)]
ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def _name(rng):
    return "".join(rng.choice(ALPHABET) for _ in range(12))


def write_tree(path, seed=3):
    """A 1,000,000-task tree (20 roots, depth ≤ 7, ≤ 12 children each) with fields; returns
    some of its titles (for rare words)."""
    rng = random.Random(seed)
    depth = [0] * N
    children = [[] for _ in range(N)]
    open_ = list(range(20))
    for i in range(20, N):
        while True:
            k = rng.randrange(len(open_))
            p = open_[k]
            if len(children[p]) < 12 and depth[p] < 6:
                break
            open_[k] = open_[-1]
            open_.pop()
        children[p].append(i)
        depth[i] = depth[p] + 1
        open_.append(i)
    titles = []
    with open(path, "w") as f:
        f.write('{"tasks":[')
        buf, first = [], [True]  # whether the open list has had an element yet
        # Depth first without recursion: (task, 0) opens a task, (task, 1) closes it.
        stack = [(r, 0) for r in reversed(range(20))]
        while stack:
            t, phase = stack.pop()
            if phase == 1:
                buf.append("]}")
                first.pop()
                continue
            if not first[-1]:
                buf.append(",")
            first[-1] = False
            title = _name(rng)
            if t % 5000 == 0:
                titles.append(title)
            task = {"id": f"t{t}", "name": title}
            r = rng.random()
            task["status"] = "done" if r < 0.3 else "doing" if r < 0.5 else "todo"
            r = rng.random()
            if r < 0.5:
                task["labels"] = rng.sample(LABELS, 2 if r < 0.1 else 1)
            task["priority"] = rng.choice(["none", "low", "medium", "high", "urgent"])
            if rng.random() < 0.2:
                task["due"] = f"2027-{rng.randrange(1, 13):02}-{rng.randrange(1, 29):02}"
            if rng.random() < 0.1:
                task["notes"] = " ".join(_name(rng)[:rng.randrange(3, 9)] for _ in range(5))
            buf.append(json.dumps(task)[:-1] + ',"tasks":[')
            first.append(True)
            stack.append((t, 1))
            for c in reversed(children[t]):
                stack.append((c, 0))
            if len(buf) > 20000:
                f.write("".join(buf))
                buf = []
        f.write("".join(buf))
        f.write("]}")
    return titles


def _import(start, get, wait_job, url, data_dir, path):
    proc, base, _ = start(url, 2, data_dir)
    with open(path, "rb") as f:
        data = f.read()
    t0 = time.perf_counter()
    _, body = get(f"{base}/api/v1/tasks/import", data)
    wait_job(get, base, json.loads(body)["job_id"], limit=1800)
    return proc, base, time.perf_counter() - t0


def _times(get, base, queries):
    times = []
    for q in queries:
        t0 = time.perf_counter()
        get(f"{base}/api/v1/tasks/search?q={urllib.parse.quote(q)}")
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]


def _check(get, base, q, want_min):
    _, body = get(f"{base}/api/v1/tasks/search?q={urllib.parse.quote(q)}")
    total = json.loads(body)["total"]
    assert total >= want_min, (q, total)
    return total


def _psql(url, sql):
    return subprocess.run(["psql", url, "-Atq", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          capture_output=True, text=True, check=True).stdout


def _like_sqlite(db, words):
    c = sqlite3.connect(db)
    times = []
    for w in words:
        t0 = time.perf_counter()
        c.execute("SELECT id FROM tree_tasks WHERE LOWER(title) LIKE ? LIMIT 51", (f"%{w}%",)).fetchall()
        times.append((time.perf_counter() - t0) * 1000)
    c.close()
    times.sort()
    return times[len(times) // 2], times[-1]


def _like_pg(url, words):
    times = []
    for w in words:
        out = _psql(url, "EXPLAIN (ANALYZE, TIMING OFF) SELECT id FROM tree_tasks "
                         f"WHERE LOWER(title) LIKE '%{w}%' LIMIT 51")
        times.append(float(re.search(r"Execution Time: ([0-9.]+)", out).group(1)))
    times.sort()
    return times[len(times) // 2], times[-1]


def _figures(row, get, base, titles, where):
    rng = random.Random(9)
    words = [t[rng.randrange(0, 6):][:6] for t in titles]
    _check(get, base, words[0], 1)
    for q in words[:10]:  # warm
        get(f"{base}/api/v1/tasks/search?q={q}")
    p50, p99 = _times(get, base, words * 2)
    row("search, a rare word (p50 / p99)", f"{p50:.2f} / {p99:.2f}", "ms",
        f"1,000,000 tasks, {where}, {len(words) * 2} six-letter substrings of titles, "
        "HTTP round trip with paths; target p99 ≤ 20")
    filters = [f"label:{LABELS[i % 20]} status:doing" for i in range(200)]
    n = _check(get, base, filters[0], 1000)
    p50, p99 = _times(get, base, filters)
    row("filter, label + status (p50 / p99)", f"{p50:.2f} / {p99:.2f}", "ms",
        f"1,000,000 tasks, {where}, about {n:,} matches counted in full, 50 returned with "
        "paths; target p99 ≤ 50")
    n = _check(get, base, "status:doing", 100_000)
    p50, p99 = _times(get, base, ["status:doing"] * 20)
    row("filter, one status (p50 / p99)", f"{p50:.0f} / {p99:.0f}", "ms",
        f"1,000,000 tasks, {where}, {n:,} matches counted in full; no target")
    return words


def run(row, start, get, token, tmp, wait_job, pg=None, pg_label=""):
    path = os.path.join(tmp, "tree-fields-1m.json")
    t0 = time.perf_counter()
    titles = write_tree(path)
    print(f"[bench] wrote {os.path.getsize(path) / 1e6:.0f} MB in {time.perf_counter() - t0:.0f} s",
          flush=True)

    # SQLite: the import, the searches, then the import's text-index pass alone (timed
    # again on the imported database, the server stopped).
    d = os.path.join(tmp, "search")
    proc, base, indexed = _import(start, get, wait_job, f"sqlite:{d}/orchard.db", d, path)
    try:
        words = _figures(row, get, base, titles, "SQLite")
        p50, worst = _like_sqlite(f"{d}/orchard.db", words[:20])
        row("search before: LIKE scan of titles (p50 / max)", f"{p50:.0f} / {worst:.0f}", "ms",
            "1,000,000 tasks, SQLite, same rare words, the statement alone (no HTTP)")
    finally:
        proc.terminate(); proc.wait()
    c = sqlite3.connect(f"{d}/orchard.db")
    c.execute("INSERT INTO tree_tasks_text (tree_tasks_text) VALUES ('delete-all')")
    c.commit()
    t0 = time.perf_counter()
    c.execute("INSERT INTO tree_tasks_text (rowid, title, notes) SELECT rowid, title, notes FROM tree_tasks")
    c.commit()
    index = time.perf_counter() - t0
    c.close()
    row("tree import, 1,000,000 tasks with fields: text index cost",
        f"{indexed:.1f} incl. {index:.1f}", "s",
        f"the import (upload to job done), of which the one-pass trigram index, SQLite; "
        f"+{index / max(indexed - index, 0.001) * 100:.0f}% over the import without it")

    if not pg:
        return
    admin = pg
    for db in ("search_bare", "search_indexed"):
        _psql(admin, f"DROP DATABASE IF EXISTS {db}")
        _psql(admin, f"CREATE DATABASE {db}")
    bare_url = re.sub(r"/[^/]*$", "/search_bare", pg)
    url = re.sub(r"/[^/]*$", "/search_indexed", pg)
    proc, base, _ = start(bare_url, 0, os.path.join(tmp, "pg-bare"))
    proc.terminate(); proc.wait()
    # Without the text: the indexes keep their names (the import tunes them) but index a
    # constant, which has no trigram.
    _psql(bare_url, "DROP INDEX tree_tasks_title_trgm, tree_tasks_notes_trgm; "
                    "CREATE INDEX tree_tasks_title_trgm ON tree_tasks USING gin ((''::text) gin_trgm_ops); "
                    "CREATE INDEX tree_tasks_notes_trgm ON tree_tasks USING gin ((''::text) gin_trgm_ops)")
    proc, base, bare = _import(start, get, wait_job, bare_url, os.path.join(tmp, "pg-bare"), path)
    proc.terminate(); proc.wait()
    _psql(admin, "DROP DATABASE search_bare")
    proc, base, indexed = _import(start, get, wait_job, url, os.path.join(tmp, "pg-idx"), path)
    try:
        row("tree import, 1,000,000 tasks with fields: text index cost",
            f"{indexed:.1f} vs {bare:.1f}", "s",
            f"with the pg_trgm indexes vs with them indexing nothing, {pg_label}; "
            f"+{(indexed / bare - 1) * 100:.0f}%")
        _psql(url, "ANALYZE")
        words = _figures(row, get, base, titles, pg_label)
        p50, worst = _like_pg(url, words[:20])
        row("search before: LIKE scan of titles (p50 / max)", f"{p50:.0f} / {worst:.0f}", "ms",
            f"1,000,000 tasks, {pg_label}, same rare words, execution time inside Postgres")
    finally:
        proc.terminate(); proc.wait()
        _psql(admin, "DROP DATABASE IF EXISTS search_indexed")
