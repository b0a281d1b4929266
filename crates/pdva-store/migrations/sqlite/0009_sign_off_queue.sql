-- The sign-off queue and the compliance view's unsigned records read only
-- the procedures and visits awaiting sign-off: a few beside the whole table.
CREATE INDEX record_awaiting_sign_off ON record (record_date, created_at)
    WHERE signed_off_at IS NULL AND voided = 0
      AND kind IN ('procedure', 'follow_up_visit');
