-- Roles live in user_roles since 0003, which copied them over; the old column
-- was never read again.
ALTER TABLE users DROP COLUMN role;
