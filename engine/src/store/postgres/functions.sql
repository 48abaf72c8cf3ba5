-- Orchard's Postgres lease functions: the one place their text lives. The server installs
-- this file at start-up (CREATE OR REPLACE, in one transaction under an advisory lock) and
-- records its version and checksum in orchard_code; a server whose version is older than the
-- recorded one refuses to start. A change to a function is an edit of this file and a bump of
-- its version (`FUNCTIONS_VERSION` in functions.rs), never a migration. A change of a
-- function's arguments or result columns also drops the old function first, here.
--
-- The lease path runs inside Postgres: a claim, or a worker's batch of completions with its
-- claim for more work, is one round trip instead of a dozen, and a job's row lock is held
-- only while a function runs, not across round trips between the server and the database.
-- Lock order is the same as everywhere else: a job's row before its tasks, jobs in id
-- order, a worker's row last. Each statement inside a function takes a fresh snapshot.
-- Their statements keep one plan per connection: planning each call anew would cost more
-- than the work, and their shapes (key lookups through arrays) plan well without values.
-- They plan with sequential scans off: every statement finds its rows by key or by an index
-- range, so a plan made while the tables were nearly empty stays right as they grow.

-- Version 2 gave orchard_complete and orchard_report two trailing arrays (when each task ran
-- and for how long). Version 3 leases batches (orchard_claim and orchard_report take how large
-- a batch may be and return each task's batch) and follows the task graph (a task's inputs
-- and the tasks waiting on it come from job_task_deps; a job ends when all its tasks are
-- done). Version 5 bounds the steps of handlers under a fleet limit (orchard_claim and
-- orchard_report take the limits a worker declares). Version 6 readies a job's closing
-- tasks once all its other tasks are done. Every signature, earlier and current, is
-- dropped first, so a change of arguments or
-- result columns needs nothing more; calls that omit trailing arguments resolve through
-- their defaults.
DROP FUNCTION IF EXISTS orchard_report(TEXT, TEXT[], TEXT[], BIGINT[], TEXT[], BIGINT, BIGINT, BIGINT);
DROP FUNCTION IF EXISTS orchard_report(TEXT, TEXT[], TEXT[], BIGINT[], TEXT[], BIGINT, BIGINT, BIGINT,
                                       BIGINT[], BIGINT[]);
DROP FUNCTION IF EXISTS orchard_report(TEXT, TEXT[], TEXT[], BIGINT[], TEXT[], BIGINT, BIGINT, BIGINT,
                                       BIGINT[], BIGINT[], BIGINT, BIGINT, BIGINT);
DROP FUNCTION IF EXISTS orchard_complete(TEXT, TEXT[], TEXT[], BIGINT[], TEXT[], BIGINT);
DROP FUNCTION IF EXISTS orchard_complete(TEXT, TEXT[], TEXT[], BIGINT[], TEXT[], BIGINT, BIGINT[],
                                         BIGINT[]);
DROP FUNCTION IF EXISTS orchard_complete(TEXT, TEXT[], TEXT[], BIGINT[], TEXT[], BIGINT, BIGINT[],
                                         BIGINT[], TEXT[], TEXT[], TEXT[], TEXT[]);
DROP FUNCTION IF EXISTS orchard_report(TEXT, TEXT[], TEXT[], BIGINT[], TEXT[], BIGINT, BIGINT, BIGINT,
                                       BIGINT[], BIGINT[], BIGINT, BIGINT, BIGINT, TEXT[], TEXT[],
                                       TEXT[], TEXT[]);
DROP FUNCTION IF EXISTS orchard_spawn(TEXT, TEXT, BIGINT, TEXT[], TEXT[], TEXT[], BIGINT);
DROP FUNCTION IF EXISTS orchard_spawn(TEXT, TEXT, BIGINT, TEXT[], TEXT[], TEXT[], TEXT[], BIGINT);
DROP FUNCTION IF EXISTS orchard_claim(TEXT, BIGINT, BIGINT, BIGINT, BOOLEAN, BIGINT, BIGINT, BIGINT,
                                      TEXT[]);
