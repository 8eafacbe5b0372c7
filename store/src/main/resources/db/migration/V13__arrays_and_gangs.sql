-- A task of an array: the array's id (what the submission named), its index and the array's size.
alter table tasks add column array_id text;
alter table tasks add column array_index integer;
alter table tasks add column array_size integer;
-- A task of a gang, placed with the others in one cycle or not at all: the gang's name and size.
alter table tasks add column gang text;
alter table tasks add column gang_size integer;
alter table tasks add constraint array_whole check (
  (array_id is null and array_index is null and array_size is null)
  or (array_id is not null and array_index >= 0 and array_index < array_size));
alter table tasks add constraint gang_whole check (
  (gang is null and gang_size is null) or (gang is not null and gang_size > 0));
-- A submit checks that no unfinished gang has the name its gang takes.
create index tasks_gang on tasks (gang) where gang is not null;
