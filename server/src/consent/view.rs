//! What the Consent Management pages show: one entry per service and the
//! attributes of a service per purpose.

use super::{label_of, may_revoke, ServiceInfo, StoredReceipt};
use crate::config::{Config, SYSTEM_SERVICE};
use crate::time::moment;
use app::consent::{AttributeChoice, ConsentEntry, ConsentState, PurposeChoice};
use app::profile::FIELDS;
use std::collections::BTreeSet;

pub fn entry(
    info: &ServiceInfo,
    service: &str,
    receipt: Option<&StoredReceipt>,
    self_registered: bool,
) -> ConsentEntry {
    let state = match receipt {
        None => ConsentState::NotGiven,
        Some(r) if r.is_active() => ConsentState::Active,
        Some(_) => ConsentState::Revoked,
    };
    let shares = match receipt {
        Some(r) if r.is_active() => {
            let claims = r.claims();
            FIELDS
                .iter()
                .filter(|f| claims.contains(f.name))
                .map(|f| f.label.to_string())
                .collect()
        }
        _ => Vec::new(),
    };
    ConsentEntry {
        service_id: service.to_string(),
        service_name: info.name.clone(),
        description: info.description.clone(),
        receipt_id: receipt.map(|r| r.id.clone()),
        given_at: receipt.map(|r| moment(r.created_at)),
        state,
        expires_on: receipt.and_then(|r| r.expires_on.clone()),
        shares,
        can_revoke: state == ConsentState::Active && may_revoke(service, self_registered),
    }
}

/// System: every configured attribute (new ones unselected) plus any the
/// receipt still covers. Applications: only what the receipt covers.
pub fn choices(
    config: &Config,
    service: &str,
    covered: &BTreeSet<(u32, String)>,
) -> Vec<PurposeChoice> {
    let mut purposes: Vec<PurposeChoice> = Vec::new();
    let configured: Vec<_> = config.consent.purposes_of(service).collect();
    let mut ids: BTreeSet<u32> = covered.iter().map(|(p, _)| *p).collect();
    if service == SYSTEM_SERVICE {
        ids.extend(configured.iter().map(|p| p.id));
    }
    for id in ids {
        // A purpose the operator no longer configures is left out: the
        // service has no use for it, and the next receipt drops it.
        let Some(purpose) = configured.iter().find(|p| p.id == id) else {
            continue;
        };
        let mut attributes: Vec<AttributeChoice> = Vec::new();
        let mut add = |claim: &str, mandatory: bool| {
            let selected = covered.contains(&(id, claim.to_string()));
            if attributes.iter().any(|a| a.claim == claim) {
                return;
            }
            if service != SYSTEM_SERVICE && !selected {
                return;
            }
            attributes.push(AttributeChoice {
                claim: claim.to_string(),
                label: label_of(claim),
                mandatory,
                selected,
                locked: mandatory && selected,
            });
        };
        for pii in &purpose.pii {
            add(&pii.claim, pii.mandatory);
        }
        for (_, claim) in covered.iter().filter(|(p, _)| *p == id) {
            add(claim, false);
        }
        purposes.push(PurposeChoice {
            id,
            name: purpose.name.clone(),
            description: purpose.description.clone(),
            attributes,
        });
    }
    purposes
}