DROP FUNCTION IF EXISTS orchard_complete(TEXT, TEXT[], TEXT[], BIGINT[], TEXT[], BIGINT, BIGINT[],
                                         BIGINT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[]);
DROP FUNCTION IF EXISTS orchard_report(TEXT, TEXT[], TEXT[], BIGINT[], TEXT[], BIGINT, BIGINT, BIGINT,
                                       BIGINT[], BIGINT[], BIGINT, BIGINT, BIGINT, TEXT[], TEXT[],
                                       TEXT[], TEXT[], TEXT[], TEXT[]);
DROP FUNCTION IF EXISTS orchard_claim(TEXT, BIGINT, BIGINT, BIGINT, BOOLEAN, BIGINT, BIGINT, BIGINT,
                                      TEXT[], TEXT[], TEXT[], BIGINT[]);
DROP FUNCTION IF EXISTS orchard_report(TEXT, TEXT[], TEXT[], BIGINT[], TEXT[], BIGINT, BIGINT, BIGINT,
                                       BIGINT[], BIGINT[], BIGINT, BIGINT, BIGINT, TEXT[], TEXT[],
                                       TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], BIGINT[]);
DROP FUNCTION IF EXISTS orchard_claim(TEXT, BIGINT, BIGINT, BIGINT, BOOLEAN);
DROP FUNCTION IF EXISTS orchard_claim(TEXT, BIGINT, BIGINT, BIGINT, BOOLEAN, BIGINT, BIGINT, BIGINT);

-- Phases have no order of their own any more: a job shows the phase of the furthest task, in
-- plan order, it has leased.
DROP FUNCTION IF EXISTS orchard_phase_rank(TEXT);

-- Leases up to p_max batches of ready tasks to p_worker (p_cap tasks in all): jobs oldest
-- first (skipping jobs whose row another transaction holds), tasks in plan order, never more
-- batches of a job than its concurrency. A batch is up to k of a job's ready tasks that the
-- worker runs one after another: k is 1 when p_batch_max is 1 or the job's task time is
-- unmeasured, else p_batch_us of work at the job's task time, at most p_batch_max (the rule
-- of `Want::batch_size` in store/jobs/mod.rs). A batch is named by its first task's id.
-- Each row carries its job's kind and parameters, and for a task fed by others the outputs
-- of those as a JSON array, in their order. An unknown worker raises P0002.
-- A claim says when it may have left work behind: after the tasks it leased, a row with no
-- task when it stopped at its maximum with jobs left to look at, or took all it asked of a
-- job that had room for more. A claim without that row took all there was to take, so a
-- wake-up of the other claimers would only send them looking.
CREATE OR REPLACE FUNCTION orchard_claim(p_worker TEXT, p_max BIGINT, p_lease_ms BIGINT, p_now BIGINT,
                              p_touch BOOLEAN, p_batch_max BIGINT DEFAULT 1,
                              p_batch_us BIGINT DEFAULT 0, p_cap BIGINT DEFAULT 256,
                              p_handlers TEXT[] DEFAULT '{}',
                              p_limit_handlers TEXT[] DEFAULT '{}',
                              p_limit_keys TEXT[] DEFAULT '{}',
                              p_limit_ns BIGINT[] DEFAULT '{}')
RETURNS TABLE (id TEXT, job_id TEXT, phase TEXT, payload TEXT, fan_out BIGINT, attempt BIGINT,
               lease_expires_at BIGINT, seq BIGINT, job_kind TEXT, job_params TEXT,
               inputs TEXT, lease_batch TEXT)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
  inproc BOOLEAN;
  j RECORD;
  got BIGINT := 0;
  batches BIGINT := 0;
  nb BIGINT;
  k BIGINT;
  n BIGINT;
  taken BIGINT;
  room BIGINT;
  seen BIGINT := 0;
  more BOOLEAN := false;
  rooms BIGINT[] := '{}';
