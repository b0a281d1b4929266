-- A user account may be linked to the clinician record of the person who
-- holds it, so that a clinician can generate their own appraisal report
-- (IPG773 1.2) and no one else's. Audited with the account's state.
ALTER TABLE app_user ADD COLUMN clinician_id TEXT;
