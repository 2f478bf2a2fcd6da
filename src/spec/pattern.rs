//! Expected-body patterns: what `expect.body` in a scenario means.
//!
//! Parsed when a scenario loads; matched against a response body with the
//! step's variables, yielding every mismatch by JSON pointer.

use serde_json::{Map, Value};

use super::contract::{DocumentedError, CREATE_MANDATORY_FIELDS, CUSTOMER_FIELDS};
use super::template::{Bindings, Template, TemplateError};

mod list;

use list::ListFold;
pub use list::ListJudge;

/// JSON types `$any` can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    /// Anything at all.
    Any,
    /// A string.
    String,
    /// An integer.
    Integer,
    /// Any number.
    Number,
    /// true or false.
    Boolean,
    /// null.
    Null,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl JsonType {
    fn parse(name: &str) -> Option<JsonType> {
        Some(match name {
            "any" => JsonType::Any,
            "string" => JsonType::String,
            "integer" => JsonType::Integer,
            "number" => JsonType::Number,
            "boolean" => JsonType::Boolean,
            "null" => JsonType::Null,
            "array" => JsonType::Array,
            "object" => JsonType::Object,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            JsonType::Any => "any",
            JsonType::String => "string",
            JsonType::Integer => "integer",
            JsonType::Number => "number",
            JsonType::Boolean => "boolean",
            JsonType::Null => "null",
            JsonType::Array => "array",
            JsonType::Object => "object",
        }
    }

    /// The type with an article, for messages: `a string`, `an integer`, `any value`.
    fn article(self) -> &'static str {
        match self {
            JsonType::Any => "any value",
            JsonType::String => "a string",
            JsonType::Integer => "an integer",
            JsonType::Number => "a number",
            JsonType::Boolean => "a boolean",
            JsonType::Null => "null",
            JsonType::Array => "an array",
            JsonType::Object => "an object",
        }
    }

    fn admits(self, value: &Value) -> bool {
        match self {
            JsonType::Any => true,
            JsonType::String => value.is_string(),
            JsonType::Integer => value.is_i64() || value.is_u64(),
            JsonType::Number => value.is_number(),
            JsonType::Boolean => value.is_boolean(),
            JsonType::Null => value.is_null(),
            JsonType::Array => value.is_array(),
            JsonType::Object => value.is_object(),
        }
    }
}

/// A parsed expected-body pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// A string, possibly with variables; a lone variable keeps its JSON type.
    Text(Template),
    /// A number, boolean or null, matched by equality.
    Scalar(Value),
    /// An array of the same length whose elements match in order.
    Array(Vec<Pattern>),
    /// An object holding at least these keys.
    Object(Vec<(String, Pattern)>),
    /// `{"$exact": {..}}`: an object holding exactly these keys.
    Exact(Vec<(String, Pattern)>),
    /// `{"$absent": true}`: the key must be missing.
    Absent,
    /// `{"$any": TYPE}`.
    Any(JsonType),
    /// `{"$customer": {..}}`: a customer object.
    Customer(Vec<(String, Pattern)>),
    /// `{"$error": NAME}`: exactly a documented error envelope (`status` and `message`, no other member).
    Error(DocumentedError),
    /// `{"$contains": P}`: an array with an element matching P.
    Contains(Box<Pattern>),
    /// `{"$lacks": P}`: an array with no element matching P.
    Lacks(Box<Pattern>),
    /// `{"$each": P}`: an array whose every element matches P.
    Each(Box<Pattern>),
    /// `{"$count": {"of": P, "is": N}}`: an array with exactly N elements matching P.
    Count(Box<Pattern>, usize),
    /// `{"$starts_with": TEXT}`: a string that starts with TEXT.
    StartsWith(Template),
    /// `{"$one_of": [..]}`: matches any of the alternatives.
    OneOf(Vec<Pattern>),
    /// `{"$not": P}`: does not match P.
    Not(Box<Pattern>),
}

/// Why a pattern did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// A bad variable inside a string.
    #[error("{0}")]
    Template(#[from] TemplateError),
    /// A `$` matcher with a wrong argument or an unknown name.
    #[error("at {pointer}: {reason}")]
    Matcher {
        /// Where in the pattern.
        pointer: String,
        /// What is wrong.
        reason: String,
    },
}

