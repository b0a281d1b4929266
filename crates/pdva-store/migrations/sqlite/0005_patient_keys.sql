-- Identifiers encrypted at rest, per patient (src/keys.rs).
-- A patient's row keeps their identifiers sealed with a data key of their
-- own; the data key, wrapped by the master key of the key file (never in
-- the database), lives here, outside the audit chain, so that deleting it
-- erases the identifiers from the row and from every audit before-state
-- that holds their ciphertext. No trigger refuses deletes here: erasure is
-- a delete. `nhs_index` is the keyed blind index of the patient's NHS
-- number (HMAC-SHA-256 under a secret of the key file), kept here rather
-- than in the audited row so that erasure removes it too; it is NULL for a
-- voided patient, whose number may be registered again. `record.nhs_number`
-- is no longer written.
CREATE TABLE patient_key (
    patient_id  TEXT PRIMARY KEY NOT NULL,
    wrapped_key TEXT NOT NULL,
    nhs_index   TEXT
);
CREATE UNIQUE INDEX patient_key_nhs_index ON patient_key (nhs_index)
    WHERE nhs_index IS NOT NULL;

-- Which key file this registry was made with: `key_id` identifies the
-- deployment's secrets, `master_check` opens only with the current master
-- key. A store refuses to open with another key file.
CREATE TABLE key_check (
    id           BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    key_id       TEXT NOT NULL,
    master_check TEXT NOT NULL
);

-- Attempts to register an NHS number that another patient holds, for an
-- administrator to review. The clinician is told only that the number
-- cannot be registered; the number itself is kept as its blind index.
CREATE TABLE nhs_conflict (
    id          TEXT PRIMARY KEY NOT NULL,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    site_code   TEXT NOT NULL,
    nhs_index   TEXT NOT NULL,
    patient_id  TEXT,
    resolved_at TEXT,
    resolved_by TEXT,
    resolution  TEXT
);
