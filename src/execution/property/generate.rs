//! Strategies: requests over a small pool of UserIDs, with field values
//! drawn to cover what the issue asks (Unicode, empty and whitespace-only
//! strings, long strings up to 4 KiB, quotes, backslashes and control
//! characters, SQL- and HTML-looking text).
//!
//! UserIDs are labels (`u0`, `u1`, ...) that the engine turns into this
//! case's own UserIDs, so shrinking never has to know the run prefix. No
//! generated value contains `${` (it would read as a scenario variable in
//! a written reproduction) or starts with the harness prefix.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

use crate::spec::model::{Action, Auth, Field, Request, Values};

/// Which auth variants the target lets the harness use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthChoices {
    /// A second context is configured.
    pub second_context: bool,
    /// A forbidden context is configured.
    pub forbidden_context: bool,
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

/// Free text for Name and Address; plain words first, so shrinking ends there.
fn free_text() -> BoxedStrategy<String> {
    prop_oneof![
        40 => "[A-Z][a-z]{0,8}( [A-Z][a-z]{0,8})?",
        14 => ("[a-z]{0,4}", select(UNICODE)).prop_map(|(plain, text)| format!("{plain}{text}")),
        10 => select(JSON_SPECIAL).prop_map(str::to_string),
        8 => select(INJECTION).prop_map(str::to_string),
        8 => select(WHITESPACE).prop_map(str::to_string),
        4 => "[a-z ]{200,255}",
        6 => (256usize..=4096, select(LONG_UNITS))
            .prop_map(|(bytes, unit)| unit.to_string().repeat(bytes / unit.len_utf8())),
        4 => select(CONTROL).prop_map(str::to_string),
    ]
    .boxed()
}

/// A value for `field`: mostly well-formed for Email and the phone numbers, sometimes anything.
pub fn value(field: Field) -> BoxedStrategy<String> {
    match field {
        Field::Name | Field::Address => free_text(),
        Field::Email => prop_oneof![
            3 => "[a-z]{1,8}@[a-z]{1,8}\\.(com|in|org)",
            1 => free_text(),
        ]
        .boxed(),
        Field::PhoneNumber | Field::AltPhoneNumber => prop_oneof![
            3 => "[0-9]{6,12}",
            1 => "\\+[0-9]{6,12}",
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

fn auth(choices: AuthChoices) -> BoxedStrategy<Auth> {
    let mut weighted: Vec<(u32, BoxedStrategy<Auth>)> = vec![
        (66, Just(Auth::Configured).boxed()),
        (8, Just(Auth::InvalidToken).boxed()),
        (8, Just(Auth::InvalidContext).boxed()),
    ];
    if choices.second_context {
        weighted.push((12, Just(Auth::SecondContext).boxed()));
    }
    if choices.forbidden_context {
        weighted.push((8, Just(Auth::ForbiddenContext).boxed()));
    }
    proptest::strategy::Union::new_weighted(weighted).boxed()
}

fn user(pool: usize) -> BoxedStrategy<String> {
    (0..pool).prop_map(user_label).boxed()
}

/// How often a generated request is a list, out of about 86.
pub const LIST_WEIGHT: u32 = 10;
/// The list weight against a large target, where every list costs O(customers):
/// each case still ends with a full list per context, so no check is lost.
pub const LIST_WEIGHT_LARGE_TARGET: u32 = 1;

/// One action on the pool; simpler actions first, so shrinking prefers them.
fn action(pool: usize, list_weight: u32) -> BoxedStrategy<Action> {
    prop_oneof![
        list_weight => Just(Action::List),
        26 => (user(pool), value(Field::Name), some_values(0.5, OPTIONAL_FIELDS)).prop_map(
            |(user_id, name, mut values)| {
                values.insert(Field::Name, name);
                Action::Create { user_id: Some(user_id), values }
            }
        ),
        18 => (user(pool), some_values(0.35, &Field::ALL), proptest::bool::weighted(0.2)).prop_map(
            |(user_id, values, body_user_id)| Action::PartialUpdate { user_id, values, body_user_id }
        ),
        12 => (user(pool), all_values()).prop_map(|(user_id, values)| Action::FullUpdate {
            user_id,
            values,
            body_user_id: true,
        }),
        10 => user(pool).prop_map(|user_id| Action::Delete { user_id }),
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
pub fn request(choices: AuthChoices, pool: usize, list_weight: u32) -> BoxedStrategy<Request> {
    (action(pool, list_weight), auth(choices))
        .prop_map(|(action, auth)| Request { action, auth })
        .boxed()
}

/// A sequence of 1 to `max_ops` requests over a pool of `pool` UserIDs.
pub fn sequence(
    choices: AuthChoices,
    pool: usize,
    max_ops: usize,
    list_weight: u32,
) -> BoxedStrategy<Vec<Request>> {
    vec(request(choices, pool, list_weight), 1..=max_ops.max(1)).boxed()
}

/// Plain values only, so that a concurrent history's answers tell which request they answer.
fn plain_values(fields: &'static [Field], present: f64) -> BoxedStrategy<Values> {
    let slots: Vec<_> = fields
        .iter()
        .map(|field| {
            let value = "[A-Z][a-z]{2,8}";
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
        "[A-Z][a-z]{2,8}",
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
}
