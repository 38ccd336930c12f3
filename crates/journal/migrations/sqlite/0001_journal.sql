-- lienthong journal, SQLite dialect. Keep equivalent to ../postgres/0001_journal.sql
-- (a test compares the two schemas). Times are BIGINT microseconds since the Unix epoch
-- (UTC); flags are the time the thing happened (NULL = not yet).

-- Dossier state: one row per dossier, the source of truth for sync with the portal.
CREATE TABLE dossier (
    code            TEXT    NOT NULL PRIMARY KEY,
    version         BIGINT  NOT NULL,  -- latest version received: the desired state
    body            BLOB    NOT NULL,  -- its body (personal fields encrypted)
    body_kind       TEXT    NOT NULL,
    source          TEXT    NOT NULL,  -- partner that sent the latest version
    recorded_at     BIGINT  NOT NULL,  -- when the latest version was recorded
    acked_version   BIGINT,            -- latest version the portal acknowledged
    acked_at        BIGINT,
    portal_known_at BIGINT,            -- when the portal first acknowledged it (insert done)
    ahead_since     BIGINT,            -- since when the desired state is ahead of the portal
    sync_owner      TEXT,              -- route reconciling it now (lease)
    sync_until      BIGINT,
    agency_code     TEXT,              -- facts of the latest version (statistics, search)
    unit_code       TEXT,
    unit_name       TEXT,
    procedure_code  TEXT    NOT NULL,
    status          BIGINT,            -- DVCQG TrangThaiHoSo 1..10
    channel         BIGINT,            -- DVCQG KenhThucHien 1..3
    submitted_at    BIGINT,
    received_at     BIGINT,
    due_at          BIGINT,
    finished_at     BIGINT,
    returned_at     BIGINT,
    refused_at      BIGINT
);
CREATE INDEX dossier_received ON dossier (received_at);
CREATE INDEX dossier_ahead ON dossier (ahead_since);

-- Every version ever received, stale ones included.
CREATE TABLE dossier_version (
    code            TEXT    NOT NULL,
    version         BIGINT  NOT NULL,
    recorded_at     BIGINT  NOT NULL,
    source          TEXT    NOT NULL,
    outcome         TEXT    NOT NULL,  -- current | stale
    status          BIGINT,
    body_sha256     TEXT    NOT NULL,
    body_size       BIGINT  NOT NULL,
    PRIMARY KEY (code, version)
);

-- Progress steps; acked_at is set when the portal acknowledged the step.
CREATE TABLE progress_step (
    code            TEXT    NOT NULL,
    step_seq        BIGINT  NOT NULL,
    body            BLOB    NOT NULL,
    body_kind       TEXT    NOT NULL,
    source          TEXT    NOT NULL,
    recorded_at     BIGINT  NOT NULL,
    at              BIGINT,
    status          BIGINT,
    action          TEXT    NOT NULL,
    department      TEXT,
    acked_at        BIGINT,
    PRIMARY KEY (code, step_seq)
);
CREATE INDEX progress_unacked ON progress_step (acked_at, recorded_at);

-- Transactional outbox: work items written with the state change that causes them.
CREATE TABLE outbox (
    id              INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL,
    dossier_code    TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    claimed_by      TEXT,
    claimed_until   BIGINT,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    last_error      TEXT,
    handed_at       BIGINT
);
CREATE INDEX outbox_pending ON outbox (handed_at, id);
CREATE INDEX outbox_dossier ON outbox (dossier_code);

-- Idempotency keys: a duplicate submission gets the original answer.
CREATE TABLE idempotency (
    idem_key        TEXT    NOT NULL PRIMARY KEY,
    request_sha256  TEXT    NOT NULL,
    state           TEXT    NOT NULL,  -- pending | done
    created_at      BIGINT  NOT NULL,
    completed_at    BIGINT,
    answer_status   BIGINT,
    answer_body     BLOB
);
CREATE INDEX idempotency_created ON idempotency (created_at);

-- Message log: every message in and out.
CREATE TABLE message (
    id              TEXT    NOT NULL PRIMARY KEY,
    direction       TEXT    NOT NULL,  -- in | out
    partner         TEXT    NOT NULL,
    route           TEXT,
    dossier_code    TEXT,
    doc_id          TEXT,
    kind            TEXT    NOT NULL,
    payload_sha256  TEXT    NOT NULL,
    payload_size    BIGINT  NOT NULL,
    outcome         TEXT    NOT NULL,
    attempts        BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    first_attempt_at BIGINT,
    last_attempt_at BIGINT,
    finished_at     BIGINT,
    answer_code     TEXT,
    answer_message  TEXT
);
CREATE INDEX message_dossier ON message (dossier_code, created_at);
CREATE INDEX message_doc ON message (doc_id);
CREATE INDEX message_partner ON message (partner, created_at);
CREATE INDEX message_outcome ON message (outcome, created_at);
CREATE INDEX message_created ON message (created_at);

-- Message bodies, kept by the retention policy (personal fields encrypted).
CREATE TABLE message_body (
    message_id      TEXT    NOT NULL PRIMARY KEY,
    body            BLOB    NOT NULL,
    expires_at      BIGINT  NOT NULL
);
CREATE INDEX message_body_expires ON message_body (expires_at);