/// One difference between a pattern and a response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// JSON pointer into the response body ("" is the whole body).
    pub pointer: String,
    /// What was expected there.
    pub expected: String,
    /// What was found.
    pub actual: String,
}

impl Mismatch {
    /// One line: `/0/Address: expected "Partially Updated", got "Put"`
    /// (the whole body is `(body)`).
    pub fn line(&self) -> String {
        let at = if self.pointer.is_empty() {
            "(body)"
        } else {
            self.pointer.as_str()
        };
        format!("{at}: expected {}, got {}", self.expected, self.actual)
    }
}

/// Everything a match found: the mismatches, and notes that place them
/// for a reader (which list element they are in, and why that one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Explanation {
    /// Every difference, by JSON pointer into the body.
    pub mismatches: Vec<Mismatch>,
    /// Sentences about where the differences are, e.g. `none of the 14
    /// elements matches; the nearest is /3, the one with UserID "u1"`.
    pub notes: Vec<String>,
}

/// Most list elements whose differences `$each` spells out; the others are counted.
pub const SHOWN_ELEMENTS: usize = 5;

/// What a match needs besides the body: variables and the request's auth.
pub struct MatchContext<'a> {
    /// Variable values.
    pub bindings: &'a dyn Bindings,
    /// The username the request carried.
    pub username: &'a str,
    /// The context name the request carried.
    pub contextname: &'a str,
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn matcher_error(pointer: &str, reason: impl Into<String>) -> PatternError {
    PatternError::Matcher {
        pointer: if pointer.is_empty() {
            "/".to_string()
        } else {
            pointer.to_string()
        },
        reason: reason.into(),
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 200 {
        let cut: String = text.chars().take(200).collect();
        format!("{cut}… ({} bytes)", text.len())
    } else {
        text
    }
}

/// The JSON type of `value`, with an article: `a number`, `null`.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A found value as a mismatch shows it: a long array summarised (its
/// size, not its elements), anything else [`short`].
fn shown(value: &Value) -> String {
    match value {
        Value::Array(items) if value.to_string().chars().count() > 80 => describe_list(items),
        other => short(other),
    }
}

/// `a list of 14 customers` (every element an object with a UserID), else `an array of 3 elements`.
fn describe_list(items: &[Value]) -> String {
    let customers = items
        .iter()
        .all(|item| item.get("UserID").is_some_and(Value::is_string));
    describe_list_of(items.len(), customers)
}

/// A list of `count` elements described: `a list of 14 customers` when
/// `customers` (every element an object with a UserID), else `an array of 3 elements`.
fn describe_list_of(count: usize, customers: bool) -> String {
    match (count, customers && count > 0) {
        (1, true) => "a list of 1 customer".to_string(),
        (count, true) => format!("a list of {count} customers"),
        (count, false) => array_of(count),
    }
}

/// `an empty array`, `an array of 1 element`, `an array of 3 elements`.
fn array_of(count: usize) -> String {
    match count {
        0 => "an empty array".to_string(),
        1 => "an array of 1 element".to_string(),
        count => format!("an array of {count} elements"),
    }
}

/// A body summarised in a few words for a failure message: a list by its
/// size, a customer object by its UserID, anything short as it is.
pub fn describe_body(body: &Value) -> String {
    match body {
        Value::Array(items) => describe_list(items),
        Value::Object(map) if body.to_string().chars().count() > 200 => {
            match map.get("UserID").and_then(Value::as_str) {
                Some(user_id) => format!("a customer object with UserID {user_id:?}"),
                None => format!("an object with {} members", map.len()),
            }
        }
        other => short(other),
    }
}

/// The UserID of list element `element`, for notes: ` (UserID "u1")`, or nothing.
fn user_id_of(element: &Value) -> String {
    element
        .get("UserID")
        .map(|user_id| format!(" (UserID {})", short(user_id)))
        .unwrap_or_default()
}

/// The found value of a mismatch against an expected `expected`: the type
/// is named when it differs (`1234567890 (a number, not a string)`).
fn found_against(expected: &Value, actual: &Value) -> String {
    if std::mem::discriminant(expected) == std::mem::discriminant(actual) {
        shown(actual)
    } else {
        format!(
            "{} ({}, not {})",
            shown(actual),
            type_name(actual),
            type_name(expected)
        )
    }
}

impl Pattern {
    /// Parses a pattern from its JSON form.
    pub fn parse(value: &Value) -> Result<Pattern, PatternError> {
        Pattern::parse_at(value, "")
    }

    fn parse_fields(
        map: &Map<String, Value>,
        pointer: &str,
    ) -> Result<Vec<(String, Pattern)>, PatternError> {
        map.iter()
            .map(|(key, item)| {
                Ok((
                    key.clone(),
                    Pattern::parse_at(item, &format!("{pointer}/{}", escape_pointer(key)))?,
                ))
            })
            .collect()
    }

    fn parse_at(value: &Value, pointer: &str) -> Result<Pattern, PatternError> {
        match value {
            Value::String(text) => Ok(Pattern::Text(Template::parse(text)?)),
            Value::Array(items) => Ok(Pattern::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| Pattern::parse_at(item, &format!("{pointer}/{index}")))
                    .collect::<Result<_, _>>()?,
            )),
            Value::Object(map) => {
                let matcher = map.keys().find(|key| key.starts_with('$'));
                let Some(name) = matcher else {
                    return Ok(Pattern::Object(Pattern::parse_fields(map, pointer)?));
                };
                if map.len() != 1 {
                    return Err(matcher_error(
                        pointer,
                        format!("matcher {name} must be the only key of its object"),
                    ));
                }
                let argument = &map[name];
                let inner = format!("{pointer}/{}", escape_pointer(name));
                let object_argument = || {
                    argument
                        .as_object()
                        .ok_or_else(|| matcher_error(pointer, format!("{name} takes an object")))
                };
                Ok(match name.as_str() {
                    "$any" => Pattern::Any(
                        argument
                            .as_str()
                            .and_then(JsonType::parse)
                            .ok_or_else(|| matcher_error(pointer, "$any takes a JSON type name"))?,
                    ),
                    "$absent" if argument == &Value::Bool(true) => Pattern::Absent,
                    "$exact" => Pattern::Exact(Pattern::parse_fields(object_argument()?, &inner)?),
                    "$customer" => {
                        let fields = object_argument()?;
                        if let Some(unknown) = fields
                            .keys()
                            .find(|key| !CUSTOMER_FIELDS.contains(&key.as_str()))
                        {
                            return Err(matcher_error(
                                pointer,
                                format!("$customer has no field {unknown:?}"),
                            ));
                        }
                        Pattern::Customer(Pattern::parse_fields(fields, &inner)?)
                    }
                    "$error" => {
                        Pattern::Error(serde_json::from_value(argument.clone()).map_err(|_| {
                            matcher_error(
                                pointer,
                                "$error takes invalid_token, invalid_context or forbidden_context",
                            )
                        })?)
                    }
                    "$starts_with" => {
                        Pattern::StartsWith(Template::parse(argument.as_str().ok_or_else(
                            || matcher_error(pointer, "$starts_with takes a string"),
                        )?)?)
                    }
                    "$contains" => {
                        Pattern::Contains(Box::new(Pattern::parse_at(argument, &inner)?))
                    }
                    "$lacks" => Pattern::Lacks(Box::new(Pattern::parse_at(argument, &inner)?)),
                    "$each" => Pattern::Each(Box::new(Pattern::parse_at(argument, &inner)?)),
                    "$not" => Pattern::Not(Box::new(Pattern::parse_at(argument, &inner)?)),
                    "$count" => {
                        let fields = object_argument()?;
                        let of = fields
                            .get("of")
                            .ok_or_else(|| matcher_error(pointer, "$count needs \"of\""))?;
                        let is = fields.get("is").and_then(Value::as_u64).ok_or_else(|| {
                            matcher_error(pointer, "$count needs \"is\": a whole number")
                        })?;
                        if fields.len() != 2 {
                            return Err(matcher_error(
                                pointer,
                                "$count takes only \"of\" and \"is\"",
                            ));
                        }
                        Pattern::Count(
                            Box::new(Pattern::parse_at(of, &format!("{inner}/of"))?),
                            is as usize,
                        )
                    }
                    "$one_of" => {
                        let options = argument
                            .as_array()
                            .filter(|options| !options.is_empty())
                            .ok_or_else(|| {
                                matcher_error(pointer, "$one_of takes a non-empty array")
                            })?;
                        Pattern::OneOf(
                            options
                                .iter()
                                .enumerate()
                                .map(|(index, option)| {
                                    Pattern::parse_at(option, &format!("{inner}/{index}"))
                                })
                                .collect::<Result<_, _>>()?,
                        )
                    }
                    other => {
                        return Err(matcher_error(pointer, format!("unknown matcher {other}")))
                    }
                })
            }
            other => Ok(Pattern::Scalar(other.clone())),
        }
    }

    /// Every template inside the pattern, for load-time variable checks.
    pub fn templates(&self) -> Vec<&Template> {
        let mut found = Vec::new();
        self.collect_templates(&mut found);
        found
    }

    fn collect_templates<'a>(&'a self, found: &mut Vec<&'a Template>) {
        match self {
            Pattern::Text(template) | Pattern::StartsWith(template) => found.push(template),
            Pattern::Array(items) | Pattern::OneOf(items) => {
                items.iter().for_each(|item| item.collect_templates(found))
            }
            Pattern::Object(fields) | Pattern::Exact(fields) | Pattern::Customer(fields) => fields
                .iter()
                .for_each(|(_, item)| item.collect_templates(found)),
            Pattern::Contains(inner)
            | Pattern::Lacks(inner)
            | Pattern::Each(inner)
            | Pattern::Not(inner)
            | Pattern::Count(inner, _) => inner.collect_templates(found),
            Pattern::Scalar(_) | Pattern::Absent | Pattern::Any(_) | Pattern::Error(_) => {}
        }
    }

    /// Whether `actual` matches.
    pub fn is_match(&self, actual: Option<&Value>, context: &MatchContext<'_>) -> bool {
        let mut found = Explanation::default();
        self.check(actual, "", context, &mut found);
        found.mismatches.is_empty()
    }

    /// Every mismatch between the pattern and `actual` (None: a missing key).
    pub fn mismatches(&self, actual: Option<&Value>, context: &MatchContext<'_>) -> Vec<Mismatch> {
        self.explain(actual, context).mismatches
    }

    /// Every mismatch between the pattern and `actual`, with notes that
    /// place them: for a list that should hold a match, the differences of
    /// its nearest element only (same UserID first, then fewest differences).
    pub fn explain(&self, actual: Option<&Value>, context: &MatchContext<'_>) -> Explanation {
        let mut found = Explanation::default();
        self.check(actual, "", context, &mut found);
        found
    }

    fn check(
        &self,
        actual: Option<&Value>,
        pointer: &str,
        context: &MatchContext<'_>,
        out: &mut Explanation,
    ) {
        let mut fail = |expected: String| {
            out.mismatches.push(Mismatch {
                pointer: pointer.to_string(),
                expected,
                actual: actual.map(shown).unwrap_or_else(|| "(missing)".to_string()),
            })
        };
        match self {
            Pattern::Absent => {
                if actual.is_some() {
                    fail("(absent)".to_string());
                }
            }
            Pattern::OneOf(options) => {
                if !options
                    .iter()
                    .any(|option| option.is_match(actual, context))
                {
                    out.mismatches.push(Mismatch {
                        pointer: pointer.to_string(),
                        expected: self.describe(context),
                        actual: actual.map_or_else(
                            || "(missing)".to_string(),
                            |found| format!("{} ({})", shown(found), type_name(found)),
                        ),
                    });
                }
            }
            Pattern::Not(inner) => {
                if inner.is_match(actual, context) {
                    fail(self.describe(context));
                }
            }
            _ if actual.is_none() => fail(self.describe(context)),
            Pattern::Text(template) => match template.resolve(context.bindings) {
                Ok(expected) if actual == Some(&expected) => {}
                Ok(expected) => out.mismatches.push(Mismatch {
                    pointer: pointer.to_string(),
                    expected: short(&expected),
                    actual: found_against(&expected, actual.unwrap()),
                }),
                Err(reason) => fail(format!("(unresolvable: {reason})")),
            },
            Pattern::StartsWith(template) => match template.resolve_string(context.bindings) {
                Ok(prefix)
                    if actual
                        .and_then(Value::as_str)
                        .is_some_and(|text| text.starts_with(&prefix)) => {}
                Ok(prefix) => fail(format!("a string starting with {prefix:?}")),
                Err(reason) => fail(format!("(unresolvable: {reason})")),
            },
            Pattern::Scalar(expected) => {
                if actual != Some(expected) {
                    out.mismatches.push(Mismatch {
                        pointer: pointer.to_string(),
                        expected: short(expected),
                        actual: found_against(expected, actual.unwrap()),
                    });
                }
            }
            Pattern::Any(json_type) => {
                let found = actual.unwrap();
                if !json_type.admits(found) {
                    out.mismatches.push(Mismatch {
                        pointer: pointer.to_string(),
                        expected: json_type.article().to_string(),
                        actual: format!("{} ({})", shown(found), type_name(found)),
                    });
                }
            }
            Pattern::Array(items) => match actual.unwrap().as_array() {
                Some(elements) if elements.len() == items.len() => {
                    for (index, (item, element)) in items.iter().zip(elements).enumerate() {
                        item.check(Some(element), &format!("{pointer}/{index}"), context, out);
                    }
                }
                Some(elements) => out.mismatches.push(Mismatch {
                    pointer: pointer.to_string(),
                    expected: array_of(items.len()),
                    actual: describe_list(elements),
                }),
                None => fail("an array".to_string()),
            },
            Pattern::Object(fields) => {
                Pattern::check_fields(fields, actual.unwrap(), pointer, context, out, false)
            }
            Pattern::Exact(fields) => {
                Pattern::check_fields(fields, actual.unwrap(), pointer, context, out, true)
            }
            Pattern::Customer(fields) => {
                let full = Pattern::customer_fields(fields);
                Pattern::check_fields(&full, actual.unwrap(), pointer, context, out, false)
            }
            Pattern::Error(error) => {
                let envelope = error.envelope(context.username, context.contextname);
                let expected = serde_json::to_value(envelope).expect("an envelope serializes");
                let fields = vec![
                    (
                        "status".to_string(),
                        Pattern::Scalar(expected["status"].clone()),
                    ),
                    (
                        "message".to_string(),
                        Pattern::Scalar(expected["message"].clone()),
                    ),
                ];
                // Exact: the page's envelopes are `{status, message}` and nothing more ("Error Handling").
                Pattern::check_fields(&fields, actual.unwrap(), pointer, context, out, true)
            }
            Pattern::Contains(_) | Pattern::Lacks(_) | Pattern::Each(_) | Pattern::Count(..) => {
                match (actual.unwrap().as_array(), ListFold::of(self, context)) {
                    (Some(elements), Some((mut fold, inner))) => {
                        for (index, element) in elements.iter().enumerate() {
                            fold.element(inner, index, element, pointer, context);
                        }
                        fold.finish(self, inner, elements.len(), pointer, context, out);
                    }
                    _ => fail("an array".to_string()),
                }
            }
        }
    }

    /// Whether the verdict on an array rests on its elements, by a way
    /// other than a list operator at the top: an exact array, a captured
    /// value (it may be an array), `$one_of` or `$not` over such patterns.
    fn depends_on_elements(&self) -> bool {
        match self {
            Pattern::Array(_) | Pattern::Text(_) => true,
            Pattern::Contains(_) | Pattern::Lacks(_) | Pattern::Each(_) | Pattern::Count(..) => {
                true
            }
            Pattern::OneOf(options) => options.iter().any(Pattern::depends_on_elements),
            Pattern::Not(inner) => inner.depends_on_elements(),
            _ => false,
        }
    }

    /// The UserID an object pattern asks for, when it names one exactly.
    fn expected_user_id(&self, context: &MatchContext<'_>) -> Option<Value> {
        let fields = match self {
            Pattern::Object(fields) | Pattern::Exact(fields) | Pattern::Customer(fields) => fields,
            _ => return None,
        };
        match fields.iter().find(|(key, _)| key == "UserID")?.1 {
            Pattern::Text(ref template) => template.resolve(context.bindings).ok(),
            Pattern::Scalar(ref value) => Some(value.clone()),
            _ => None,
        }
    }

    fn check_fields(
        fields: &[(String, Pattern)],
        actual: &Value,
        pointer: &str,
        context: &MatchContext<'_>,
        out: &mut Explanation,
        exact: bool,
    ) {
        let Some(map) = actual.as_object() else {
            out.mismatches.push(Mismatch {
                pointer: pointer.to_string(),
                expected: "an object".to_string(),
                actual: format!("{} ({})", shown(actual), type_name(actual)),
            });
            return;
        };
        for (key, pattern) in fields {
            pattern.check(
                map.get(key),
                &format!("{pointer}/{}", escape_pointer(key)),
                context,
                out,
            );
        }
        if exact {
            for key in map
                .keys()
                .filter(|key| !fields.iter().any(|(name, _)| name == *key))
            {
                out.mismatches.push(Mismatch {
                    pointer: format!("{pointer}/{}", escape_pointer(key)),
                    expected: "(absent)".to_string(),
                    actual: short(&map[key]),
                });
            }
        }
    }

    /// The full customer pattern: given fields, `id` any integer, mandatory
    /// fields any string, optional fields a string, null or absent
    /// ("Creating a New Customer": only UserID and Name are mandatory).
    fn customer_fields(given: &[(String, Pattern)]) -> Vec<(String, Pattern)> {
        CUSTOMER_FIELDS
            .iter()
            .map(|field| {
                let pattern = match given.iter().find(|(name, _)| name == field) {
                    Some((_, pattern)) => pattern.clone(),
                    None if *field == "id" => Pattern::Any(JsonType::Integer),
                    None if CREATE_MANDATORY_FIELDS.contains(field) => {
                        Pattern::Any(JsonType::String)
                    }
                    None => Pattern::OneOf(vec![
                        Pattern::Any(JsonType::String),
                        Pattern::Any(JsonType::Null),
                        Pattern::Absent,
                    ]),
                };
                (field.to_string(), pattern)
            })
            .collect()
    }

    /// A short human description, variables resolved where possible:
    /// `a string, null or absent`, or the pattern as JSON.
    pub fn describe(&self, context: &MatchContext<'_>) -> String {
        match self {
            Pattern::Any(json_type) => json_type.article().to_string(),
            Pattern::Absent => "absent".to_string(),
            Pattern::Not(inner) => format!("anything but {}", inner.describe(context)),
            Pattern::OneOf(options) => {
                let described: Vec<String> = options
                    .iter()
                    .map(|option| option.describe(context))
                    .collect();
                match described.split_last() {
                    Some((last, rest)) if !rest.is_empty() => {
                        format!("{} or {last}", rest.join(", "))
                    }
                    _ => described.join(""),
                }
            }
            _ => short(&self.render(context)),
        }
    }

    /// The pattern as JSON for display, variables resolved where possible.
    pub fn render(&self, context: &MatchContext<'_>) -> Value {
        let render_fields = |fields: &[(String, Pattern)]| {
            Value::Object(
                fields
                    .iter()
                    .map(|(key, pattern)| (key.clone(), pattern.render(context)))
                    .collect(),
            )
        };
        match self {
            Pattern::Text(template) => template
                .resolve(context.bindings)
                .unwrap_or_else(|reason| Value::String(format!("<unresolvable: {reason}>"))),
            Pattern::Scalar(value) => value.clone(),
            Pattern::Array(items) => {
                Value::Array(items.iter().map(|item| item.render(context)).collect())
            }
            Pattern::Object(fields) | Pattern::Exact(fields) => render_fields(fields),
            Pattern::Customer(fields) => render_fields(
                &Pattern::customer_fields(fields)
                    .into_iter()
                    .filter(|(_, pattern)| !matches!(pattern, Pattern::OneOf(_)))
                    .collect::<Vec<_>>(),
            ),
            Pattern::Absent => Value::String("<absent>".to_string()),
            Pattern::StartsWith(template) => Value::String(format!(
                "<starts with {:?}>",
                template
                    .resolve_string(context.bindings)
                    .unwrap_or_default()
            )),
            Pattern::Any(json_type) => Value::String(format!("<any {}>", json_type.name())),
            Pattern::Error(error) => {
                serde_json::to_value(error.envelope(context.username, context.contextname))
                    .expect("an envelope serializes")
            }
            Pattern::Contains(inner) => serde_json::json!({"<contains>": inner.render(context)}),
            Pattern::Lacks(inner) => serde_json::json!({"<lacks>": inner.render(context)}),
            Pattern::Each(inner) => serde_json::json!({"<each>": inner.render(context)}),
            Pattern::Count(inner, count) => {
                serde_json::json!({"<count>": count, "<of>": inner.render(context)})
            }
            Pattern::OneOf(options) => {
                serde_json::json!({"<one of>": options.iter().map(|option| option.render(context)).collect::<Vec<_>>()})
            }
            Pattern::Not(inner) => serde_json::json!({"<not>": inner.render(context)}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::template::Variable;
    use serde_json::json;

    struct NoVariables;
    impl Bindings for NoVariables {
        fn resolve(&self, variable: &Variable) -> Result<Value, String> {
            Err(format!("{variable:?}"))
        }
    }

    fn mismatches(pattern: Value, actual: Value) -> Vec<Mismatch> {
        explain(pattern, actual).mismatches
    }

    #[test]
    fn token_error_casing_is_a_mismatch_at_status() {
        let found = mismatches(
            json!({"$error": "invalid_token"}),
            json!({"status": "Error", "message": "Invalid API token"}),
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].pointer, "/status");
        assert_eq!(found[0].expected, "\"ERROR\"");
    }

    #[test]
    fn an_error_envelope_with_another_member_is_a_mismatch() {
        let found = mismatches(
            json!({"$error": "forbidden_context"}),
            json!({"status": "Error", "message": "The user (user) is not allowed to access the context ipdr", "data": []}),
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].pointer, "/data");
        assert_eq!(found[0].expected, "(absent)");
        assert!(mismatches(
            json!({"$error": "invalid_token"}),
            json!({"status": "ERROR", "message": "Invalid API token"})
        )
        .is_empty());
    }

    #[test]
    fn customer_requires_string_fields_and_integer_id() {
        let pattern = json!({"$customer": {"UserID": "u1", "PhoneNumber": "123"}});
        let ok = json!({"id": 1, "Name": "n", "Address": "", "Email": null, "PhoneNumber": "123", "UserID": "u1"});
        assert!(mismatches(pattern.clone(), ok).is_empty());
        let numeric = json!({"id": 1, "Name": "n", "PhoneNumber": 123, "UserID": "u1"});
        assert_eq!(
            mismatches(pattern.clone(), numeric)[0].pointer,
            "/PhoneNumber"
        );
        let string_id = json!({"id": "1", "Name": "n", "PhoneNumber": "123", "UserID": "u1"});
        assert_eq!(mismatches(pattern, string_id)[0].pointer, "/id");
    }

    #[test]
    fn array_matchers() {
        let list = json!([{"UserID": "a"}, {"UserID": "b"}, {"UserID": "b"}]);
        assert!(mismatches(json!({"$contains": {"UserID": "a"}}), list.clone()).is_empty());
        assert_eq!(
            mismatches(json!({"$lacks": {"UserID": "b"}}), list.clone())[0].pointer,
            "/1"
        );
        assert_eq!(
            mismatches(
                json!({"$count": {"of": {"UserID": "b"}, "is": 1}}),
                list.clone()
            )
            .len(),
            1
        );
        assert!(mismatches(json!({"$each": {"UserID": {"$any": "string"}}}), list).is_empty());
    }

    fn explain(pattern: Value, actual: Value) -> Explanation {
        let context = MatchContext {
            bindings: &NoVariables,
            username: "user",
            contextname: "ipdr",
        };
        Pattern::parse(&pattern)
            .unwrap()
            .explain(Some(&actual), &context)
    }

    fn lines(found: &Explanation) -> Vec<String> {
        found.mismatches.iter().map(Mismatch::line).collect()
    }

    #[test]
    fn a_failed_contains_shows_only_the_fields_of_the_element_with_the_same_user_id() {
        let list = json!([
            {"UserID": "b", "Name": "Trisul", "Address": "Partially Updated"},
            {"UserID": "a", "Name": "Trisul", "Address": "Put Without The Other Fields"},
            {"UserID": "c", "Name": "Other", "Address": "Chennai"},
        ]);
        let found = explain(
            json!({"$contains": {"UserID": "a", "Name": "Trisul", "Address": "Partially Updated"}}),
            list,
        );
        assert_eq!(
            lines(&found),
            ["/1/Address: expected \"Partially Updated\", got \"Put Without The Other Fields\""]
        );
        assert_eq!(
            found.notes,
            ["none of the 3 elements matches; the nearest is /1, the one with UserID \"a\""]
        );
    }

    #[test]
    fn without_the_user_id_the_nearest_element_has_the_fewest_differences() {
        let list = json!([
            {"UserID": "b", "Name": "Other", "Address": "Elsewhere"},
            {"UserID": "c", "Name": "Trisul", "Address": "Elsewhere"},
        ]);
        let found = explain(
            json!({"$contains": {"UserID": "a", "Name": "Trisul", "Address": "Elsewhere"}}),
            list.clone(),
        );
        assert_eq!(lines(&found), ["/1/UserID: expected \"a\", got \"c\""]);
        assert_eq!(
            found.notes,
            ["none of the 2 elements matches; no element has UserID \"a\"; the nearest (fewest differences) is /1 (UserID \"c\")"]
        );
        let unnamed = explain(
            json!({"$contains": {"Name": "Trisul", "Address": "Here"}}),
            list,
        );
        assert_eq!(
            lines(&unnamed),
            ["/1/Address: expected \"Here\", got \"Elsewhere\""]
        );
        assert_eq!(
            explain(json!({"$contains": {"UserID": "a"}}), json!([])).mismatches[0].actual,
            "an empty array"
        );
    }

    #[test]
    fn missing_members_wrong_types_and_extra_members_each_get_a_line() {
        let found = explain(
            json!({"$exact": {"UserID": "a", "PhoneNumber": "123", "Email": "e@x.org", "id": {"$any": "integer"}}}),
            json!({"UserID": "a", "PhoneNumber": 123, "id": "7", "code": 401}),
        );
        assert_eq!(
            lines(&found),
            [
                "/PhoneNumber: expected \"123\", got 123 (a number, not a string)",
                "/Email: expected \"e@x.org\", got (missing)",
                "/id: expected an integer, got \"7\" (a string)",
                "/code: expected (absent), got 401",
            ]
        );
        let optional = explain(
            json!({"$customer": {"UserID": "a"}}),
            json!({"id": 1, "UserID": "a", "Name": "n", "AltPhoneNumber": 99}),
        );
        assert_eq!(
            lines(&optional),
            ["/AltPhoneNumber: expected a string, null or absent, got 99 (a number)"]
        );
    }

    #[test]
    fn a_failed_each_spells_out_the_first_elements_and_counts_the_rest() {
        let list: Vec<Value> = (0..8)
            .map(|index| json!({"UserID": format!("u{index}"), "Name": index}))
            .collect();
        let found = explain(
            json!({"$each": {"Name": {"$any": "string"}}}),
            Value::Array(list),
        );
        let shown = lines(&found);
        assert_eq!(shown.len(), SHOWN_ELEMENTS + 1, "{shown:#?}");
        assert_eq!(shown[0], "/0/Name: expected a string, got 0 (a number)");
        assert_eq!(
            shown[SHOWN_ELEMENTS],
            "(body): expected every element matching {\"Name\":\"<any string>\"}, got 3 more that do not: /5, /6, /7"
        );
        assert_eq!(
            found.notes,
            ["8 of the 8 elements differ, the first 5 shown: /0 (UserID \"u0\"), /1 (UserID \"u1\"), /2 (UserID \"u2\"), /3 (UserID \"u3\"), /4 (UserID \"u4\")"]
        );
    }

    #[test]
    fn a_long_list_is_summarised_not_quoted() {
        let list: Vec<Value> = (0..14)
            .map(|index| json!({"UserID": format!("zzconf-run-{index}"), "Name": "Trisul"}))
            .collect();
        assert_eq!(
            describe_body(&Value::Array(list.clone())),
            "a list of 14 customers"
        );
        let found = explain(json!([{"UserID": "x"}]), Value::Array(list));
        assert_eq!(
            lines(&found),
            ["(body): expected an array of 1 element, got a list of 14 customers"]
        );
    }

    #[test]
    fn unknown_matchers_are_rejected() {
        assert!(Pattern::parse(&json!({"$nope": 1})).is_err());
        assert!(Pattern::parse(&json!({"$any": "text"})).is_err());
        assert!(Pattern::parse(&json!({"$customer": {"name": "x"}})).is_err());
    }
}
