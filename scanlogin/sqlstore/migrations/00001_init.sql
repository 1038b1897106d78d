-- The first schema. One file serves PostgreSQL and SQLite: times are Unix
-- milliseconds (BIGINT), IDs are the engine's 32-hex-character IDs (TEXT),
-- and image bytes are BYTEA, which SQLite stores unchanged as a BLOB (a
-- column type it does not know gets NUMERIC affinity, which leaves blobs
-- alone).

-- +goose Up
CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    nickname          TEXT NOT NULL DEFAULT '',
    avatar_url        TEXT NOT NULL DEFAULT '',
    -- The number as WeChat verified it (the OpenID Connect phone_number
    -- claim needs it whole); the API masks it.
    phone             TEXT NOT NULL DEFAULT '',
    phone_verified_at BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

-- One row per WeChat account (an OpenID is per AppID). The primary key is
-- what keeps two concurrent first logins from creating two users.
CREATE TABLE identities (
    app_id     TEXT NOT NULL,
    open_id    TEXT NOT NULL,
    union_id   TEXT NOT NULL DEFAULT '',
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, open_id)
);
CREATE INDEX identities_union_id ON identities (union_id) WHERE union_id <> '';
CREATE INDEX identities_user_id ON identities (user_id);

-- Uploaded avatar images. An upload is unclaimed until a profile save makes
-- it the user's avatar; unclaimed uploads are collected after a while, and a
-- user has at most one claimed avatar.
CREATE TABLE avatars (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    data         BYTEA NOT NULL,
    sha256       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    claimed_at   BIGINT
);
CREATE INDEX avatars_user_id ON avatars (user_id);
CREATE UNIQUE INDEX avatars_claimed ON avatars (user_id) WHERE claimed_at IS NOT NULL;
CREATE INDEX avatars_unclaimed ON avatars (created_at) WHERE claimed_at IS NULL;

-- Every sign-in: a redeemed scene or an OpenID Connect sign-in.
CREATE TABLE sign_ins (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    client_id  TEXT NOT NULL DEFAULT '',
    session_id TEXT NOT NULL DEFAULT '',
    ip         TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sign_ins_user_at ON sign_ins (user_id, at);
CREATE INDEX sign_ins_at ON sign_ins (at);

-- +goose Down
DROP TABLE sign_ins;
DROP TABLE avatars;
DROP TABLE identities;
DROP TABLE users;
