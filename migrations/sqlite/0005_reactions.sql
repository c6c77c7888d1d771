-- What the fediverse does with our statements: boosts and likes, replies
-- (moderated), quotes (each with the authorisation we serve), reports
-- from other servers' moderators, and blocks of our organisations.

-- Who may quote a statement: anyone | followers | nobody.
ALTER TABLE statements ADD COLUMN quote_policy TEXT NOT NULL DEFAULT 'anyone';
-- Replies to this organisation's statements are approved without review.
ALTER TABLE organisations ADD COLUMN approve_replies BOOLEAN NOT NULL DEFAULT FALSE;
-- The avatar of a remote actor, from its verified document.
ALTER TABLE remote_actors ADD COLUMN icon_url TEXT;

-- A like or a boost: one per (statement, kind, actor), however often it arrives.
CREATE TABLE reactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    statement_id BIGINT NOT NULL REFERENCES statements (id) ON DELETE CASCADE,
    -- like | boost
    kind TEXT NOT NULL,
    actor_id BIGINT NOT NULL REFERENCES remote_actors (id) ON DELETE CASCADE,
    -- The Like's or Announce's id, by which an Undo names it.
    activity_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (statement_id, kind, actor_id)
);
CREATE INDEX reactions_activity ON reactions (activity_id);

CREATE TABLE replies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    statement_id BIGINT NOT NULL REFERENCES statements (id) ON DELETE CASCADE,
    actor_id BIGINT NOT NULL REFERENCES remote_actors (id) ON DELETE CASCADE,
    -- The reply's own id (its Note), unique across the fediverse.
    object_id TEXT NOT NULL UNIQUE,
    url TEXT,
    -- Sanitised HTML.
    content TEXT NOT NULL,
    summary TEXT,
    language TEXT,
    -- pending | approved | hidden
    state TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    edited_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX replies_statement ON replies (statement_id, state);

CREATE TABLE quotes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Names the QuoteAuthorization we serve.
    public_id TEXT NOT NULL UNIQUE,
    statement_id BIGINT NOT NULL REFERENCES statements (id) ON DELETE CASCADE,
    actor_id BIGINT NOT NULL REFERENCES remote_actors (id) ON DELETE CASCADE,
    -- The QuoteRequest's id, echoed in our Accept.
    request_id TEXT NOT NULL UNIQUE,
    -- The quoting post.
    object_id TEXT NOT NULL,
    url TEXT,
    content TEXT NOT NULL,
    -- accepted | revoked
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    UNIQUE (statement_id, object_id)
);

CREATE TABLE reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    activity_id TEXT NOT NULL UNIQUE,
    -- Who sent it (usually the other server's instance actor).
    actor_id BIGINT REFERENCES remote_actors (id) ON DELETE SET NULL,
    actor_uri TEXT NOT NULL,
    organisation_id BIGINT NOT NULL REFERENCES organisations (id),
    content TEXT NOT NULL,
    -- JSON array of the public ids of the reported statements.
    statements TEXT NOT NULL,
    -- open | resolved
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    resolved_at BIGINT
);

-- A remote actor that blocks one of our organisations gets nothing from it.
CREATE TABLE remote_blocks (
    organisation_id BIGINT NOT NULL REFERENCES organisations (id),
    actor_id BIGINT NOT NULL REFERENCES remote_actors (id) ON DELETE CASCADE,
    activity_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (organisation_id, actor_id)
);