BEGIN
  IF p_touch THEN
    UPDATE workers w SET last_seen_at = p_now WHERE w.id = p_worker
      RETURNING w.kind = 'inprocess' INTO inproc;
  ELSE
    SELECT w.kind = 'inprocess' INTO inproc FROM workers w WHERE w.id = p_worker;
  END IF;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = 'worker ' || p_worker;
  END IF;
  -- Fleet limits (p_limit_handlers[i] runs under key p_limit_keys[i], at most p_limit_ns[i]
  -- at once): the claim holds each key's lock, taken in key order, until it commits, so
  -- claims under one key count and lease one at a time.
  IF cardinality(p_limit_keys) > 0 THEN
    PERFORM pg_advisory_xact_lock(hashtext('orchard-fleet-limit'), hashtext(s.k))
    FROM (SELECT DISTINCT u.k FROM unnest(p_limit_keys) AS u (k) ORDER BY u.k) s;
  END IF;
  FOR j IN
    SELECT jb.id, jb.concurrency, jb.kind, jb.params, jb.task_us FROM jobs jb
    WHERE jb.state IN ('queued', 'running')
      -- A subquery per job rather than a join: a job's ready tasks are one range of the
      -- claim index, whatever the plan guesses about how many tasks are ready.
      AND (SELECT t.seq FROM job_tasks t WHERE t.job_id = jb.id AND t.state = 'ready'
           AND t.run_after <= p_now
           AND (t.handler IS NULL OR t.handler = ANY (p_handlers))
           ORDER BY t.seq LIMIT 1) IS NOT NULL
      AND (inproc OR NOT jb.server_only)
    ORDER BY jb.created_at, jb.id LIMIT 64
    FOR UPDATE OF jb SKIP LOCKED
  LOOP
    seen := seen + 1;
    IF batches >= p_max OR got >= p_cap THEN
      more := true;
      EXIT;
    END IF;
    -- Counted after the job's row is locked, so every claim committed before is seen. A
    -- task leased before batches existed counts as a batch of its own.
    SELECT j.concurrency - COUNT(DISTINCT COALESCE(l.lease_batch, l.id)) INTO room
    FROM job_tasks l WHERE l.job_id = j.id AND l.state = 'leased';
    nb := LEAST(p_max - batches, room);
    CONTINUE WHEN nb <= 0;
    k := CASE WHEN p_batch_max <= 1 OR j.task_us IS NULL THEN 1
              ELSE LEAST(p_batch_max, GREATEST(1, p_batch_us / GREATEST(j.task_us, 1))) END;
    n := LEAST(nb * k, p_cap - got);
    -- Room under each limited handler's key, counting what this claim leased so far.
    IF cardinality(p_limit_handlers) > 0 THEN
      SELECT array_agg(GREATEST(0, l.n - (SELECT COUNT(*) FROM job_tasks x
                                          WHERE x.limit_key = l.key AND x.state = 'leased'))
                       ORDER BY l.i)
        INTO rooms
      FROM unnest(p_limit_handlers, p_limit_keys, p_limit_ns) WITH ORDINALITY AS l (h, key, n, i);
    END IF;
    RETURN QUERY
      WITH cand AS (
        SELECT s.id, s.seq, lim.key AS lkey, lim.room,
          row_number() OVER (PARTITION BY lim.key ORDER BY s.seq) AS nth
        FROM (SELECT r.id, r.seq, r.handler FROM job_tasks r
              WHERE r.job_id = j.id AND r.state = 'ready' AND r.run_after <= p_now
                AND (r.handler IS NULL OR r.handler = ANY (p_handlers))
              ORDER BY r.seq LIMIT n) s
        LEFT JOIN unnest(p_limit_handlers, p_limit_keys, rooms) AS lim (h, key, room)
          ON lim.h = s.handler
      ), picked AS (
        SELECT c.id, c.seq, c.lkey, (row_number() OVER (ORDER BY c.seq) - 1) / k AS b
        FROM cand c WHERE c.lkey IS NULL OR c.nth <= c.room
      ), headed AS (
        -- Each batch is named by its first task.
        SELECT p.id, p.lkey, first_value(p.id) OVER (PARTITION BY p.b ORDER BY p.seq) AS head
        FROM picked p
      ), c AS (
        UPDATE job_tasks t SET state = 'leased', attempt = t.attempt + 1,
          lease_owner = p_worker, lease_expires_at = p_now + p_lease_ms, started_at = p_now,
          lease_batch = h.head, limit_key = h.lkey
        FROM headed h
        WHERE t.id = h.id
        RETURNING t.id, t.job_id, t.phase, t.payload, t.fan_out, t.attempt,
          t.lease_expires_at, t.seq, t.fan_in, t.lease_batch
      ), furthest AS (
        SELECT c.seq, c.phase FROM c ORDER BY c.seq DESC LIMIT 1
      ), runs AS (
        -- The job runs now, and shows the phase of the furthest task it has leased (the
        -- rule of sql::JOB_LEASED).
        UPDATE jobs u SET state = 'running', started_at = COALESCE(u.started_at, p_now),
          phase = CASE WHEN u.phase_seq < f.seq THEN f.phase ELSE u.phase END,
          phase_seq = GREATEST(u.phase_seq, f.seq)
        FROM furthest f
        WHERE u.id = j.id AND (u.state <> 'running' OR u.phase_seq < f.seq)
      )
      SELECT c.id, c.job_id, c.phase, c.payload, c.fan_out, c.attempt, c.lease_expires_at,
        c.seq, j.kind, j.params,
        CASE WHEN c.fan_in > 0 THEN (
          SELECT '[' || string_agg(COALESCE(i.output, 'null'), ',' ORDER BY d.ord, d.sub) || ']'
          FROM job_task_deps d JOIN job_tasks i ON i.id = d.dep_id
          WHERE d.job_id = j.id AND d.task_id = c.id) END,
        c.lease_batch
      FROM c ORDER BY c.seq;
    GET DIAGNOSTICS taken = ROW_COUNT;
    got := got + taken;
    batches := batches + (taken + k - 1) / k;
    -- All it asked of this job, with room left under the job's concurrency (or stopped by
    -- the claim's cap): the job may have more ready tasks.
    more := more OR (taken = n AND (nb < room OR n < nb * k));
  END LOOP;
  IF more OR seen >= 64 THEN
    RETURN QUERY SELECT NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::BIGINT,
      NULL::BIGINT, NULL::BIGINT, NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::TEXT;
  END IF;
