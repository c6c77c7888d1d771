-- Statements brought in from an archive (`broadside import`) carry the key
-- their file gave them, so importing the same archive again finds them
-- instead of creating them twice. Statements written here have none.
ALTER TABLE statements ADD COLUMN import_key TEXT;
CREATE UNIQUE INDEX statements_import_key ON statements (import_key);
