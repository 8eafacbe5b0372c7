-- The taints of nodes a task may run on anyway, as a JSON array of {key, exists, value, effect}.
alter table tasks add column tolerations jsonb not null default '[]';
