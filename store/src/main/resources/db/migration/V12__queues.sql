-- Queues share the cluster by weight; a task waits in one ('default' unless it names another).
create table queues (
  name text primary key,
  weight double precision not null check (weight > 0),
  -- Per resource (cpuMillis, memoryMiB, diskMiB, gpus), the most its running tasks may hold.
  limits jsonb not null default '{}'
);
insert into queues (name, weight) values ('default', 1);
alter table tasks add column queue text not null default 'default';
