-- The editor's desk (/admin): named editor accounts, browser sessions and
-- the failed sign-ins that rate-limit guessing.

-- An editor who signs in with a password (Argon2id, PHC string).
CREATE TABLE editors (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username TEXT NOT NULL,
    -- lower(username): names are unique whatever their case.
    username_key TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- A signed-in browser. The cookie holds a random id; only its SHA-256 is
-- kept, with the CSRF token its forms carry.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    -- NULL when signed in with an admin API token.
    editor_id BIGINT REFERENCES editors (id) ON DELETE CASCADE,
    -- Who it is, as shown on the desk (the username or the token's name).
    label TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- One row per failed sign-in, by client address and by name; rows older
-- than the window are deleted as new ones arrive.
CREATE TABLE failed_logins (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client TEXT NOT NULL,
    username_key TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX failed_logins_client ON failed_logins (client, at);
CREATE INDEX failed_logins_username ON failed_logins (username_key, at);
