//! The mutation operators: generic edits of the traffic, enumerated from the
//! shape of the API in the contract (`CUSTOMER_FIELDS`, `Operation::ALL`,
//! `DocumentedError::ALL`), not from the reference server's deviation list.
//!
//! A [`Mutant`] is one operator applied on its own, scoped to one operation
//! (or to every operation). Most mutants make the server depart from the
//! page and must be killed; the few that are *equivalent* under the page
//! (the page leaves the behaviour open) carry the reason in
//! [`Operator::equivalence`] and must survive: a killed equivalent is a false
//! positive of the suite.

use std::fmt;

use crate::spec::contract::{DocumentedError, Operation, CUSTOMER_FIELDS};

/// An edit of one member of every customer object (a JSON object with a `UserID`) in an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberEdit {
    /// The member is left out.
    Drop,
    /// The member's name gets its first letter's case flipped (`Name` → `name`, `id` → `Id`).
    Rename,
    /// The value changes JSON type: a number becomes a string, a numeric string a number, any other string an array holding it.
    Retype,
    /// The value changes: a string gets a character appended, a number is incremented.
    ChangeValue,
}

impl MemberEdit {
    /// Every member edit.
    pub const ALL: [MemberEdit; 4] = [
        MemberEdit::Drop,
        MemberEdit::Rename,
        MemberEdit::Retype,
        MemberEdit::ChangeValue,
    ];

    fn label(self) -> &'static str {
        match self {
            MemberEdit::Drop => "drop",
            MemberEdit::Rename => "rename",
            MemberEdit::Retype => "retype",
            MemberEdit::ChangeValue => "change value of",
        }
    }
}

/// An edit of a list answer (a JSON array).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListEdit {
    /// The first element is left out.
    DropFirst,
    /// The last element is left out.
    DropLast,
    /// The last element appears twice.
    DuplicateLast,
    /// The elements come in reverse order.
    Reverse,
}

impl ListEdit {
    /// Every list edit.
    pub const ALL: [ListEdit; 4] = [
        ListEdit::DropFirst,
        ListEdit::DropLast,
        ListEdit::DuplicateLast,
        ListEdit::Reverse,
    ];

    fn label(self) -> &'static str {
        match self {
            ListEdit::DropFirst => "drop the first element",
            ListEdit::DropLast => "drop the last element",
            ListEdit::DuplicateLast => "duplicate the last element",
            ListEdit::Reverse => "reverse the order",
        }
    }
}

/// An edit of a documented error envelope ("Error Handling").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnvelopeEdit {
    /// `status` in the other casing (`ERROR` ↔ `Error`).
    StatusCasing,
    /// `message` with a character appended.
    Message,
    /// The HTTP status is 400 instead of the documented 200.
    HttpStatus,
    /// One member more than `status` and `message`.
    ExtraMember,
}

impl EnvelopeEdit {
    /// Every envelope edit.
    pub const ALL: [EnvelopeEdit; 4] = [
        EnvelopeEdit::StatusCasing,
        EnvelopeEdit::Message,
        EnvelopeEdit::HttpStatus,
        EnvelopeEdit::ExtraMember,
    ];

    fn label(self) -> &'static str {
        match self {
            EnvelopeEdit::StatusCasing => "flip the status casing of",
            EnvelopeEdit::Message => "change the message of",
            EnvelopeEdit::HttpStatus => "answer HTTP 400 with",
            EnvelopeEdit::ExtraMember => "add a member to",
        }
    }
}

/// Which bad credential a request operator replaces by the configured, valid one ("Authentication").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialFix {
    /// An `api_token` that is no configured user's token (wrong, near miss, null, wrong type).
    Token,
    /// A `username` that is no configured user's name.
    Username,
    /// A `contextname` that is none of the configured contexts (the run's invalid context, near misses).
    UnknownContext,
    /// The forbidden context (`--forbidden-context`).
    ForbiddenContext,
    /// An auth parameter left out of the body.
    Missing,
    /// One user's token sent with the other user's name: the token becomes the name's own.
    MismatchedPair,
}

