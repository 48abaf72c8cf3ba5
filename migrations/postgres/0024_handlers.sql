-- Workflow steps run on handlers that workers declare: a task that names a handler is leased
-- only to a worker whose claim offers it (NULL: any worker that runs its kind), and a worker
-- records the handlers it offers (a JSON array of names) for the Workers page.
ALTER TABLE job_tasks ADD COLUMN handler TEXT;
ALTER TABLE workers ADD COLUMN handlers TEXT;
