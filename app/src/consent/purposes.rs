//! One purpose's consent checkboxes, as self-registration and Consent
//! Management show them.

use super::{AttributeChoice, PurposeChoice};
use crate::error::{message_for, FieldError};
use leptos::prelude::*;

/// Where the checkboxes are shown, which decides how they behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChoiceMode {
    /// "Create an account": never pre-ticked (consent is an affirmative act),
    /// the mandatory ones required; sent as `consents[<key>]`.
    Registration,
    /// Consent Management: ticked as the receipt covers, required ones that
    /// are consented to locked; sent as `selected[<key>]`.
    Review {
        /// The user may change the selection.
        editable: bool,
        /// The consent is ACTIVE: unticked attributes are marked as such.
        active: bool,
    },
}

/// A purpose's name, description and one checkbox per attribute. With
/// `errors`, each attribute's error (field `consent-<key>`) shows under it.
#[component]
pub fn PurposeFieldset(
    purpose: PurposeChoice,
    mode: ChoiceMode,
    #[prop(optional, into)] errors: Option<Signal<Vec<FieldError>>>,
) -> impl IntoView {
    let (id_prefix, name_prefix) = match mode {
        ChoiceMode::Registration => ("reg-consent", "consents"),
        ChoiceMode::Review { .. } => ("consent", "selected"),
    };
    let boxes = purpose
        .attributes
        .iter()
        .map(|a| {
            let key = AttributeChoice::key(purpose.id, &a.claim);
            let id = format!("{id_prefix}-{}-{}", purpose.id, a.claim);
            let (checked, disabled, required, unconsented) = match mode {
                ChoiceMode::Registration => (false, false, a.mandatory, false),
                ChoiceMode::Review { editable, active } => {
                    (a.selected, a.locked || !editable, false, !a.selected && active)
                }
            };
            let error_field = format!("consent-{key}");
            let error = errors.map(|errors| {
                view! {
                    <p class="field-error" role="alert">
                        {move || errors.with(|e| message_for(e, &error_field))}
                    </p>
                }
            });
            view! {
                <div class="check">
                    <input type="checkbox" id=id.clone() name=format!("{name_prefix}[{key}]")
                        checked=checked disabled=disabled required=required />
                    <label for=id>{a.label.clone()}
                        {a.mandatory.then(|| view! { " " <span class="tag">"required"</span> })}
                        {unconsented.then(|| view! { " " <span class="tag new">"not consented"</span> })}
                    </label>
                </div>
                {error}
            }
        })
        .collect_view();
    view! {
        <fieldset class="purpose">
            <legend>{purpose.name.clone()}</legend>
            <p class="hint">{purpose.description.clone()}</p>
            {boxes}
        </fieldset>
    }
}
