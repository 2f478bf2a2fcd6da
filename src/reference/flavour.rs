//! Conformant variants of the reference server that differ only where the
//! vendor page is silent.
//!
//! Only [`Flavour::Reference`] exists today. A later "alt" flavour (ids from
//! 1000 with gaps, reversed list order, 4xx statuses for unspecified errors,
//! extra headers, auth from the query string) plugs in at the same places the
//! reference's own choices are made: id assignment in the store, list order,
//! `reply::render` and authentication.

/// Which conformant variant the server plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavour {
    /// The reference's own choices, listed in the module docs of `reference`.
    #[default]
    Reference,
}
