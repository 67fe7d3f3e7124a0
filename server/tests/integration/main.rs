//! Every integration test in one binary (one link instead of twelve on 2
//! cores), a module per dashboard section. Tests go through the real router
//! on a real SQLite file and a real PostgreSQL database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod common;

mod applications;
mod approvals;
mod apps;
mod associations;
mod associations_social;
mod cli;
mod consent;
mod crash;
mod events;
mod export;
mod hardening;
mod home;
mod indexes;
mod layout;
mod mfa;
mod mfa_passkeys;
mod nodes;
mod oidc;
mod oidc_authorize;
mod openapi;
mod password;
mod performance;
mod profile;
mod recovery;
mod security;
mod sessions;
mod signin;
mod storage;
