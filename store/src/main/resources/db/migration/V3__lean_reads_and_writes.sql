-- A task's dependency ids also live on its row: every read of a task needed them, and a second
-- query over task_dependencies cost a fifth of get_processable_tasks. The edge table stays for
-- the reverse lookups (who depends on this task) that release and doom dependants.
alter table tasks add column depends_on text[] not null default '{}';
update tasks t set depends_on = d.ids
from (select task_id, array_agg(depends_on order by depends_on) as ids
      from task_dependencies group by task_id) d
where t.id = d.task_id;

-- The trigger's function runs only for an illegal change: a WHEN clause is evaluated without
-- entering PL/pgSQL, so the legal bulk of a cycle's 20,000 updates skips the call.
drop trigger tasks_legal_transitions on tasks;
create trigger tasks_legal_transitions
    before update of state on tasks
    for each row
    when (old.state is distinct from new.state and not legal_task_transition(old.state, new.state))
    execute function reject_illegal_task_transition();
