//! Deliberate departures from the contract, switched on at run time
//! (`serve --deviate NAME`), so the suite can prove it catches each one.
//!
//! Adding a deviation takes two edits:
//! 1. one line in the `deviations!` table below (variant, kebab-case name,
//!    one-line description);
//! 2. one check at the hook point where it acts. The hook points are few and
//!    named, so the conformant path stays readable:
//!    - `Deviations::rewrite_reply`: rewrites the structured answer after
//!      the operation ran and before it is serialised (envelope texts,
//!      list truncation, ids changing, numbers instead of strings, ...);
//!    - `Deviations::is_on` checked inside the store or the validation step,
//!      for deviations that change what is stored or accepted (PATCH blanking
//!      omitted fields, PUT acting like PATCH, non-atomic uniqueness, auth
//!      skipped for one method, ...);
//!    - `reply::render`, for wire-level changes (content type, statuses).

use std::collections::BTreeSet;

use crate::spec::contract::{DocumentedError, STATUS_CONTEXT_ERROR};

use super::reply::Reply;

/// Declares [`Deviation`] with `ALL`, `name()` and `description()` from one table.
macro_rules! deviations {
    ($($variant:ident => $name:literal, $description:literal;)+) => {
        /// A deliberate departure from the contract.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
        pub enum Deviation {
            $(
                #[doc = $description]
                $variant,
            )+
        }

        /// How many deviations exist.
        const DEVIATION_COUNT: usize = [$($name),+].len();

        impl Deviation {
            /// Every deviation, in declaration order.
            pub const ALL: [Deviation; DEVIATION_COUNT] = [$(Deviation::$variant),+];

            /// Kebab-case name, equal to the clap value name used by `--deviate`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Deviation::$variant => $name,)+
                }
            }

            /// One-line description of what the server does differently.
            pub fn description(self) -> &'static str {
                match self {
                    $(Deviation::$variant => $description,)+
                }
            }
        }
    };
}

deviations! {
    TokenErrorStatusMixedCase => "token-error-status-mixed-case",
        "the invalid-token envelope says \"Error\" instead of \"ERROR\"";
}

impl std::fmt::Display for Deviation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of deviations switched on for one server (empty: conformant).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deviations(BTreeSet<Deviation>);

impl Deviations {
    /// No deviation: the conformant server.
    pub fn none() -> Self {
        Deviations::default()
    }

    /// Whether `deviation` is switched on.
    pub fn is_on(&self, deviation: Deviation) -> bool {
        self.0.contains(&deviation)
    }

    /// The switched-on deviations, in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = Deviation> + '_ {
        self.0.iter().copied()
    }

    /// Hook point: rewrites the structured answer before it is serialised.
    pub(crate) fn rewrite_reply(&self, mut reply: Reply) -> Reply {
        if self.is_on(Deviation::TokenErrorStatusMixedCase) {
            if let Reply::Documented {
                error: DocumentedError::InvalidToken,
                envelope,
            } = &mut reply
            {
                envelope.status = STATUS_CONTEXT_ERROR.to_string();
            }
        }
        reply
    }
}

impl FromIterator<Deviation> for Deviations {
    fn from_iter<I: IntoIterator<Item = Deviation>>(iter: I) -> Self {
        Deviations(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn names_equal_clap_value_names() {
        for deviation in Deviation::ALL {
            let value = deviation.to_possible_value().expect("no skipped variants");
            assert_eq!(value.get_name(), deviation.name());
        }
    }

    #[test]
    fn all_lists_every_variant_once() {
        assert_eq!(Deviation::value_variants(), &Deviation::ALL[..]);
    }
}
