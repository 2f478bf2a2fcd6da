//! Strategies: requests over a small pool of UserIDs, with field values
//! mostly ordinary (like the page's examples, which every conformant server
//! accepts) and otherwise drawn to cover what a server may refuse but must
//! store exactly if it accepts it (Unicode, empty and whitespace-only
//! strings, long strings up to 4 KiB, quotes, backslashes, punctuation and
//! control characters, SQL- and HTML-looking text, odd emails and phone
//! numbers), and with every auth variant, tampered ones included.
//!
//! UserIDs are labels (`u0`, `u1`, ...) that the engine turns into this
//! case's own UserIDs, so shrinking never has to know the run prefix. Some
//! requests name a look-alike of a pool UserID instead (`u`, `u0x`, `U0`,
//! `u%30`: a prefix, an extension, another case, a literal `%XX` that decodes
//! to it), a UserID that is not the record's and must leave it untouched. No
//! generated value contains `${` (it would read as a scenario variable in
//! a written reproduction) or starts with the harness prefix.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

use crate::spec::model::{Action, Auth, Field, Request, UserIdVariant, Values};
use crate::spec::tamper::{AuthField, Tamper};

/// Which auth variants the target lets the harness use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthChoices {
    /// A second context is configured.
    pub second_context: bool,
    /// A forbidden context is configured.
    pub forbidden_context: bool,
    /// A second user is configured (`--other-username` ...): its name can be borrowed.
    pub other_user: bool,
    /// The tampers that spoil the configured values ([`Tamper::apply`] is not None for them).
    pub tampers: Vec<(AuthField, Tamper)>,
}

impl AuthChoices {
    /// The choices for a target with these configured values (never kept: only which tampers apply).
    pub fn for_values(
        api_token: &str,
        username: &str,
        contextname: &str,
        second_context: bool,
        forbidden_context: bool,
        other_user: bool,
    ) -> AuthChoices {
        let tampers = AuthField::ALL
            .into_iter()
            .zip([api_token, username, contextname])
            .flat_map(|(field, configured)| {
                Tamper::ALL
                    .into_iter()
                    .filter(move |tamper| tamper.apply(configured).is_some())
                    .map(move |tamper| (field, tamper))
            })
            .collect();
        AuthChoices {
            second_context,
            forbidden_context,
            other_user,
            tampers,
        }
    }
}

/// The label of pool UserID `index`.
pub fn user_label(index: usize) -> String {
    format!("u{index}")
}

/// The UserID label of a create without UserID, used for its marker Name.
pub const NO_USER_ID_LABEL: &str = "no_userid";

const UNICODE: &[&str] = &[
    "Zoë Ångström",
    "Łódź",
    "東京都",
    "서울특별시",
    "مرحبا بالعالم",
    "שלום",
    "😀",
    "👩‍👩‍👧‍👦",
    "🇮🇳",
    "e\u{301}\u{302}",
    "a\u{308}\u{332}",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "ǅ ﬁ ß",
    "\u{10FFFD}",
];

const JSON_SPECIAL: &[&str] = &[
    "\"quoted\"",
    "back\\slash",
    "line\nbreak",
    "tab\there",
    "carriage\r\nreturn",
    "null",
    "true",
    "\\u0041",
    "{\"a\": [1]}",
    "'single'",
    "$ money {braces}",
];

const INJECTION: &[&str] = &[
    "'; DROP TABLE ipdr_customers; --",
    "Robert'); DELETE FROM customers;--",
    "1' OR '1'='1",
    "<script>alert(1)</script>",
    "<b>bold</b> &amp; &lt;tag&gt;",
    "%s%n%x",
    "../../etc/passwd",
];

const WHITESPACE: &[&str] = &[
    "",
    " ",
    "   ",
    "\t",
    "\n",
    " padded ",
    "\u{a0}no-break\u{3000}",
    "  leading",
    "trailing  ",
];

