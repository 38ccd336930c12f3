-- lienthong journal, SQLite dialect: the audit log. Keep equivalent to ../postgres/0002_audit.sql
-- (a test compares the two schemas). Times are BIGINT microseconds since the Unix epoch (UTC).

-- Every state-changing operator action: who (actor, role), what (action, target, details),
-- when (at) and why (reason). Rows are only ever added.
CREATE TABLE audit (
    id              INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at              BIGINT  NOT NULL,
    actor           TEXT    NOT NULL,  -- the operator's configured name
    role            TEXT    NOT NULL,  -- viewer | operator | admin
    action          TEXT    NOT NULL,  -- e.g. parked.replay, parked.discard, maintenance.on
    target          TEXT,              -- what it applied to (route/id, all, a filter)
    reason          TEXT,              -- the operator's reason
    details         TEXT    NOT NULL   -- JSON object
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_actor ON audit (actor, at);
CREATE INDEX audit_action ON audit (action, at);
