-- Random secrets the server derives values from that must be the same on
-- every node and unknown outside (e.g. the questions an unknown account is
-- asked in password recovery). Created on first use.
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
