-- The last day of a consent as the user chose it, in their own calendar.
-- expires_at is the end of that day in the user's time zone, so the day
-- cannot be recomputed from it without knowing the zone.
ALTER TABLE consent_receipts ADD COLUMN expires_on TEXT;

-- (No schema change) Since this version every node signs receipts with the
-- newest key in signing_keys, so `selfserve signing-key rotate` takes effect
-- at once; 0004's note about the oldest key predates rotation.
