-- Remote actors, follows, domain blocks, replay protection and the durable
-- delivery queue.

-- Actors of other servers we have dealt with. Their keys are cached here and
-- refreshed by the inbox when stale or when a signature stops verifying.
CREATE TABLE remote_actors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uri TEXT NOT NULL UNIQUE,
    -- host[:port] of uri, lower case
    domain TEXT NOT NULL,
    inbox TEXT NOT NULL,
    shared_inbox TEXT,
    public_key_id TEXT NOT NULL,
    public_key_pem TEXT NOT NULL,
    preferred_username TEXT,
    name TEXT,
    kind TEXT NOT NULL,
    fetched_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX remote_actors_domain ON remote_actors (domain);

CREATE TABLE followers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    organisation_id BIGINT NOT NULL REFERENCES organisations (id),
    actor_id BIGINT NOT NULL REFERENCES remote_actors (id) ON DELETE CASCADE,
    -- The Follow's id as the follower sent it; echoed in Accept and Reject.
    follow_activity_id TEXT NOT NULL,
    -- pending | accepted
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    accepted_at BIGINT,
    UNIQUE (organisation_id, actor_id)
);

CREATE INDEX followers_organisation ON followers (organisation_id, state);

CREATE TABLE domain_blocks (
    domain TEXT PRIMARY KEY,
    reason TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

-- Ids of activities already processed: the same activity is acted on once.
CREATE TABLE received_activities (
    activity_id TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL
);

-- Every activity we send, stored once as the exact JSON delivered.
CREATE TABLE outbound_activities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id TEXT NOT NULL UNIQUE,
    -- The organisation that signs it.
    organisation_id BIGINT NOT NULL REFERENCES organisations (id),
    kind TEXT NOT NULL,
    statement_id BIGINT REFERENCES statements (id),
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX outbound_activities_statement ON outbound_activities (statement_id);

-- One row per (activity, inbox): the queue.
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    activity_id BIGINT NOT NULL REFERENCES outbound_activities (id),
    inbox TEXT NOT NULL,
    -- host[:port] of inbox, lower case
    host TEXT NOT NULL,
    -- queued | sending | delivered | failed
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    run_at BIGINT NOT NULL,
    locked_until BIGINT,
    last_status INTEGER,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT,
    UNIQUE (activity_id, inbox)
);

CREATE INDEX deliveries_claim ON deliveries (state, run_at);
CREATE INDEX deliveries_host ON deliveries (host, state);

-- Delivery health of each remote host (Mastodon's DeliveryFailureTracker):
-- failures on 7 distinct days without a success in between make it unavailable.
CREATE TABLE delivery_hosts (
    host TEXT PRIMARY KEY,
    failure_days INTEGER NOT NULL DEFAULT 0,
    last_failure_day TEXT,
    last_error TEXT,
    unavailable_since BIGINT,
    updated_at BIGINT NOT NULL
);

-- The instance actor's key pair (one row): it signs our GET requests.
CREATE TABLE instance_keys (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    public_key_pem TEXT NOT NULL,
    private_key_pem TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
