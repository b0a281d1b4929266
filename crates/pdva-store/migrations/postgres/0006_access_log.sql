-- Who saw what (NHS data-security standards): every view of an identifiable
-- patient page, every view of a de-identified patient, every report and
-- every export, with who, when, which patient or which filters. Append-only,
-- like the audit trail, but not part of its hash chain: reading changes no
-- record, and a page view must not wait for the chain's write lock.
CREATE TABLE access_log (
    id         BIGSERIAL PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    role       TEXT NOT NULL,
    action     TEXT NOT NULL,
    patient_id TEXT,
    detail     TEXT
);
CREATE INDEX access_log_patient ON access_log (patient_id, id);
CREATE INDEX access_log_actor ON access_log (actor, id);

CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
    FOR EACH ROW EXECUTE FUNCTION pdva_refuse_change('the access log is append-only');
CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION pdva_refuse_change('the access log is append-only');