const CONTROL: &[&str] = &[
    "nul\u{0}inside",
    "\u{1}",
    "bell\u{7}",
    "\u{1b}[31mred",
    "del\u{7f}",
    "next\u{85}line",
];

const LONG_UNITS: &[char] = &['x', 'é', '東', '😀'];

const PUNCTUATION: &[&str] = &[
    "O'Brien",
    "Smith-Jones",
    "12, Main St.",
    "a/b",
    "(c) 2024",
    "50% off",
    "Dr. Ann",
    "semi;colon",
];

const ODD_EMAILS: &[&str] = &[
    "Demo@Gmail.com",
    "first.last+tag@example.co.in",
    "no-at-sign",
    "@example.com",
    "user@localhost",
    "user@@example.com",
    "üser@exämple.com",
];

const ODD_PHONES: &[&str] = &[
    "+911234567890",
    "123-456-7890",
    "(123) 456 7890",
    "0",
    "12345678901234567890",
    "１２３４５６７８９０",
];

/// A value a conformant server must accept in `field` ([`crate::spec::contract::is_ordinary_value`]):
/// like the page's examples. Shrinking ends here.
pub fn ordinary_value(field: Field) -> BoxedStrategy<String> {
    match field {
        Field::Name | Field::Address => prop_oneof![
            8 => "[A-Z][a-z]{0,8}( [A-Z0-9][a-z0-9]{0,8}){0,2}",
            1 => "[a-z0-9]{40,64}",
        ]
        .boxed(),
        Field::Email => "[a-z]{1,8}(\\.[a-z0-9]{1,4})?@[a-z]{1,8}\\.(com|in|org)".boxed(),
        Field::PhoneNumber | Field::AltPhoneNumber => "[0-9]{10}".boxed(),
    }
}

/// Free text for Name and Address: ordinary first, so shrinking ends there; then what a
/// server may refuse but must store exactly if it accepts it.
fn free_text() -> BoxedStrategy<String> {
    prop_oneof![
        46 => ordinary_value(Field::Name),
        14 => ("[a-z]{0,4}", select(UNICODE)).prop_map(|(plain, text)| format!("{plain}{text}")),
        10 => select(JSON_SPECIAL).prop_map(str::to_string),
        6 => select(PUNCTUATION).prop_map(str::to_string),
        8 => select(INJECTION).prop_map(str::to_string),
        8 => select(WHITESPACE).prop_map(str::to_string),
        3 => "[a-z]{65,80}",
        3 => "[a-z ]{200,255}",
        6 => (256usize..=4096, select(LONG_UNITS))
            .prop_map(|(bytes, unit)| unit.to_string().repeat(bytes / unit.len_utf8())),
        4 => select(CONTROL).prop_map(str::to_string),
    ]
    .boxed()
}

/// A value for `field`: mostly ordinary, sometimes anything.
pub fn value(field: Field) -> BoxedStrategy<String> {
    match field {
        Field::Name | Field::Address => free_text(),
        Field::Email => prop_oneof![
            6 => ordinary_value(Field::Email),
            1 => select(ODD_EMAILS).prop_map(str::to_string),
            1 => free_text(),
        ]
        .boxed(),
        Field::PhoneNumber | Field::AltPhoneNumber => prop_oneof![
            6 => ordinary_value(field),
            1 => "[0-9]{6,12}",
            1 => select(ODD_PHONES).prop_map(str::to_string),
            1 => free_text(),
        ]
        .boxed(),
    }
}

/// Every field, each present with probability `present`.
fn some_values(present: f64, fields: &'static [Field]) -> BoxedStrategy<Values> {
    let slots: Vec<_> = fields
        .iter()
        .map(|field| option::weighted(present, value(*field)).prop_map(move |v| (*field, v)))
        .collect();
    slots
        .prop_map(|slots| {
            slots
                .into_iter()
                .filter_map(|(field, value)| value.map(|value| (field, value)))
                .collect()
        })
        .boxed()
}

