//! What userinfo tells a client about the user: for each scope granted, the
//! standard claims, and of those only the ones the user's ACTIVE consent
//! receipt for that application covers (deselected on Consent Management:
//! gone at the next request).

use super::grants::Grant;
use crate::config::clients::Scope;
use crate::consent::{self, ConsentError};
use crate::db::Db;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// Each OpenID Connect claim, the scope that asks for it, and the profile
/// claim (as consent purposes name it) it is read from.
const CLAIMS: [(Scope, &str, &str); 5] = [
    (Scope::Profile, "given_name", "first_name"),
    (Scope::Profile, "family_name", "last_name"),
    (Scope::Profile, "website", "url"),
    (Scope::Email, "email", "email"),
    (Scope::Phone, "phone_number", "telephone"),
];

/// The claims a client with these scopes receives under this consent, as
/// userinfo releases them (when the user has a value): each OpenID Connect
/// claim with the profile claim it is read from. The country travels
/// inside `address`.
pub fn receivable(
    scopes: &[Scope],
    consented: &BTreeSet<String>,
) -> Vec<(&'static str, &'static str)> {
    let mut released: Vec<(&'static str, &'static str)> = CLAIMS
        .iter()
        .filter(|(scope, _, profile_claim)| {
            scopes.contains(scope) && consented.contains(*profile_claim)
        })
        .map(|(_, claim, profile_claim)| (*claim, *profile_claim))
        .collect();
    if scopes.contains(&Scope::Address) && consented.contains("country") {
        released.push(("address", "country"));
    }
    released
}

/// The userinfo response for a live grant: `sub` and the consented claims.
pub async fn userinfo(db: &Db, grant: &Grant) -> Result<Value, ConsentError> {
    let mut claims = Map::new();
    claims.insert(
        "sub".into(),
        Value::String(super::id_token::subject(db, grant.user_id).await?),
    );
    let consented = consent::allowed_claims(db, grant.user_id, &grant.client_id).await?;
    let Some(profile) = crate::profile::load(db, grant.user_id).await? else {
        return Ok(Value::Object(claims));
    };
    for (claim, profile_claim) in receivable(&grant.scopes, &consented) {
        let value = profile.claims.get(profile_claim);
        if value.is_empty() {
            continue;
        }
        let value = match claim {
            "address" => json!({ "country": value }),
            _ => Value::String(value.to_string()),
        };
        claims.insert(claim.into(), value);
    }
    Ok(Value::Object(claims))
}
