-- Joint statements and who signed them. The lead signatory has position 0.

CREATE TABLE statements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Opaque, never reused: the last segment of the statement's ActivityPub id.
    public_id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    summary TEXT,
    content_warning TEXT,
    language TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    format TEXT NOT NULL DEFAULT 'note',
    original_date TEXT,
    disclaimer TEXT,
    -- draft | scheduled | published | deleted
    state TEXT NOT NULL DEFAULT 'draft',
    publish_at BIGINT,
    published_at BIGINT,
    edited_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);

CREATE INDEX statements_state ON statements (state, publish_at);

CREATE TABLE statement_signatories (
    statement_id BIGINT NOT NULL REFERENCES statements (id),
    organisation_id BIGINT NOT NULL REFERENCES organisations (id),
    position INTEGER NOT NULL,
    added_at BIGINT NOT NULL,
    -- When this signatory's Create (lead) or Announce (co-signer) was sent.
    federated_at BIGINT,
    PRIMARY KEY (statement_id, organisation_id)
);

CREATE INDEX statement_signatories_organisation ON statement_signatories (organisation_id);

-- Statements pinned to an organisation's featured collection.
CREATE TABLE featured_statements (
    organisation_id BIGINT NOT NULL REFERENCES organisations (id),
    statement_id BIGINT NOT NULL REFERENCES statements (id),
    pinned_at BIGINT NOT NULL,
    PRIMARY KEY (organisation_id, statement_id)
);
