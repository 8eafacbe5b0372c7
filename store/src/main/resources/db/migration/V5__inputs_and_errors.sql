-- What each attempt copies into its work directory before it starts ([{source, destination}]),
-- and why the last failed attempt failed (staging, launch, timeout, exit code), for people.
alter table tasks add column inputs jsonb not null default '[]';
alter table tasks add column last_error text;
