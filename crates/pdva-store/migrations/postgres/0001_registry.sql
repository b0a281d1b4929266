-- The registry's records and their hash-chained audit trail (PostgreSQL).
-- Same shape as the SQLite schema; see migrations/sqlite/0001_registry.sql.
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
    version       BIGINT NOT NULL,
    voided        BIGINT NOT NULL DEFAULT 0,
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

CREATE TABLE audit_entry (
    seq          BIGINT PRIMARY KEY NOT NULL,
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

CREATE FUNCTION pdva_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0];
END;
$$;
CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry
    FOR EACH ROW EXECUTE FUNCTION pdva_refuse_change('the audit trail is append-only');
CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry
    FOR EACH ROW EXECUTE FUNCTION pdva_refuse_change('the audit trail is append-only');
CREATE TRIGGER record_no_delete BEFORE DELETE ON record
    FOR EACH ROW EXECUTE FUNCTION pdva_refuse_change('records are voided, never deleted');

CREATE TABLE chain_head (
    id   BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO chain_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