/// All five fields.
fn all_values() -> BoxedStrategy<Values> {
    Field::ALL
        .map(|field| value(field).prop_map(move |v| (field, v)))
        .to_vec()
        .prop_map(|pairs| pairs.into_iter().collect())
        .boxed()
}

const OPTIONAL_FIELDS: &[Field] = &[
    Field::Address,
    Field::Email,
    Field::PhoneNumber,
    Field::AltPhoneNumber,
];

/// Weight of all tampered auth variants together, out of about 140 (every variant
/// configured): each of the ~30 variants comes up about 15 times in a default run, on
/// every operation.
const TAMPERED_WEIGHT: u32 = 30;

/// Weight of the borrowed username (both contexts together), out of about 140: about
/// one request in 23, some 90 in a default run.
const BORROWED_USERNAME_WEIGHT: u32 = 6;

fn auth(choices: &AuthChoices) -> BoxedStrategy<Auth> {
    let mut weighted: Vec<(u32, BoxedStrategy<Auth>)> = vec![
        (66, Just(Auth::Configured).boxed()),
        (8, Just(Auth::InvalidToken).boxed()),
        (8, Just(Auth::InvalidContext).boxed()),
        (2, Just(Auth::InvalidTokenAndContext).boxed()),
    ];
    if choices.second_context {
        weighted.push((12, Just(Auth::SecondContext).boxed()));
    }
    if choices.forbidden_context {
        weighted.push((8, Just(Auth::ForbiddenContext).boxed()));
    }
    if choices.other_user {
        // The configured token with the other user's name, in either user's context.
        weighted.push((
            BORROWED_USERNAME_WEIGHT,
            prop_oneof![
                Just(Auth::OtherUsername),
                Just(Auth::OtherUsernameInOtherContext)
            ]
            .boxed(),
        ));
    }
    if !choices.tampers.is_empty() {
        let tampers = choices.tampers.clone();
        weighted.push((
            TAMPERED_WEIGHT,
            select(tampers)
                .prop_map(|(field, tamper)| Auth::Tampered(field, tamper))
                .boxed(),
        ));
    }
    proptest::strategy::Union::new_weighted(weighted).boxed()
}

fn user(pool: usize) -> BoxedStrategy<String> {
    (0..pool).prop_map(user_label).boxed()
}

/// Out of this many UserIDs a request names, how many are look-alikes of a pool UserID:
/// for PUT, PATCH and DELETE...
const LOOK_ALIKES_IN_UPDATES: u32 = 2;
/// ...and for a create (a look-alike created is a record of its own, which later requests
/// on the pool's UserIDs then resemble).
const LOOK_ALIKES_IN_CREATES: u32 = 1;
/// The denominator of the two above.
const USER_ID_CHOICES: u32 = 10;

