-- Who may use the API, and what was changed through it.

-- Tokens by the SHA-256 of their secret; the secret itself is never stored. Names stay unique,
-- revoked ones included, so that the audit log's actor always means one token.
create table api_tokens (
    name        text        primary key,
    role        text        not null check (role in ('reader', 'submitter', 'admin')),
    secret_hash text        not null unique,
    created_at  timestamptz not null,
    expires_at  timestamptz,
    revoked_at  timestamptz,
    created_by  text
);

create table audit_log (
    id     bigint      generated always as identity primary key,
    at     timestamptz not null,
    actor  text        not null,
    action text        not null,
    target text        not null,
    detail text        not null
);

-- The token that submitted a task: a submitter may cancel only its own.
alter table tasks add column owner text;
