-- The change history of a patient page reads the audit entries of the
-- patient and of their records (`record_id = $1 OR patient_id = $1`): an
-- index on each side of the OR turns a scan of the whole trail into two
-- index searches.
CREATE INDEX audit_entry_patient ON audit_entry (patient_id, seq);
