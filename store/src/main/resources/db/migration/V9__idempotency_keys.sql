-- The first answer to each token's Idempotency-Key, replayed to retries of the same request.
create table idempotency_keys (
    actor        text        not null,
    key          text        not null,
    request_hash text        not null,
    created_at   timestamptz not null,
    status       integer,    -- null while the first request is being handled
    body         text,
    primary key (actor, key)
);

create index idempotency_keys_by_age on idempotency_keys (created_at);
