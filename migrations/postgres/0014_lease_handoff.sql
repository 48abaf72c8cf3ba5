-- A worker that finishes tasks of a running job and wants work again hands its places in
-- the job to the job's next ready tasks: it completes and leases in one call without
-- locking the job's row for update, so the reports of a job's workers no longer wait for
-- each other.
--
-- Why the job's concurrency still holds: a handoff leases at most as many tasks as it
-- completed, all of the same job, so the number of the job's leased tasks never grows
-- through it. Every other change of a job's leases (a claim, a failure, the reaper, a
-- cancellation) locks the job's row for update, which waits for, or skips, a handoff in
-- progress: a handoff holds the row in share mode, which two handoffs may do at once. The
-- lock order is the usual one (the job's row, then its tasks, parents in id order, the
-- worker's row), so handoffs and everything else cannot deadlock.
--
-- A handoff writes its done count to job_progress, a row per job and worker, rather than
-- to the job's row (which two share-holders could not both update): a job's done count is
-- jobs.done plus its job_progress rows.
--
-- Whatever a handoff cannot settle on its own it leaves to orchard_report, by raising
-- before its transaction commits anything. SQLSTATE OR001: a completion that is refused,
-- the job's last task, a job that is not running, or a task of a phase the job has not
-- reached yet (the job's row records the phase). SQLSTATE OR002: a claim for more tasks
-- than it completes, of a job with room under its concurrency, which a claim that locks
-- the job's row may fill.

CREATE TABLE job_progress (
    job_id    TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    worker_id TEXT NOT NULL,
    done      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, worker_id)
);

CREATE FUNCTION orchard_handoff(p_worker TEXT, p_job TEXT, p_ids TEXT[], p_attempts BIGINT[],
                                p_outputs TEXT[], p_now BIGINT, p_claim BIGINT,
                                p_lease_ms BIGINT)
RETURNS TABLE (claimed BOOLEAN, id TEXT, job_id TEXT, parent_id TEXT, phase TEXT,
               started_at BIGINT, job_state TEXT, payload TEXT, attempt BIGINT,
               lease_expires_at BIGINT, job_kind TEXT, job_params TEXT, inputs TEXT)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
  jb RECORD;
  n BIGINT := COALESCE(cardinality(p_ids), 0);
  f_ids TEXT[];
  f_parents TEXT[];
  f_phases TEXT[];
  f_started BIGINT[];
  picked TEXT[];
  later BOOLEAN;
  pid TEXT;
  cnt BIGINT;
  leased BIGINT;
BEGIN
  IF n = 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'OR001', MESSAGE = 'no completions to hand off';
  END IF;
  SELECT j.state, j.phase, j.kind, j.params, j.concurrency INTO jb
  FROM jobs j WHERE j.id = p_job FOR SHARE;
  IF NOT FOUND OR jb.state <> 'running' THEN
    RAISE EXCEPTION USING ERRCODE = 'OR001', MESSAGE = 'the job is not running';
  END IF;
  IF p_claim > n THEN
    -- Handoffs do not change how many of the job's tasks are leased, and nothing else
    -- can while this transaction holds the job's row.
    SELECT COUNT(*) INTO leased FROM (
      SELECT 1 FROM job_tasks l WHERE l.job_id = p_job AND l.state = 'leased'
      LIMIT jb.concurrency) s;
    IF leased < jb.concurrency THEN
      RAISE EXCEPTION USING ERRCODE = 'OR002', MESSAGE = 'the job has room for a claim';
    END IF;
  END IF;
  WITH fin AS (
    UPDATE job_tasks t SET state = 'done', lease_owner = NULL, lease_expires_at = NULL,
      output = p_outputs[array_position(p_ids, t.id)], finished_at = p_now,
      worker_id = p_worker
    WHERE t.id = ANY (p_ids) AND t.job_id = p_job AND t.state = 'leased'
      AND t.lease_owner = p_worker AND t.attempt = p_attempts[array_position(p_ids, t.id)]
    RETURNING t.id, t.parent_id, t.phase, t.started_at
  )
  SELECT array_agg(fin.id), array_agg(fin.parent_id), array_agg(fin.phase),
    array_agg(fin.started_at)
  INTO f_ids, f_parents, f_phases, f_started FROM fin;
  -- Every completion must go through (a task named twice is one completion short), and
  -- none may be the job's last task.
  IF COALESCE(cardinality(f_ids), 0) <> n OR array_position(f_parents, NULL) IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'OR001', MESSAGE = 'completions for the full path';
  END IF;
  -- Parents one by one, in id order: each is a key lookup, whatever the plan.
  FOR pid, cnt IN SELECT x, COUNT(*) FROM unnest(f_parents) x GROUP BY x ORDER BY x LOOP
    UPDATE job_tasks p SET deps_pending = p.deps_pending - cnt,
      state = CASE WHEN p.deps_pending = cnt AND p.state = 'waiting' THEN 'ready'
                   ELSE p.state END,
      ready_at = CASE WHEN p.deps_pending = cnt THEN p_now ELSE p.ready_at END
    WHERE p.id = pid;
  END LOOP;
  IF p_claim > 0 THEN
    -- The next ready tasks, as many as places handed over; those another handoff is
    -- taking are skipped.
    SELECT array_agg(r.id), bool_or(orchard_phase_rank(r.phase) > orchard_phase_rank(jb.phase))
    INTO picked, later
    FROM (SELECT r.id, r.phase FROM job_tasks r
          WHERE r.job_id = p_job AND r.state = 'ready' AND r.run_after <= p_now
          ORDER BY r.seq LIMIT LEAST(p_claim, n) FOR UPDATE SKIP LOCKED) r;
    IF later THEN
      RAISE EXCEPTION USING ERRCODE = 'OR001', MESSAGE = 'the job reaches a new phase';
    END IF;
  END IF;
  INSERT INTO job_progress AS g (job_id, worker_id, done) VALUES (p_job, p_worker, n)
    ON CONFLICT (job_id, worker_id) DO UPDATE SET done = g.done + EXCLUDED.done;
  UPDATE workers SET tasks_done = tasks_done + n WHERE id = p_worker;
  RETURN QUERY SELECT false, q.i, p_job, q.par, q.ph, q.sa, NULL::TEXT, NULL::TEXT,
      NULL::BIGINT, NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::TEXT
    FROM unnest(f_ids, f_parents, f_phases, f_started) AS q (i, par, ph, sa);
  IF picked IS NOT NULL THEN
    RETURN QUERY
      WITH c AS (
        UPDATE job_tasks t SET state = 'leased', attempt = t.attempt + 1,
          lease_owner = p_worker, lease_expires_at = p_now + p_lease_ms, started_at = p_now
        WHERE t.id = ANY (picked)
        RETURNING t.id, t.phase, t.payload, t.parent_id, t.attempt, t.lease_expires_at,
          t.seq, t.fan_in
      )
      SELECT true, c.id, p_job, c.parent_id, c.phase, NULL::BIGINT, NULL::TEXT, c.payload,
        c.attempt, c.lease_expires_at, jb.kind, jb.params,
        CASE WHEN c.fan_in > 0 THEN (
          SELECT '[' || string_agg(COALESCE(i.output, 'null'), ',' ORDER BY i.seq) || ']'
          FROM job_tasks i WHERE i.parent_id = c.id AND i.state = 'done') END
      FROM c ORDER BY c.seq;
  END IF;
  -- Ready tasks left behind with room for them (places given back, or room the job had
  -- already): other claimers may take them.
  IF p_claim > 0 AND EXISTS (SELECT 1 FROM job_tasks r WHERE r.job_id = p_job
                             AND r.state = 'ready' AND r.run_after <= p_now) THEN
    IF COALESCE(cardinality(picked), 0) < n THEN
      leased := 0;
    ELSIF leased IS NULL THEN
      SELECT COUNT(*) INTO leased FROM (
        SELECT 1 FROM job_tasks l WHERE l.job_id = p_job AND l.state = 'leased'
        LIMIT jb.concurrency) s;
    END IF;
    IF leased < jb.concurrency THEN
      RETURN QUERY SELECT true, NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::TEXT,
        NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::BIGINT, NULL::BIGINT, NULL::TEXT,
        NULL::TEXT, NULL::TEXT;
    END IF;
  END IF;
END
$$;
