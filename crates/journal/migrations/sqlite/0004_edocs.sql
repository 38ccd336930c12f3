-- lienthong journal, SQLite dialect: documents exchanged over the national document axis
-- (VDXP), its agency directory, and leases. Keep equivalent to ../postgres/0004_edocs.sql
-- (a test compares the two schemas). Times are BIGINT microseconds since the Unix epoch
-- (UTC); flags are BIGINT 0/1.

-- Documents (edoc) and status messages (status) sent (out) and received (in) over the axis:
-- one row each, written with its work item (document.outbound / document.inbound) in one transaction.
CREATE TABLE edoc (
    id              TEXT    NOT NULL PRIMARY KEY,  -- gateway id, chosen by the caller
    direction       TEXT    NOT NULL,  -- out | in
    kind            TEXT    NOT NULL,  -- edoc | status
    dedup_key       TEXT    NOT NULL,  -- out: caller-computed; in: 'in:' || axis_doc_id
    document_id     TEXT    NOT NULL,  -- edXML DocumentId (a status: the document it is about)
    business_type   BIGINT,            -- edoc: BussinessDocType 0..3
    status_code     TEXT,              -- status: 01..16
    code            TEXT,              -- number/notation
    subject         TEXT,
    from_organ      TEXT    NOT NULL,
    to_organs       TEXT    NOT NULL,  -- comma-separated organ codes
    dossier_code    TEXT,              -- out: the dossier it belongs to
    client          TEXT,              -- out: the client that submitted it
    body            BLOB    NOT NULL,  -- the .edxml bytes (encrypted whole when configured)
    body_sha256     TEXT    NOT NULL,  -- of the bytes as received
    state           TEXT    NOT NULL,  -- out: queued | sending | sent | parked; in: received | delivered | parked
    axis_doc_id     TEXT,              -- out: DocId from sendEdoc; in: the axis delivery docId
    send_started_at BIGINT,            -- out: a send may have reached the axis since then
    attempts        BIGINT  NOT NULL DEFAULT 0,
    last_error      TEXT,
    related_id      TEXT,              -- in status: our out edoc; out status: the in edoc it answers
    last_status     TEXT,              -- the latest status received about this document
    last_status_at  BIGINT,
    axis_ack        TEXT,              -- in: done | fail, told the axis (updateStatus)
    axis_ack_at     BIGINT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    sent_at         BIGINT,
    delivered_at    BIGINT,            -- in: when the document system took it
    delivered_to    TEXT,
    delivered_via   TEXT               -- pull | webhook
);
CREATE UNIQUE INDEX edoc_dedup ON edoc (dedup_key);
CREATE UNIQUE INDEX edoc_in_axis ON edoc (axis_doc_id) WHERE direction = 'in';
CREATE INDEX edoc_in_waiting ON edoc (created_at) WHERE direction = 'in' AND delivered_at IS NULL;
CREATE INDEX edoc_dossier ON edoc (dossier_code, created_at);
CREATE INDEX edoc_document ON edoc (document_id, direction, kind, created_at);
CREATE INDEX edoc_related ON edoc (related_id);
CREATE INDEX edoc_created ON edoc (created_at);

-- Named leases ("exactly one active poller across nodes").
CREATE TABLE lease (
    name            TEXT    NOT NULL PRIMARY KEY,
    owner           TEXT    NOT NULL,
    until           BIGINT  NOT NULL
);

-- The axis's agency directory (getAgenciesList, getAgenciesListQD20, getSynchronizeUnit).
CREATE TABLE agency (
    code            TEXT    NOT NULL PRIMARY KEY,
    name            TEXT,
    mail            TEXT,
    pid             TEXT,
    old_code        TEXT,
    code102         TEXT,
    level           BIGINT,
    center_code     TEXT,
    is_agency       BIGINT,            -- 0 | 1, NULL = unknown
    deleted         BIGINT  NOT NULL DEFAULT 0,
    version         BIGINT,
    modified        TEXT,              -- modifyDate as the axis wrote it
    source          TEXT    NOT NULL,  -- the list that last wrote the row
    synced_at       BIGINT  NOT NULL
);
CREATE INDEX agency_old_code ON agency (old_code);
CREATE INDEX agency_code102 ON agency (code102);

-- Other codes of an agency: old code -> current code. source axis (oldCode, code102) or
-- config (merged units); config wins when both know an alias.
CREATE TABLE agency_alias (
    alias           TEXT    NOT NULL,
    code            TEXT    NOT NULL,
    source          TEXT    NOT NULL,  -- axis | config
    PRIMARY KEY (alias, source)
);
CREATE INDEX agency_alias_code ON agency_alias (code);
