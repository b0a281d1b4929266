-- The outcome facts of each non-voided patient (pdva_domain::PatientFacts,
-- in the binary form of src/projection.rs): the few fields of their records
-- that the outcomes derivation reads. Kept in the same transaction as every
-- change to the patient's records, so that a report over the whole registry
-- reads one small row per patient instead of every record's JSON body.
-- `audit verify` checks every row against the records.
CREATE TABLE outcome_facts (
    patient_id TEXT PRIMARY KEY,
    site_code TEXT NOT NULL,
    -- The patient's non-voided index procedures, follow-up visits and
    -- deaths, so that a site's counts need no join of record with itself.
    procedures BIGINT NOT NULL,
    visits BIGINT NOT NULL,
    deaths BIGINT NOT NULL,
    facts BLOB NOT NULL
);
CREATE INDEX outcome_facts_site ON outcome_facts (site_code);

-- Which format each derived table was built in: a table built in another
-- format than the running binary's is rebuilt from the records on opening.
CREATE TABLE projection_state (
    name TEXT PRIMARY KEY,
    format BIGINT NOT NULL
);
