//! The states that records move through, as enums that the server stores and
//! the UI matches on. Each variant's name is the string stored in the
//! database and sent in JSON, so both sides agree by construction.

/// A stored or sent state string that names no variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown state \"{0}\"")]
pub struct UnknownState(pub String);

/// Declares a state enum whose variants are named by the given strings in
/// serde, `as_str`, `FromStr` and `TryFrom<String>` alike.
macro_rules! states {
    ($(#[$meta:meta])* pub enum $ty:ident { $($(#[$vmeta:meta])* $variant:ident = $name:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $ty {
            $($(#[$vmeta])* #[serde(rename = $name)] $variant,)*
        }

        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name,)*
                }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::states::UnknownState;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok($ty::$variant),)*
                    other => Err($crate::states::UnknownState(other.to_string())),
                }
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $crate::states::UnknownState;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use states;

states! {
    /// Whether an account may sign in.
    pub enum AccountStatus {
        Active = "active",
        /// Its self-registration awaits approval.
        Pending = "pending",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_agree_in_every_form() {
        for status in AccountStatus::ALL {
            let json = serde_json::to_string(status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(
                serde_json::from_str::<AccountStatus>(&json).unwrap(),
                *status
            );
            assert_eq!(status.as_str().parse::<AccountStatus>(), Ok(*status));
        }
        assert!("Active".parse::<AccountStatus>().is_err());
    }
}