END
$$;

-- Adds the tasks a completion of p_task spawned to its job p_job (whose row the caller holds),
-- after the job's last task: each is ready and retried as p_task is, and each task that waits
-- on p_task waits on them too, their outputs following p_task's own in its place among its
-- inputs (the rule of `spawn` in store/jobs/sqlite_queue.rs).
CREATE OR REPLACE FUNCTION orchard_spawn(p_job TEXT, p_task TEXT, p_fan BIGINT, p_ids TEXT[],
                                         p_phases TEXT[], p_payloads TEXT[], p_handlers TEXT[],
                                         p_now BIGINT)
RETURNS VOID
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
  n BIGINT := cardinality(p_ids);
  base BIGINT;
  w RECORD;
BEGIN
  UPDATE jobs SET total = total + n WHERE id = p_job RETURNING total - n INTO base;
  INSERT INTO job_tasks (id, job_id, phase, seq, payload, state, deps_pending, fan_in, fan_out,
                         ready_at, handler, max_attempts, backoff_base_ms, backoff_max_ms)
    SELECT s.id, p_job, s.phase, base + s.k - 1, s.payload, 'ready', 0, 0, p_fan, p_now, s.handler,
      o.max_attempts, o.backoff_base_ms, o.backoff_max_ms
    FROM unnest(p_ids, p_phases, p_payloads, p_handlers)
      WITH ORDINALITY AS s (id, phase, payload, handler, k)
    CROSS JOIN (SELECT r.max_attempts, r.backoff_base_ms, r.backoff_max_ms
                FROM job_tasks r WHERE r.id = p_task) o;
  IF p_fan = 0 THEN
    RETURN;
  END IF;
  FOR w IN SELECT d.task_id, d.ord FROM job_task_deps d WHERE d.dep_id = p_task
           ORDER BY d.task_id LOOP
    INSERT INTO job_task_deps (job_id, task_id, dep_id, ord, sub)
      SELECT p_job, w.task_id, s.id, w.ord, s.k FROM unnest(p_ids) WITH ORDINALITY AS s (id, k);
    UPDATE job_tasks t SET deps_pending = t.deps_pending + n, fan_in = t.fan_in + n
    WHERE t.id = w.task_id;
  END LOOP;