impl CredentialFix {
    /// Every credential fix.
    pub const ALL: [CredentialFix; 6] = [
        CredentialFix::Token,
        CredentialFix::Username,
        CredentialFix::UnknownContext,
        CredentialFix::ForbiddenContext,
        CredentialFix::Missing,
        CredentialFix::MismatchedPair,
    ];

    fn label(self) -> &'static str {
        match self {
            CredentialFix::Token => "an invalid api_token becomes the valid one",
            CredentialFix::Username => "an unknown username becomes the configured one",
            CredentialFix::UnknownContext => "an unknown contextname becomes the configured one",
            CredentialFix::ForbiddenContext => {
                "the forbidden contextname becomes the configured one"
            }
            CredentialFix::Missing => "a missing auth parameter is filled in",
            CredentialFix::MismatchedPair => {
                "a token sent with another user's name becomes that user's token"
            }
        }
    }
}

/// Configuration a mutant needs before the suite can send traffic it applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// A second context the user may access.
    SecondContext,
    /// An existing context the user may not access.
    ForbiddenContext,
    /// A second user with its own token.
    OtherUser,
}

impl Needs {
    /// The option that provides it.
    pub fn option(self) -> &'static str {
        match self {
            Needs::SecondContext => "--second-context",
            Needs::ForbiddenContext => "--forbidden-context",
            Needs::OtherUser => "--other-username, --other-api-token and --other-context",
        }
    }
}

/// One generic edit of the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// Edits one member of every customer object in an answer.
    Member {
        /// The member, one of `CUSTOMER_FIELDS`.
        field: &'static str,
        /// The edit.
        edit: MemberEdit,
    },
    /// Edits a list answer.
    List(ListEdit),
    /// Edits one documented error envelope, recognised by its documented text.
    Envelope {
        /// Which envelope.
        error: DocumentedError,
        /// The edit.
        edit: EnvelopeEdit,
    },
    /// Replaces a bad credential in the request by the valid one.
    ValidCredential(CredentialFix),
    /// A request in the second context goes to the configured context instead.
    SecondContextAsConfigured,
    /// The UserID in the path becomes its neighbour (its last character changed).
    NeighbourUserId,
    /// A path UserID that nearly names a UserID the run created (a prefix, an extension, another case, percent-encoded) becomes that one.
    NearMissUserIdAsExisting,
    /// Equivalence probe: every customer object gains a member the page does not list.
    ExtraCustomerMember,
    /// Equivalence probe: customer members holding `""` are left out.
    EmptyStringsAbsent,
    /// Equivalence probe: customer members holding `""` hold `null` instead.
    EmptyStringsNull,
    /// Equivalence probe: every id, in every answer, is offset by the same amount.
    IdOffset,
    /// Equivalence probe: each list answer is rotated by its call number, so the order changes between calls.
    ListOrderPerCall,
    /// Equivalence probe: every refusal that is not a documented envelope gets HTTP 422 and a body of its own.
    UndocumentedRefusalReshaped,
    /// Equivalence probe: every answer closes the connection (`Connection: close`).
    ConnectionClose,
    /// Equivalence probe: `Content-Type: application/json; charset=utf-8`.
    CharsetParameter,
}

/// The offset [`Operator::IdOffset`] adds to every id.
pub const ID_OFFSET: i64 = 1_000_000;

/// The HTTP status [`Operator::UndocumentedRefusalReshaped`] answers with.
pub const RESHAPED_REFUSAL_STATUS: u16 = 422;

impl Operator {
    /// The row of the operator table this operator counts in.
    pub fn kind(&self) -> String {
        match self {
            Operator::Member { edit, .. } => format!("customer member: {}", edit.label()),
            Operator::List(edit) => format!("list: {}", edit.label()),
            Operator::Envelope { edit, .. } => format!("error envelope: {}", edit.label()),
            Operator::ValidCredential(fix) => format!("request: {}", fix.label()),
            Operator::SecondContextAsConfigured => {
                "request: the second context becomes the configured one".to_string()
            }
            Operator::NeighbourUserId => {
                "request: the path's UserID becomes a neighbouring one".to_string()
            }
            Operator::NearMissUserIdAsExisting => {
                "request: a near-miss UserID becomes the existing one (path and body)".to_string()
            }
            Operator::ExtraCustomerMember => "probe: extra member on customer objects".to_string(),
            Operator::EmptyStringsAbsent => "probe: empty-string members left out".to_string(),
            Operator::EmptyStringsNull => "probe: empty-string members as null".to_string(),
            Operator::IdOffset => format!("probe: every id offset by {ID_OFFSET}"),
            Operator::ListOrderPerCall => "probe: list order changes from call to call".to_string(),
            Operator::UndocumentedRefusalReshaped => {
                format!("probe: undocumented refusals as HTTP {RESHAPED_REFUSAL_STATUS}, own body")
            }
            Operator::ConnectionClose => "probe: Connection: close on every answer".to_string(),
            Operator::CharsetParameter => "probe: Content-Type with charset=utf-8".to_string(),
        }
    }

