-- The lease functions keep one generic plan per connection, made the first time a
-- connection calls them. On a new database that is while job_tasks is nearly empty, so the
-- planner found a sequential scan cheapest for the claim's update of the tasks it picked, and
-- kept it: every claim then read the whole table, however large it grew, until an automatic
-- ANALYZE happened to replan it. Every statement in these functions finds its rows by key or
-- by an index range, so they plan with sequential scans off: the plan no longer depends on
-- how large the tables were when a connection first called them.
ALTER FUNCTION orchard_claim(TEXT, BIGINT, BIGINT, BIGINT, BOOLEAN) SET enable_seqscan = off;
ALTER FUNCTION orchard_complete(TEXT, TEXT[], TEXT[], BIGINT[], TEXT[], BIGINT)
  SET enable_seqscan = off;
