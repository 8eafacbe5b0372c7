-- The dashboard's task table, newest first, filtered by state, queue, label or id prefix: each
-- filter has an index that gives its tasks in submit order, so that a page of 50 of a million
-- tasks reads about 50 rows whichever filter is on.
create index tasks_by_state on tasks (state, seq);
create index tasks_by_queue on tasks (queue, seq);
create index tasks_by_id_prefix on tasks (id text_pattern_ops);
create index tasks_by_labels on tasks using gin (labels jsonb_path_ops);
