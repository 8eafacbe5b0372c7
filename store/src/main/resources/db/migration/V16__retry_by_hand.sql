-- A retry by hand opens a finished task again: a failed or cancelled task is queued (or waits, or
-- is doomed at once by a dependency that has failed since), and the upstream_failed tasks it had
-- doomed wait again. The same edges as TaskState.canMoveTo and canReopenTo (a test compares every
-- pair).
create or replace function legal_task_transition(from_state text, to_state text) returns boolean
    language sql immutable parallel safe as $$
    select (from_state, to_state) in (
        ('waiting', 'queued'), ('waiting', 'cancelled'), ('waiting', 'upstream_failed'),
        ('queued', 'assigned'), ('queued', 'cancelled'), ('queued', 'failed'),
        ('assigned', 'staging'), ('assigned', 'launched'), ('assigned', 'queued'),
        ('assigned', 'failed'), ('assigned', 'cancelled'),
        ('staging', 'launched'), ('staging', 'queued'), ('staging', 'failed'),
        ('staging', 'cancelled'),
        ('launched', 'running'), ('launched', 'succeeded'), ('launched', 'failed'),
        ('launched', 'queued'), ('launched', 'cancelled'),
        ('running', 'succeeded'), ('running', 'failed'), ('running', 'queued'),
        ('running', 'cancelled'),
        -- a retry by hand
        ('failed', 'queued'), ('failed', 'waiting'), ('failed', 'upstream_failed'),
        ('cancelled', 'queued'), ('cancelled', 'waiting'), ('cancelled', 'upstream_failed'),
        ('upstream_failed', 'waiting'))
$$;

-- The counted attempts a task had made when it was last retried by hand: its retries start again
-- after them, as Airflow's clear gives a task its retries again.
alter table tasks add column attempts_before_retry integer not null default 0
    check (attempts_before_retry >= 0);
