-- Why no node of the cluster could ever host the task (null: some node could). Flagged tasks
-- stay out of get_processable_tasks until the cluster's nodes change and they fit again.
alter table tasks add column never_schedulable text;
create index tasks_never_schedulable on tasks (seq) where never_schedulable is not null;
