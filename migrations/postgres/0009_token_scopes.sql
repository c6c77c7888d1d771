-- What an admin API token may do (read: GET only; editor: everything but
-- domain blocks; admin: everything, the desk included) and until when.
-- Tokens made before this keep the power they had.
ALTER TABLE admin_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE admin_tokens ADD COLUMN expires_at BIGINT;
