-- Uploaded images. The files themselves are in the media store (a folder
-- or a bucket) under content-addressed names; a row is one upload with its
-- alt text and focal point, and says what uses it: a statement (attached,
-- in position order) or an organisation's profile (avatar or header).
-- Rows nothing uses are swept with their files (services::media).
CREATE TABLE media (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id TEXT NOT NULL UNIQUE,
    file TEXT NOT NULL,
    thumbnail TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    blurhash TEXT NOT NULL,
    description TEXT,
    focus_x DOUBLE PRECISION,
    focus_y DOUBLE PRECISION,
    statement_id BIGINT REFERENCES statements (id),
    position INTEGER,
    organisation_id BIGINT REFERENCES organisations (id),
    role TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX media_statement ON media (statement_id);
CREATE INDEX media_file ON media (file);

-- What a statement carries, copied when it is written (a JSON array of
-- media::Attachment), so documents and pages read it with the statement.
ALTER TABLE statements ADD COLUMN media TEXT NOT NULL DEFAULT '[]';