    /// Whether the operator edits the request (else the answer).
    pub fn edits_request(&self) -> bool {
        matches!(
            self,
            Operator::ValidCredential(_)
                | Operator::SecondContextAsConfigured
                | Operator::NeighbourUserId
                | Operator::NearMissUserIdAsExisting
        )
    }

    /// Why the mutant is conformant under the page, when it is: such a mutant must survive.
    ///
    /// Each reason is a silent case of the oracle (the brief's "Where the page
    /// is silent"); a behaviour the page states is never declared equivalent.
    pub fn equivalence(&self) -> Option<&'static str> {
        match self {
            Operator::List(ListEdit::Reverse) => Some(
                "the page gives no list order (Retrieving Customer List: \"a complete list\"), so any order, even between two calls, is conformant",
            ),
            Operator::ExtraCustomerMember => Some(
                "the page shows the customer object's members but does not forbid others; extra members on customer objects are conformant",
            ),
            Operator::EmptyStringsAbsent => Some(
                "an optional field never given, or a value given as \"\", may read back as \"\", null or absent (the page is silent on empty values)",
            ),
            Operator::EmptyStringsNull => Some(
                "an optional field never given, or a value given as \"\", may read back as \"\", null or absent (the page is silent on empty values)",
            ),
            Operator::ListOrderPerCall => Some(
                "the page gives no list order, so the order may differ between two calls",
            ),
            Operator::IdOffset => Some(
                "the page only shows ids as integers (\"id\": 3, 5, 6); which integers a server allocates is its choice, and requests never carry an id",
            ),
            Operator::UndocumentedRefusalReshaped => Some(
                "where the page is silent (unknown UserID, duplicates, missing fields, malformed JSON...) a clean refusal of any shape and any HTTP status is conformant",
            ),
            Operator::ConnectionClose => Some(
                "the page says nothing about connections; a server may close the connection after each answer",
            ),
            Operator::CharsetParameter => Some(
                "the page shows JSON bodies but no Content-Type; application/json with a charset parameter is still JSON",
            ),
            _ => None,
        }
    }

    /// Configuration without which the suite never sends traffic this operator applies to.
    pub fn needs(&self) -> Option<Needs> {
        match self {
            Operator::Envelope {
                error: DocumentedError::ForbiddenContext,
                ..
            }
            | Operator::ValidCredential(CredentialFix::ForbiddenContext) => {
                Some(Needs::ForbiddenContext)
            }
            Operator::SecondContextAsConfigured => Some(Needs::SecondContext),
            Operator::ValidCredential(CredentialFix::MismatchedPair) => Some(Needs::OtherUser),
            _ => None,
        }
    }

    /// What the operator does, with its detail (the member, the envelope).
    fn detail(&self) -> String {
        match self {
            Operator::Member { field, edit } => format!("{} {field}", edit.label()),
            Operator::Envelope { error, edit } => {
                format!("{} the {} envelope", edit.label(), envelope_name(*error))
            }
            other => other
                .kind()
                .split_once(": ")
                .map(|(_, rest)| rest.to_string())
                .unwrap_or_else(|| other.kind()),
        }
    }
}

/// The short name of a documented error, as scenarios spell it (`$error`).
pub fn envelope_name(error: DocumentedError) -> &'static str {
    match error {
        DocumentedError::InvalidToken => "invalid_token",
        DocumentedError::InvalidContext => "invalid_context",
        DocumentedError::ForbiddenContext => "forbidden_context",
    }
}

