-- The cluster sampled every few seconds, for the dashboard's charts over time; the service
-- forgets the samples older than a day as it adds new ones.
create table cluster_samples (
    at     timestamptz primary key,
    sample jsonb       not null
);
