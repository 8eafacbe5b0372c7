-- Named priorities, as Kubernetes' PriorityClass: a task naming one takes its value as priority,
-- and its policy says whether the task may evict others (preempts) and be evicted (preemptible).
create table priority_classes (
  name text primary key,
  value integer not null,
  preempts boolean not null,
  preemptible boolean not null
);
alter table tasks add column priority_class text;
-- Attempts evicted for other tasks (they do not count against retries), and the last one's cause.
alter table tasks add column preemptions integer not null default 0;
alter table tasks add column preempted_by text;
