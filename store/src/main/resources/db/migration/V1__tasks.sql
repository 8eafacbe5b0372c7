-- Tasks and their life. Every state change is one UPDATE; the trigger below rejects any change
-- that is not an edge of the lifecycle, so an illegal transition cannot be written even by a bug.

create table task_states (
    state text primary key
);

insert into task_states (state) values
    ('waiting'), ('queued'), ('assigned'), ('staging'), ('launched'), ('running'),
    ('succeeded'), ('failed'), ('cancelled'), ('upstream_failed');

-- The lifecycle's edges, the same as TaskState.canMoveTo (a test compares every pair).
create function legal_task_transition(from_state text, to_state text) returns boolean
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
        ('running', 'cancelled'))
$$;

create table tasks (
    id            text        primary key,
    seq           bigint      generated always as identity unique, -- submit order
    name          text        not null,
    state         text        not null references task_states,
    priority      integer     not null default 0,
    cpu_millis    bigint      not null default 0 check (cpu_millis between 0 and 9007199254740992),
    memory_mib    bigint      not null default 0 check (memory_mib between 0 and 9007199254740992),
    disk_mib      bigint      not null default 0 check (disk_mib   between 0 and 9007199254740992),
    gpus          bigint      not null default 0 check (gpus       between 0 and 9007199254740992),
    constraints   jsonb       not null default '{}',
    command       jsonb       not null,
    env           jsonb       not null default '{}',
    labels        jsonb       not null default '{}',
    max_attempts  integer     not null default 1 check (max_attempts >= 1),
    backoff_ms    bigint      not null default 0 check (backoff_ms >= 0),
    max_backoff_ms bigint     not null default 0 check (max_backoff_ms >= 0),
    timeout_ms    bigint      check (timeout_ms > 0),
    trace_parent  text,
    attempt       integer     not null default 0 check (attempt >= 0),
    offer         text,        -- where the current attempt was placed
    not_before    timestamptz, -- a retried task waits out its backoff
    -- dependencies not yet succeeded; a waiting task becomes queued when this reaches 0
    pending_dependencies integer not null default 0 check (pending_dependencies >= 0),
    submitted_at  timestamptz not null,
    updated_at    timestamptz not null
);

create table task_dependencies (
    task_id    text not null references tasks on delete cascade,
    depends_on text not null references tasks,
    primary key (task_id, depends_on),
    check (task_id <> depends_on)
);

create index task_dependencies_by_dependency on task_dependencies (depends_on);

-- get_processable_tasks: queued tasks by priority, then submit time and order.
create index tasks_processable on tasks (priority desc, submitted_at, seq) where state = 'queued';

-- Per row, but cheap: no table lookup, just the edge list above. (A statement-level trigger
-- joining its transition tables was tried: without statistics on them the planner chose a
-- nested loop, and 20,000 rows took a minute.)
create function reject_illegal_task_transition() returns trigger language plpgsql as $$
begin
    if new.state is distinct from old.state
       and not legal_task_transition(old.state, new.state) then
        raise exception 'illegal task transition % -> % for task %', old.state, new.state, old.id
            using errcode = 'check_violation';
    end if;
    return new;
end
$$;

create trigger tasks_legal_transitions
    before update of state on tasks
    for each row execute function reject_illegal_task_transition();
