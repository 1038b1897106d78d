-- Settings the instances of one deployment must agree on and keep across a
-- loss of Redis: in dev mode, the generated signing key, the issuer and the
-- session-key secret. A value is written once (insert-if-absent) and never
-- changed by the service.

-- +goose Up
CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE settings;