/// The label of a look-alike of pool label `label` (at least 2 characters, the first one
/// kept, so the case's own prefix stays and a scenario can write it as `${uid:...}`):
/// `position` picks which characters a prefix keeps or which one is percent-encoded,
/// `extension` what an extension appends.
pub fn look_alike_label(
    label: &str,
    how: UserIdVariant,
    extension: &str,
    position: usize,
) -> String {
    let chars: Vec<char> = label.chars().collect();
    // 1..len: never the first character, never past the end.
    let at = 1 + position % chars.len().saturating_sub(1).max(1);
    match how {
        UserIdVariant::Prefix => chars[..at.min(chars.len())].iter().collect(),
        UserIdVariant::Extension => format!("{label}{extension}"),
        UserIdVariant::Case => chars
            .iter()
            .map(|c| {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect(),
        UserIdVariant::PercentEncoded => chars
            .iter()
            .enumerate()
            .map(|(index, c)| {
                if index == at {
                    // The pool's labels are ASCII: one byte, one escape.
                    format!("%{:02X}", u32::from(*c))
                } else {
                    c.to_string()
                }
            })
            .collect(),
    }
}

/// A pool UserID, or (`look_alikes` out of [`USER_ID_CHOICES`]) a look-alike of one
/// ([`UserIdVariant`]): a prefix, an extension, a case variant, or one holding a literal
/// `%XX` that a second decoding turns into the pool UserID. The pool UserID comes first,
/// so shrinking tries it instead.
fn user_or_look_alike(pool: usize, look_alikes: u32) -> BoxedStrategy<String> {
    let look_alike = (
        0..pool,
        select(UserIdVariant::ALL.to_vec()),
        "[a-z0-9]{1,2}",
        0usize..8,
    )
        .prop_map(|(index, how, extension, position)| {
            look_alike_label(&user_label(index), how, &extension, position)
        });
    prop_oneof![
        USER_ID_CHOICES - look_alikes => user(pool),
        look_alikes => look_alike,
    ]
    .boxed()
}

/// How often a generated request is a list, out of about 86. Against a large target
/// the engine sends only some of them ([`super::sequence`]); the sequences generated do
/// not depend on the target.
pub const LIST_WEIGHT: u32 = 10;

/// One action on the pool; simpler actions first, so shrinking prefers them.
fn action(pool: usize) -> BoxedStrategy<Action> {
    prop_oneof![
        LIST_WEIGHT => Just(Action::List),
        26 => (user_or_look_alike(pool, LOOK_ALIKES_IN_CREATES), value(Field::Name), some_values(0.5, OPTIONAL_FIELDS)).prop_map(
            |(user_id, name, mut values)| {
                values.insert(Field::Name, name);
                Action::Create { user_id: Some(user_id), values }
            }
        ),
        18 => (user_or_look_alike(pool, LOOK_ALIKES_IN_UPDATES), some_values(0.35, &Field::ALL), proptest::bool::weighted(0.2)).prop_map(
            |(user_id, values, body_user_id)| Action::PartialUpdate { user_id, values, body_user_id }
        ),
        12 => (user_or_look_alike(pool, LOOK_ALIKES_IN_UPDATES), all_values()).prop_map(|(user_id, values)| Action::FullUpdate {
            user_id,
            values,
            body_user_id: true,
        }),
        10 => user_or_look_alike(pool, LOOK_ALIKES_IN_UPDATES).prop_map(|user_id| Action::Delete { user_id }),
        3 => (user(pool), some_values(0.5, OPTIONAL_FIELDS))
            .prop_map(|(user_id, values)| Action::Create { user_id: Some(user_id), values }),
        2 => some_values(0.5, OPTIONAL_FIELDS).prop_map(|values| Action::Create { user_id: None, values }),
        5 => (user(pool), all_values(), 1u8..32, any::<bool>()).prop_map(
            |(user_id, mut values, missing, body_user_id)| {
                // At least one of the five fields is left out.
                for (bit, field) in Field::ALL.into_iter().enumerate() {
                    if missing & (1 << bit) != 0 {
                        values.remove(&field);
                    }
                }
                Action::FullUpdate { user_id, values, body_user_id }
            }
        ),
    ]
    .boxed()
}

/// One request of a sequence.
pub fn request(choices: &AuthChoices, pool: usize) -> BoxedStrategy<Request> {
    (action(pool), auth(choices))
        .prop_map(|(action, auth)| Request { action, auth })
        .boxed()
}

/// A sequence of 1 to `max_ops` requests over a pool of `pool` UserIDs.
pub fn sequence(choices: &AuthChoices, pool: usize, max_ops: usize) -> BoxedStrategy<Vec<Request>> {
    vec(request(choices, pool), 1..=max_ops.max(1)).boxed()
}

/// Ordinary values only (every conformant server accepts them), random enough that a
/// concurrent history's answers tell which request they answer.
fn plain_values(fields: &'static [Field], present: f64) -> BoxedStrategy<Values> {
    let slots: Vec<_> = fields
        .iter()
        .map(|field| {
            let value = ordinary_value(*field);
            if present >= 1.0 {
                value.prop_map(move |v| (*field, Some(v))).boxed()
            } else {
                option::weighted(present, value)
                    .prop_map(move |v| (*field, v))
                    .boxed()
            }
        })
        .collect();
    slots
        .prop_map(|slots| {
            slots
                .into_iter()
                .filter_map(|(field, value)| value.map(|value| (field, value)))
                .collect()
        })
        .boxed()
}

fn plain_create(user_id: BoxedStrategy<String>) -> BoxedStrategy<Request> {
    (
        user_id,
        ordinary_value(Field::Name),
        plain_values(OPTIONAL_FIELDS, 0.5),
    )
        .prop_map(|(user_id, name, mut values)| {
            values.insert(Field::Name, name);
            Request {
                action: Action::Create {
                    user_id: Some(user_id),
                    values,
                },
                auth: Auth::Configured,
            }
        })
        .boxed()
}

/// One request of a concurrent client: configured auth, plain values.
fn concurrent_request(pool: usize) -> BoxedStrategy<Request> {
    let configured = |action: BoxedStrategy<Action>| {
        action
            .prop_map(|action| Request {
                action,
                auth: Auth::Configured,
            })
            .boxed()
    };
    prop_oneof![
        4 => plain_create(user(pool)),
        2 => configured(
            (user(pool), plain_values(&Field::ALL, 1.0))
                .prop_map(|(user_id, values)| Action::FullUpdate { user_id, values, body_user_id: true })
                .boxed()
        ),
        2 => configured(
            (user(pool), plain_values(&Field::ALL, 0.5))
                .prop_map(|(user_id, values)| Action::PartialUpdate { user_id, values, body_user_id: false })
                .boxed()
        ),
        2 => configured(user(pool).prop_map(|user_id| Action::Delete { user_id }).boxed()),
        1 => configured(Just(Action::List).boxed()),
    ]
    .boxed()
}

/// `clients` clients of 1 to `max_ops` requests each over a pool of `pool` UserIDs; a
/// client's first request is most often a create of `u0`, so simultaneous creates of one
/// UserID happen in most histories.
pub fn history(clients: usize, pool: usize, max_ops: usize) -> BoxedStrategy<Vec<Vec<Request>>> {
    let client = (
        prop_oneof![
            3 => plain_create(Just(user_label(0)).boxed()),
            2 => concurrent_request(pool),
        ],
        vec(concurrent_request(pool), 0..max_ops.max(1)),
    )
        .prop_map(|(first, rest)| std::iter::once(first).chain(rest).collect::<Vec<_>>());
    vec(client, clients..=clients).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    #[test]
    fn values_never_read_as_scenario_variables() {
        let mut runner = TestRunner::deterministic();
        for field in Field::ALL {
            let strategy = value(field);
            for _ in 0..500 {
                let text = strategy.new_tree(&mut runner).unwrap().current();
                assert!(!text.contains("${"), "{text:?}");
                assert!(!text.starts_with("zzconf"), "{text:?}");
                assert!(text.len() <= 4096, "{}", text.len());
            }
        }
    }

    #[test]
    fn ordinary_values_are_exactly_what_the_contract_calls_ordinary() {
        let mut runner = TestRunner::deterministic();
        for field in Field::ALL {
            let strategy = ordinary_value(field);
            for _ in 0..500 {
                let text = strategy.new_tree(&mut runner).unwrap().current();
                assert!(field.is_ordinary(&text), "{field:?} {text:?}");
            }
        }
        // And the other values are mostly not ordinary: the exotic ones are really tried.
        let exotic = value(Field::Name);
        let unusual = (0..1000)
            .filter(|_| {
                let text = exotic.new_tree(&mut runner).unwrap().current();
                !Field::Name.is_ordinary(&text)
            })
            .count();
        assert!(
            unusual > 300,
            "only {unusual} of 1000 Names are not ordinary"
        );
    }

    #[test]
    fn tampers_that_cannot_spoil_a_configured_value_are_not_generated() {
        let choices =
            AuthChoices::for_values("Qm7RzT2vXk9LpW4sNa8c", "user", "12345", true, true, true);
        assert!(choices
            .tampers
            .contains(&(AuthField::ApiToken, Tamper::Prefix)));
        assert!(choices
            .tampers
            .contains(&(AuthField::Username, Tamper::CaseChanged)));
        // "12345" has no letters to swap the case of.
        assert!(!choices
            .tampers
            .contains(&(AuthField::Contextname, Tamper::CaseChanged)));
        assert_eq!(choices.tampers.len(), 3 * Tamper::ALL.len() - 1);
        let mut runner = TestRunner::deterministic();
        let strategy = auth(&choices);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..5000 {
            if let Auth::Tampered(field, tamper) = strategy.new_tree(&mut runner).unwrap().current()
            {
                assert!(choices.tampers.contains(&(field, tamper)));
                seen.insert((field, tamper));
            }
        }
        assert_eq!(
            seen.len(),
            choices.tampers.len(),
            "every applicable tamper comes up"
        );
    }

    #[test]
    fn look_alike_labels_keep_the_first_character_and_resemble_the_pool_label() {
        for label in ["u0", "u1", "u12"] {
            for how in UserIdVariant::ALL {
                for position in 0..8 {
                    let alike = look_alike_label(label, how, "x9", position);
                    assert!(alike.starts_with(['u', 'U']), "{alike}");
                    assert_ne!(alike, label);
                    // Under any prefix, the model reads the relation the generator meant.
                    let (named, pool) = (
                        format!("zzconf-t-p1-{alike}"),
                        format!("zzconf-t-p1-{label}"),
                    );
                    assert_eq!(
                        UserIdVariant::of(&named, &pool),
                        Some(how),
                        "{named} {pool}"
                    );
                }
            }
        }
        assert_eq!(look_alike_label("u0", UserIdVariant::Prefix, "", 3), "u");
        assert_eq!(look_alike_label("u0", UserIdVariant::Case, "", 0), "U0");
        assert_eq!(
            look_alike_label("u0", UserIdVariant::PercentEncoded, "", 5),
            "u%30"
        );
    }

    #[test]
    fn sequences_name_every_kind_of_look_alike_and_borrow_the_other_username() {
        let choices =
            AuthChoices::for_values("Qm7RzT2vXk9LpW4sNa8c", "user", "default", true, true, true);
        let strategy = sequence(&choices, 3, 30);
        let mut runner = TestRunner::deterministic();
        let mut kinds = std::collections::BTreeMap::new();
        let mut borrowed = 0;
        let mut named = 0;
        for _ in 0..128 {
            for request in strategy.new_tree(&mut runner).unwrap().current() {
                if matches!(
                    request.auth,
                    Auth::OtherUsername | Auth::OtherUsernameInOtherContext
                ) {
                    borrowed += 1;
                }
                let Some(label) = request.user_id() else {
                    continue;
                };
                named += 1;
                let how = (0..3).find_map(|index| UserIdVariant::of(label, &user_label(index)));
                if let Some(how) = how {
                    *kinds.entry(how).or_insert(0) += 1;
                }
            }
        }
        assert_eq!(kinds.len(), UserIdVariant::ALL.len(), "{kinds:?}");
        let look_alikes: usize = kinds.values().sum();
        // Sensible weights: look-alikes a minority of the UserIDs named, each kind tried often.
        assert!(look_alikes * 5 < named, "{look_alikes} of {named}");
        assert!(kinds.values().all(|count| *count >= 20), "{kinds:?}");
        assert!(borrowed >= 20, "{borrowed} borrowed usernames");
        // Without a second user configured, its name is never borrowed.
        let alone =
            AuthChoices::for_values("Qm7RzT2vXk9LpW4sNa8c", "user", "default", true, true, false);
        let strategy = sequence(&alone, 3, 30);
        for _ in 0..64 {
            for request in strategy.new_tree(&mut runner).unwrap().current() {
                assert!(!matches!(
                    request.auth,
                    Auth::OtherUsername | Auth::OtherUsernameInOtherContext
                ));
            }
        }
    }
}
