-- A claim says when it may have left work behind: after the tasks it leased, a row with no
-- task when it stopped at its maximum with jobs left to look at, or took all it asked of a
-- job that had room for more. A claim without that row took all there was to take, so a
-- wake-up of the other claimers would only send them looking.

CREATE OR REPLACE FUNCTION orchard_claim(p_worker TEXT, p_max BIGINT, p_lease_ms BIGINT, p_now BIGINT,
                              p_touch BOOLEAN)
RETURNS TABLE (id TEXT, job_id TEXT, phase TEXT, payload TEXT, parent_id TEXT, attempt BIGINT,
               lease_expires_at BIGINT, seq BIGINT, job_kind TEXT, job_params TEXT,
               inputs TEXT)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
  inproc BOOLEAN;
  j RECORD;
  got BIGINT := 0;
  n BIGINT;
  taken BIGINT;
  room BIGINT;
  seen BIGINT := 0;
  more BOOLEAN := false;
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
  FOR j IN
    SELECT jb.id, jb.concurrency, jb.kind, jb.params FROM jobs jb
    WHERE jb.state IN ('queued', 'running')
      -- A subquery per job rather than a join: a job's ready tasks are one range of the
      -- claim index, whatever the plan guesses about how many tasks are ready.
      AND (SELECT t.seq FROM job_tasks t WHERE t.job_id = jb.id AND t.state = 'ready'
           AND t.run_after <= p_now ORDER BY t.seq LIMIT 1) IS NOT NULL
      AND (inproc OR jb.kind NOT IN ('tree_import', 'tree_export', 'tree_generate'))
    ORDER BY jb.created_at, jb.id LIMIT 64
    FOR UPDATE OF jb SKIP LOCKED
  LOOP
    seen := seen + 1;
    IF got >= p_max THEN
      more := true;
      EXIT;
    END IF;
    -- Counted after the job's row is locked, so every claim committed before is seen.
    SELECT j.concurrency - COUNT(*) INTO room
    FROM job_tasks l WHERE l.job_id = j.id AND l.state = 'leased';
    n := LEAST(p_max - got, room);
    CONTINUE WHEN n <= 0;
    RETURN QUERY
      WITH c AS (
        UPDATE job_tasks t SET state = 'leased', attempt = t.attempt + 1,
          lease_owner = p_worker, lease_expires_at = p_now + p_lease_ms, started_at = p_now
        WHERE t.id = ANY (ARRAY(
          SELECT r.id FROM job_tasks r
          WHERE r.job_id = j.id AND r.state = 'ready' AND r.run_after <= p_now
          ORDER BY r.seq LIMIT n))
        RETURNING t.id, t.job_id, t.phase, t.payload, t.parent_id, t.attempt,
          t.lease_expires_at, t.seq, t.fan_in
      ), furthest AS (
        SELECT orchard_phase_rank(c.phase) AS rank, c.phase FROM c
        ORDER BY orchard_phase_rank(c.phase) DESC LIMIT 1
      ), runs AS (
        -- The job runs now, and its phase is the furthest one it has reached.
        UPDATE jobs u SET state = 'running', started_at = COALESCE(u.started_at, p_now),
          phase = CASE WHEN orchard_phase_rank(u.phase) < f.rank THEN f.phase ELSE u.phase END
        FROM furthest f
        WHERE u.id = j.id AND (u.state <> 'running' OR orchard_phase_rank(u.phase) < f.rank)
      )
      SELECT c.id, c.job_id, c.phase, c.payload, c.parent_id, c.attempt, c.lease_expires_at,
        c.seq, j.kind, j.params,
        CASE WHEN c.fan_in > 0 THEN (
          SELECT '[' || string_agg(COALESCE(i.output, 'null'), ',' ORDER BY i.seq) || ']'
          FROM job_tasks i WHERE i.parent_id = c.id AND i.state = 'done') END
      FROM c ORDER BY c.seq;
    GET DIAGNOSTICS taken = ROW_COUNT;
    got := got + taken;
    -- All it asked of this job, with room left under the job's concurrency: the job may
    -- have more ready tasks.
    more := more OR (taken = n AND n < room);
  END LOOP;
  IF more OR seen >= 64 THEN
    RETURN QUERY SELECT NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::TEXT,
      NULL::BIGINT, NULL::BIGINT, NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::TEXT;
  END IF;
END
$$;

