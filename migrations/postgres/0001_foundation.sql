-- Organisations (each one a federated actor) and admin API tokens.
-- Timestamps are milliseconds since the Unix epoch on both databases.

CREATE TABLE organisations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    handle TEXT NOT NULL,
    -- lower(handle): handles are unique case-insensitively, and forever:
    -- a deleted organisation keeps its row so its actor id is never reused.
    handle_key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    summary TEXT NOT NULL,
    website TEXT,
    fields TEXT NOT NULL DEFAULT '[]',
    avatar_url TEXT,
    header_url TEXT,
    manually_approves_followers BOOLEAN NOT NULL DEFAULT FALSE,
    discoverable BOOLEAN NOT NULL DEFAULT TRUE,
    indexable BOOLEAN NOT NULL DEFAULT TRUE,
    public_key_pem TEXT NOT NULL,
    private_key_pem TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);

CREATE TABLE admin_tokens (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
