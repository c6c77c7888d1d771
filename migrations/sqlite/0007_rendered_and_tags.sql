-- A statement's HTML is rendered once, when its body is written, and kept:
-- a page view only reads it (rendering deeply nested Markdown was the costly
-- part of every anonymous view). NULL on rows written before this; those
-- are rendered when read.
ALTER TABLE statements ADD COLUMN body_html TEXT;
ALTER TABLE statements ADD COLUMN page_html TEXT;

-- Tags matched exactly by a lower-case key. The JSON list in
-- statements.tags keeps the editor's spelling and order; this table is
-- what tag pages and filters look up (a LIKE over that list let `%` and
-- `_` match other tags).
CREATE TABLE statement_tags (
    tag TEXT NOT NULL,
    statement_id BIGINT NOT NULL REFERENCES statements (id),
    PRIMARY KEY (tag, statement_id)
);

INSERT OR IGNORE INTO statement_tags (statement_id, tag)
SELECT s.id, lower(t.value) FROM statements s, json_each(s.tags) t;