END
$$;

-- Marks done those of the given tasks whose lease p_worker holds at the attempt given
-- (for a task named twice, its first entry counts), and counts them: the job's done count
-- and task time (a moving average of the run times reported, the rule of
-- `sql::JOB_TASKS_DONE`), the pending inputs of the tasks waiting on them (one with none
-- left becomes ready), the worker's done count. A completion that spawned tasks
-- (p_spawn_of[k] names it for each: the new task's id, phase and payload) adds them
-- (orchard_spawn) before it counts towards the tasks waiting on it. A job all of whose tasks are done succeeds,
-- its result made of its sinks' outputs (the rule of `job_result` in store/jobs/mod.rs). A
-- job no longer active accepts nothing: its tasks' leases end now. Returns a row per task
-- done (`finished` on the one that ended its job), and a row per inactive job (with its
-- state and no task). A missing job raises P0002 and changes nothing.
CREATE OR REPLACE FUNCTION orchard_complete(p_worker TEXT, p_ids TEXT[], p_jobs TEXT[],
                                 p_attempts BIGINT[], p_outputs TEXT[], p_now BIGINT,
                                 p_started BIGINT[] DEFAULT NULL, p_runs BIGINT[] DEFAULT NULL,
                                 p_spawn_of TEXT[] DEFAULT NULL,
                                 p_spawn_ids TEXT[] DEFAULT NULL,
                                 p_spawn_phases TEXT[] DEFAULT NULL,
                                 p_spawn_payloads TEXT[] DEFAULT NULL,
                                 p_spawn_handlers TEXT[] DEFAULT NULL)
RETURNS TABLE (id TEXT, job_id TEXT, finished BOOLEAN, phase TEXT, started_at BIGINT,
               job_state TEXT)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
  jid TEXT;
  st TEXT;
  f_ids TEXT[];
  f_fans BIGINT[];
  f_phases TEXT[];
  f_started BIGINT[];
  wid TEXT;
  sid TEXT;
  sfan BIGINT;
  cnt BIGINT;
  n BIGINT;
  mean_us BIGINT;
  j_done BIGINT;
  j_total BIGINT;
  j_closers BIGINT;
  sinks TEXT[];
  total BIGINT := 0;
BEGIN
  FOR jid IN SELECT DISTINCT x FROM unnest(p_jobs) x ORDER BY x LOOP
    SELECT jb.state INTO st FROM jobs jb WHERE jb.id = jid FOR UPDATE;
    IF NOT FOUND THEN
      RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = 'job ' || jid;
    END IF;
    IF st NOT IN ('queued', 'running') THEN
      UPDATE job_tasks t SET state = 'cancelled', lease_owner = NULL, lease_expires_at = NULL
      FROM unnest(p_ids, p_jobs, p_attempts) AS it (tid, tjob, tattempt)
      WHERE it.tjob = jid AND t.id = it.tid AND t.job_id = jid AND t.state = 'leased'
        AND t.lease_owner = p_worker AND t.attempt = it.tattempt;
      RETURN QUERY SELECT NULL::TEXT, jid, false, NULL::TEXT, NULL::BIGINT, st;
      CONTINUE;
    END IF;
    -- The job's entries joined by id (a task named twice counts once, at its first entry),
    -- so each is one key lookup, however many the report carries. The job and the state are
    -- compared with IS NOT DISTINCT FROM, which no index answers: offered them, the planner
    -- walks the job's leased tasks through the claim index and compares each with every
    -- entry.
    WITH it AS (
      SELECT DISTINCT ON (u.tid) u.tid, u.tattempt, u.tout, u.tstart, u.trun
      FROM unnest(p_ids, p_jobs, p_attempts, p_outputs, p_started, p_runs)
        WITH ORDINALITY AS u (tid, tjob, tattempt, tout, tstart, trun, k)
      WHERE u.tjob = jid
      ORDER BY u.tid, u.k
    ), fin AS (
      UPDATE job_tasks t SET state = 'done', lease_owner = NULL, lease_expires_at = NULL,
        output = it.tout, finished_at = p_now, worker_id = p_worker,
        run_started_us = it.tstart, run_us = it.trun
      FROM it
      WHERE t.id = it.tid AND t.job_id IS NOT DISTINCT FROM jid
        AND t.state IS NOT DISTINCT FROM 'leased'
        AND t.lease_owner = p_worker AND t.attempt = it.tattempt
      RETURNING t.id, t.fan_out, t.phase, t.started_at, it.trun
    )
    SELECT array_agg(fin.id), array_agg(fin.fan_out), array_agg(fin.phase),
      array_agg(fin.started_at), AVG(GREATEST(fin.trun, 0))::BIGINT
    INTO f_ids, f_fans, f_phases, f_started, mean_us FROM fin;
    n := COALESCE(cardinality(f_ids), 0);
    IF n = 0 THEN
      CONTINUE;
    END IF;
    total := total + n;
    IF p_spawn_of IS NOT NULL THEN
      FOR sid, sfan IN SELECT q.i, q.fan FROM unnest(f_ids, f_fans) AS q (i, fan)
                       WHERE q.i = ANY (p_spawn_of) ORDER BY q.i LOOP
        PERFORM orchard_spawn(jid, sid, sfan,
          ARRAY(SELECT p_spawn_ids[k] FROM generate_subscripts(p_spawn_of, 1) k
                WHERE p_spawn_of[k] = sid ORDER BY k),
          ARRAY(SELECT p_spawn_phases[k] FROM generate_subscripts(p_spawn_of, 1) k
                WHERE p_spawn_of[k] = sid ORDER BY k),
          ARRAY(SELECT p_spawn_payloads[k] FROM generate_subscripts(p_spawn_of, 1) k
                WHERE p_spawn_of[k] = sid ORDER BY k),
          ARRAY(SELECT p_spawn_handlers[k] FROM generate_subscripts(p_spawn_of, 1) k
                WHERE p_spawn_of[k] = sid ORDER BY k),
          p_now);
      END LOOP;
    END IF;
    UPDATE jobs SET done = done + n,
      task_us = CASE WHEN mean_us IS NULL THEN task_us WHEN task_us IS NULL THEN mean_us
                     ELSE (task_us * 3 + mean_us) / 4 END
    WHERE id = jid RETURNING done, total, closers INTO j_done, j_total, j_closers;
    -- Every task but the closing ones done: they may run now (the rule of
    -- sql::CLOSERS_READY).
    IF j_closers > 0 AND j_done + j_closers = j_total THEN
      UPDATE job_tasks c SET state = 'ready', ready_at = p_now
      WHERE c.job_id = jid AND c.after_all AND c.state = 'waiting';
    END IF;
    -- The tasks waiting on them one by one, in id order: each is a key lookup, whatever the
    -- plan.
    FOR wid, cnt IN SELECT d.task_id, COUNT(*) FROM unnest(f_ids, f_fans) AS q (i, fan)
                    JOIN job_task_deps d ON d.dep_id = q.i
                    WHERE q.fan > 0 GROUP BY d.task_id ORDER BY d.task_id LOOP
      UPDATE job_tasks w SET deps_pending = w.deps_pending - cnt,
        state = CASE WHEN w.deps_pending = cnt AND w.state = 'waiting' THEN 'ready'
                     ELSE w.state END,
        ready_at = CASE WHEN w.deps_pending = cnt THEN p_now ELSE w.ready_at END
      WHERE w.id = wid;
    END LOOP;
    IF j_done >= j_total THEN
      -- A job with closing tasks has them as its only sinks.
      SELECT array_agg(COALESCE(s.output, 'null') ORDER BY s.seq) INTO sinks
      FROM job_tasks s WHERE s.job_id = jid
        AND CASE WHEN j_closers > 0 THEN s.after_all ELSE s.fan_out = 0 END;
      UPDATE jobs SET state = 'succeeded', phase = 'done', finished_at = p_now,
        result = CASE WHEN cardinality(sinks) = 1 THEN sinks[1]
                      ELSE '[' || COALESCE(array_to_string(sinks, ','), '') || ']' END
      WHERE id = jid;
    END IF;
    RETURN QUERY SELECT q.i, jid, j_done >= j_total AND q.k = n, q.ph, q.sa, NULL::TEXT
      FROM unnest(f_ids, f_phases, f_started) WITH ORDINALITY AS q (i, ph, sa, k);
  END LOOP;
  IF total > 0 THEN
    UPDATE workers SET tasks_done = tasks_done + total WHERE id = p_worker;
  END IF;
END
$$;

-- A worker's report: its completions as orchard_complete records them, then, when p_claim
-- is positive, a claim of up to p_claim more batches (as orchard_claim leases them), all in
-- one call and one transaction.
-- The completions' rows come first (claimed false), then the leased tasks (claimed true).
-- A worker none of whose completions went through has its sign of life recorded; an
-- unknown one is leased nothing.
CREATE OR REPLACE FUNCTION orchard_report(p_worker TEXT, p_ids TEXT[], p_jobs TEXT[],
                               p_attempts BIGINT[], p_outputs TEXT[], p_now BIGINT,
                               p_claim BIGINT, p_lease_ms BIGINT,
                               p_started BIGINT[] DEFAULT NULL, p_runs BIGINT[] DEFAULT NULL,
                               p_batch_max BIGINT DEFAULT 1, p_batch_us BIGINT DEFAULT 0,
                               p_cap BIGINT DEFAULT 256, p_spawn_of TEXT[] DEFAULT NULL,
                               p_spawn_ids TEXT[] DEFAULT NULL,
                               p_spawn_phases TEXT[] DEFAULT NULL,
                               p_spawn_payloads TEXT[] DEFAULT NULL,
                               p_spawn_handlers TEXT[] DEFAULT NULL,
                               p_handlers TEXT[] DEFAULT '{}',
                               p_limit_handlers TEXT[] DEFAULT '{}',
                               p_limit_keys TEXT[] DEFAULT '{}',
                               p_limit_ns BIGINT[] DEFAULT '{}')
RETURNS TABLE (claimed BOOLEAN, id TEXT, job_id TEXT, finished BOOLEAN, fan_out BIGINT, phase TEXT,
               started_at BIGINT, job_state TEXT, payload TEXT, attempt BIGINT,
               lease_expires_at BIGINT, job_kind TEXT, job_params TEXT, inputs TEXT,
               lease_batch TEXT)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
  r RECORD;
  accepted BOOLEAN := false;
BEGIN
  FOR r IN SELECT * FROM orchard_complete(p_worker, p_ids, p_jobs, p_attempts, p_outputs,
                                          p_now, p_started, p_runs, p_spawn_of, p_spawn_ids,
                                          p_spawn_phases, p_spawn_payloads,
                                          p_spawn_handlers) LOOP
    claimed := false;
    id := r.id;
    job_id := r.job_id;
    finished := r.finished;
    phase := r.phase;
    started_at := r.started_at;
    job_state := r.job_state;
    accepted := accepted OR r.id IS NOT NULL;
    RETURN NEXT;
  END LOOP;
  IF p_claim <= 0 THEN
    RETURN;
  END IF;
  IF NOT accepted THEN
    UPDATE workers w SET last_seen_at = p_now WHERE w.id = p_worker;
    IF NOT FOUND THEN
      RETURN;
    END IF;
  END IF;
  RETURN QUERY SELECT true, l.id, l.job_id, NULL::BOOLEAN, l.fan_out, l.phase, NULL::BIGINT, NULL::TEXT,
      l.payload, l.attempt, l.lease_expires_at, l.job_kind, l.job_params, l.inputs,
      l.lease_batch
    FROM orchard_claim(p_worker, p_claim, p_lease_ms, p_now, false, p_batch_max, p_batch_us,
                       p_cap, p_handlers, p_limit_handlers, p_limit_keys, p_limit_ns) l;
END
$$;
