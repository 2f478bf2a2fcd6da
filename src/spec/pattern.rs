//! Expected-body patterns: what `expect.body` in a scenario means.
//!
//! Parsed when a scenario loads; matched against a response body with the
//! step's variables, yielding every mismatch by JSON pointer.

use serde_json::{Map, Value};

use super::contract::{DocumentedError, CREATE_MANDATORY_FIELDS, CUSTOMER_FIELDS};
use super::template::{Bindings, Template, TemplateError};

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
        let mut mismatches = Vec::new();
        self.check(actual, "", context, &mut mismatches);
        mismatches.is_empty()
    }

    /// Every mismatch between the pattern and `actual` (None: a missing key).
    pub fn mismatches(&self, actual: Option<&Value>, context: &MatchContext<'_>) -> Vec<Mismatch> {
        let mut mismatches = Vec::new();
        self.check(actual, "", context, &mut mismatches);
        mismatches
    }

    fn check(
        &self,
        actual: Option<&Value>,
        pointer: &str,
        context: &MatchContext<'_>,
        out: &mut Vec<Mismatch>,
    ) {
        let mut fail = |expected: String| {
            out.push(Mismatch {
                pointer: pointer.to_string(),
                expected,
                actual: actual.map(short).unwrap_or_else(|| "(missing)".to_string()),
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
                    fail(self.describe(context));
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
                Ok(expected) => fail(short(&expected)),
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
                    fail(short(expected));
                }
            }
            Pattern::Any(json_type) => {
                if !json_type.admits(actual.unwrap()) {
                    fail(format!("any {}", json_type.name()));
                }
            }
            Pattern::Array(items) => match actual.unwrap().as_array() {
                Some(elements) if elements.len() == items.len() => {
                    for (index, (item, element)) in items.iter().zip(elements).enumerate() {
                        item.check(Some(element), &format!("{pointer}/{index}"), context, out);
                    }
                }
                Some(elements) => fail(format!(
                    "an array of {} elements (got {})",
                    items.len(),
                    elements.len()
                )),
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
            Pattern::Contains(inner) => match actual.unwrap().as_array() {
                Some(elements)
                    if elements
                        .iter()
                        .any(|element| inner.is_match(Some(element), context)) => {}
                Some(elements) => fail(format!(
                    "an array with an element matching {} (none of {} did)",
                    inner.describe(context),
                    elements.len()
                )),
                None => fail("an array".to_string()),
            },
            Pattern::Lacks(inner) => match actual.unwrap().as_array() {
                Some(elements) => {
                    if let Some(index) = elements
                        .iter()
                        .position(|element| inner.is_match(Some(element), context))
                    {
                        out.push(Mismatch {
                            pointer: format!("{pointer}/{index}"),
                            expected: format!("no element matching {}", inner.describe(context)),
                            actual: short(&elements[index]),
                        });
                    }
                }
                None => fail("an array".to_string()),
            },
            Pattern::Each(inner) => match actual.unwrap().as_array() {
                Some(elements) => {
                    for (index, element) in elements.iter().enumerate() {
                        inner.check(Some(element), &format!("{pointer}/{index}"), context, out);
                    }
                }
                None => fail("an array".to_string()),
            },
            Pattern::Count(inner, expected) => match actual.unwrap().as_array() {
                Some(elements) => {
                    let found = elements
                        .iter()
                        .filter(|element| inner.is_match(Some(element), context))
                        .count();
                    if found != *expected {
                        out.push(Mismatch {
                            pointer: pointer.to_string(),
                            expected: format!(
                                "exactly {expected} element(s) matching {}",
                                inner.describe(context)
                            ),
                            actual: format!("{found} such element(s)"),
                        });
                    }
                }
                None => fail("an array".to_string()),
            },
        }
    }

    fn check_fields(
        fields: &[(String, Pattern)],
        actual: &Value,
        pointer: &str,
        context: &MatchContext<'_>,
        out: &mut Vec<Mismatch>,
        exact: bool,
    ) {
        let Some(map) = actual.as_object() else {
            out.push(Mismatch {
                pointer: pointer.to_string(),
                expected: "an object".to_string(),
                actual: short(actual),
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
                out.push(Mismatch {
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

    /// A short human description, variables resolved where possible.
    pub fn describe(&self, context: &MatchContext<'_>) -> String {
        short(&self.render(context))
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
        let context = MatchContext {
            bindings: &NoVariables,
            username: "user",
            contextname: "ipdr",
        };
        Pattern::parse(&pattern)
            .unwrap()
            .mismatches(Some(&actual), &context)
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

    #[test]
    fn unknown_matchers_are_rejected() {
        assert!(Pattern::parse(&json!({"$nope": 1})).is_err());
        assert!(Pattern::parse(&json!({"$any": "text"})).is_err());
        assert!(Pattern::parse(&json!({"$customer": {"name": "x"}})).is_err());
    }
}