/// One operator with its scope: what the proxy applies during one run of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mutant {
    /// The edit.
    pub operator: Operator,
    /// The operation whose traffic it edits; None: every request and answer.
    pub scope: Option<Operation>,
}

impl Mutant {
    /// Whether the mutant edits traffic of `operation` (None: a request that is no documented operation).
    pub fn applies_to(&self, operation: Option<Operation>) -> bool {
        match self.scope {
            None => true,
            Some(scope) => operation == Some(scope),
        }
    }
}

impl fmt::Display for Mutant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.operator.detail())?;
        match self.scope {
            Some(operation) => write!(f, " @ {}", operation_label(operation)),
            None => write!(f, " @ every operation"),
        }
    }
}

/// `GET list`, `PATCH`...: an operation as a person recognises it.
pub fn operation_label(operation: Operation) -> &'static str {
    match operation {
        Operation::List => "GET (list)",
        Operation::Create => "POST (create)",
        Operation::FullUpdate => "PUT",
        Operation::PartialUpdate => "PATCH",
        Operation::Delete => "DELETE",
    }
}

/// Every mutant, in table order: the non-equivalent operators scoped per
/// operation, then the equivalence probes over every operation.
pub fn all_mutants() -> Vec<Mutant> {
    let mut mutants = Vec::new();
    // Customer objects come back from every operation ("Response" tables).
    for edit in MemberEdit::ALL {
        for field in CUSTOMER_FIELDS {
            for operation in Operation::ALL {
                mutants.push(Mutant {
                    operator: Operator::Member { field, edit },
                    scope: Some(operation),
                });
            }
        }
    }
    for edit in ListEdit::ALL {
        mutants.push(Mutant {
            operator: Operator::List(edit),
            scope: Some(Operation::List),
        });
    }
    // Every operation can meet every documented error ("Authentication": every request).
    for edit in EnvelopeEdit::ALL {
        for error in DocumentedError::ALL {
            for operation in Operation::ALL {
                mutants.push(Mutant {
                    operator: Operator::Envelope { error, edit },
                    scope: Some(operation),
                });
            }
        }
    }
    for fix in CredentialFix::ALL {
        for operation in Operation::ALL {
            mutants.push(Mutant {
                operator: Operator::ValidCredential(fix),
                scope: Some(operation),
            });
        }
    }
    for operation in Operation::ALL {
        mutants.push(Mutant {
            operator: Operator::SecondContextAsConfigured,
            scope: Some(operation),
        });
    }
    for operator in [
        Operator::NeighbourUserId,
        Operator::NearMissUserIdAsExisting,
    ] {
        for operation in Operation::ALL
            .into_iter()
            .filter(|operation| operation.addresses_one_customer())
        {
            mutants.push(Mutant {
                operator,
                scope: Some(operation),
            });
        }
    }
    for operator in [
        Operator::ExtraCustomerMember,
        Operator::EmptyStringsAbsent,
        Operator::EmptyStringsNull,
        Operator::IdOffset,
        Operator::ListOrderPerCall,
        Operator::UndocumentedRefusalReshaped,
        Operator::ConnectionClose,
        Operator::CharsetParameter,
    ] {
        mutants.push(Mutant {
            operator,
            scope: None,
        });
    }
    mutants
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mutant_is_distinct_and_named_uniquely() {
        let mutants = all_mutants();
        let names: std::collections::BTreeSet<String> =
            mutants.iter().map(ToString::to_string).collect();
        assert_eq!(names.len(), mutants.len());
        assert_eq!(
            mutants
                .iter()
                .filter(|m| matches!(m.operator, Operator::Member { .. }))
                .count(),
            CUSTOMER_FIELDS.len() * MemberEdit::ALL.len() * Operation::ALL.len()
        );
    }

    #[test]
    fn only_silent_cases_are_equivalent() {
        for mutant in all_mutants() {
            let equivalent = mutant.operator.equivalence().is_some();
            let probe = mutant.operator.kind().starts_with("probe:");
            let reorder = mutant.operator == Operator::List(ListEdit::Reverse);
            assert_eq!(equivalent, probe || reorder, "{mutant}");
        }
    }
}
