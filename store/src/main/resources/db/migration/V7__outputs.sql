-- What each attempt copies out of its work directory after its process exits with 0
-- ([{source, destination}]), before the task counts as succeeded.
alter table tasks add column outputs jsonb not null default '[]';
