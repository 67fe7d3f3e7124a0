-- Where users open a client added with `selfserve client add --access-url`
-- (its home page); a client with one is listed on the Applications page.
ALTER TABLE oidc_clients ADD COLUMN access_url TEXT;
