//! What userinfo tells a client about the user: for each scope granted, the
//! standard claims, and of those only the ones the user's ACTIVE consent
//! receipt for that application covers (deselected on Consent Management:
//! gone at the next request).

use super::grants::Grant;
use crate::config::clients::Scope;
use crate::consent::{self, ConsentError};
use crate::db::Db;
use serde_json::{json, Map, Value};

/// Each OpenID Connect claim, the scope that asks for it, and the profile
/// claim (as consent purposes name it) it is read from.
const CLAIMS: [(Scope, &str, &str); 5] = [
    (Scope::Profile, "given_name", "first_name"),
    (Scope::Profile, "family_name", "last_name"),
    (Scope::Profile, "website", "url"),
    (Scope::Email, "email", "email"),
    (Scope::Phone, "phone_number", "telephone"),
];

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
    let value = |profile_claim: &str| {
        let value = profile.claims.get(profile_claim);
        (consented.contains(profile_claim) && !value.is_empty()).then(|| value.to_string())
    };
    for (scope, claim, profile_claim) in CLAIMS {
        if grant.scopes.contains(&scope) {
            if let Some(value) = value(profile_claim) {
                claims.insert(claim.into(), Value::String(value));
            }
        }
    }
    if grant.scopes.contains(&Scope::Address) {
        if let Some(country) = value("country") {
            claims.insert("address".into(), json!({ "country": country }));
        }
    }
    Ok(Value::Object(claims))
}
