-- lienthong journal, PostgreSQL dialect: portal submissions. Keep equivalent to
-- ../sqlite/0003_portal.sql (a test compares the two schemas). Times are BIGINT
-- microseconds since the Unix epoch (UTC).

-- Dossiers citizens submitted on the national portal (DVCQG), pushed to the gateway: one row
-- per portal dossier code, written with its delivery work item in one transaction.
CREATE TABLE portal_submission (
    code               TEXT    NOT NULL PRIMARY KEY,  -- MaHoSo on the portal
    unit_code          TEXT,              -- the unit at the head of the code (strict form)
    procedure_code     TEXT    NOT NULL,
    body               BYTEA   NOT NULL,  -- the portal's dossier object (personal fields encrypted)
    body_kind          TEXT    NOT NULL,
    body_sha256        TEXT    NOT NULL,
    source             TEXT    NOT NULL,  -- who pushed it
    received_at        BIGINT  NOT NULL,
    delivered_at       BIGINT,            -- when the provincial system took it (ack or webhook 2xx)
    delivered_to       TEXT,              -- the client that took it
    delivered_via      TEXT,              -- pull | webhook
    status_reported    BIGINT,            -- last internal status (1..10) whose report the portal accepted
    status_reported_at BIGINT
);
CREATE INDEX portal_submission_pending ON portal_submission (delivered_at, received_at);
CREATE INDEX portal_submission_unit ON portal_submission (unit_code, delivered_at, received_at);
