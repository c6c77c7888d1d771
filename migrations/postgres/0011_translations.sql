-- A statement's text in other languages than its own: a JSON array of
-- {language, title, body, summary, rendered: {federated, page}}, written
-- with the statement's own text and read with it.
ALTER TABLE statements ADD COLUMN translations TEXT NOT NULL DEFAULT '[]';
