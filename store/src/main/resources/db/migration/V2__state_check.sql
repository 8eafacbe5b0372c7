-- The list of states moves from a referenced table to a check constraint: the foreign key ran a
-- lookup trigger for every state change, a fifth of the cost of a 20,000-task cycle's writes.
alter table tasks drop constraint tasks_state_fkey;
drop table task_states;
alter table tasks add constraint tasks_state_known check (state in (
    'waiting', 'queued', 'assigned', 'staging', 'launched', 'running',
    'succeeded', 'failed', 'cancelled', 'upstream_failed'));
