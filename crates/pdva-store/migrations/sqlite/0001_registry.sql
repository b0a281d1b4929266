-- The registry's records and their hash-chained audit trail (SQLite).
-- Every record of the data dictionary is one row of `record`: its content is
-- the domain record as JSON in `body`; the other columns index it. Rows are
-- never deleted: a record is voided with a reason.
CREATE TABLE record (
    id            TEXT PRIMARY KEY NOT NULL,
    kind          TEXT NOT NULL,
    patient_id    TEXT REFERENCES record (id),
    procedure_id  TEXT REFERENCES record (id),
    site_code     TEXT,
    natural_key   TEXT,
    nhs_number    TEXT,
    record_date   TEXT,
    body          TEXT NOT NULL,
    version       INTEGER NOT NULL,
    voided        INTEGER NOT NULL DEFAULT 0,
    void_reason   TEXT,
    signed_off_at TEXT,
    signed_off_by TEXT,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    updated_by    TEXT NOT NULL
);
CREATE INDEX record_patient ON record (patient_id, kind);
CREATE INDEX record_kind_site ON record (kind, site_code);
CREATE UNIQUE INDEX record_natural_key ON record (natural_key)
    WHERE natural_key IS NOT NULL AND voided = 0;
CREATE UNIQUE INDEX record_nhs_number ON record (nhs_number)
    WHERE nhs_number IS NOT NULL AND voided = 0;

-- Append-only: each entry's hash covers its content and the previous hash;
-- `row_hash` binds the record's row as it stood after the change.
CREATE TABLE audit_entry (
    seq          INTEGER PRIMARY KEY NOT NULL,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    record_kind  TEXT NOT NULL,
    patient_id   TEXT,
    reason       TEXT,
    warnings     TEXT,
    before_state TEXT,
    row_hash     TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX audit_entry_record ON audit_entry (record_id, seq);

CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER record_no_delete BEFORE DELETE ON record
BEGIN SELECT RAISE(ABORT, 'records are voided, never deleted'); END;

-- The head of the chain: the registry's data version. Writers lock this row
-- first, so appends to the chain are serialised.
CREATE TABLE chain_head (
    id   INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO chain_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
