-- Each attempt's steps and end, kept by the store itself so that a task's history survives a
-- restart and needs no trace. The current attempt's step times live on its task's row; when the
-- attempt ends, they move to task_attempts with its outcome, in the same row update.
alter table tasks
    add column placed_at   timestamptz,
    add column staged_at   timestamptz,
    add column launched_at timestamptz,
    add column started_at  timestamptz;

-- No foreign key to tasks: a task is never deleted, and its rows here are written only by the
-- trigger below, from the task's own update (a key would cost a lookup per row for nothing).
create table task_attempts (
    task_id     text        not null,
    attempt     integer     not null check (attempt >= 1),
    node        text,        -- the offer it was placed on
    placed_at   timestamptz,
    staged_at   timestamptz,
    launched_at timestamptz,
    started_at  timestamptz,
    ended_at    timestamptz not null,
    outcome     text        not null
        check (outcome in ('succeeded', 'failed', 'cancelled', 'requeued', 'preempted')),
    error       text,
    primary key (task_id, attempt)
);

-- A step's time is the update's own updated_at, which the service sets from its clock. An
-- attempt ends when a task placed, staging, launched or running finishes or is queued again with
-- the same attempt number (a placement taken back gives its number back: no attempt, no row; a
-- task moved to assigned without a number, as only a test does, made none either). A
-- preemption is told from a requeue by the preemption it counts.
create function record_task_attempt() returns trigger language plpgsql as $$
begin
    if new.state = 'assigned' then
        new.placed_at := new.updated_at;
        new.staged_at := null;
        new.launched_at := null;
        new.started_at := null;
    elsif new.state = 'staging' then
        new.staged_at := new.updated_at;
    elsif new.state = 'launched' then
        new.launched_at := new.updated_at;
    elsif new.state = 'running' then
        new.started_at := new.updated_at;
    end if;
    if old.state in ('assigned', 'staging', 'launched', 'running')
       and new.state in ('succeeded', 'failed', 'cancelled', 'queued')
       and new.attempt = old.attempt and old.attempt >= 1 then
        insert into task_attempts (task_id, attempt, node, placed_at, staged_at, launched_at,
                                   started_at, ended_at, outcome, error)
        values (old.id, old.attempt, old.offer, old.placed_at, old.staged_at, old.launched_at,
                old.started_at, new.updated_at,
                case when new.state <> 'queued' then new.state
                     when new.preemptions > old.preemptions then 'preempted'
                     else 'requeued' end,
                case when new.state in ('failed', 'queued') then new.last_error end);
    end if;
    return new;
end
$$;

-- Named to run after tasks_legal_transitions (before-triggers run in name order): only a legal
-- change is recorded. The condition keeps the many updates that leave the state alone (a
-- dependency's success counted) from calling the function at all.
create trigger tasks_record_attempts
    before update of state on tasks
    for each row when (new.state is distinct from old.state)
    execute function record_task_attempt();
