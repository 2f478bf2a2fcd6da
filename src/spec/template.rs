//! Variables inside scenario strings: `${uid:a}`, `${context}`, `${id}`, ...
//!
//! Parsing happens when a scenario loads, so a typo fails before any request
//! is sent; resolution happens per step, through [`Bindings`].

use serde_json::Value;

/// A variable a scenario string may name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Variable {
    /// `${uid:LABEL}`: a UserID unique to this run and scenario.
    Uid(String),
    /// `${context}`: the configured context.
    Context,
    /// `${second_context}`: a second context the user may access.
    SecondContext,
    /// `${forbidden_context}`: an existing context the user may not access.
    ForbiddenContext,
    /// `${invalid_context}`: a context name that does not exist.
    InvalidContext,
    /// `${username}`: the configured username.
    Username,
    /// `${other_username}`: the other user's username (`--other-username`).
    OtherUsername,
    /// `${other_context}`: a context only the other user may access (`--other-context`).
    OtherContext,
    /// `${api_token}`: the configured token (raw bodies only).
    ApiToken,
    /// `${repeat:TEXT:N}`: TEXT repeated N times.
    Repeat {
        /// The text to repeat.
        text: String,
        /// How many times.
        times: usize,
    },
    /// `${copy}`: the index (from 0) of this copy of a concurrent request.
    Copy,
    /// `${NAME}`: a variable captured by an earlier step.
    Captured(String),
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Text taken as it is.
    Literal(String),
    /// A variable.
    Variable(Variable),
}

/// A parsed string with variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
}

/// Why a template did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `${` without a closing `}`.
    #[error("unterminated variable in {0:?}")]
    Unterminated(String),
    /// `${}` or a malformed variable.
    #[error("malformed variable ${{{0}}}")]
    Malformed(String),
    /// `${repeat:TEXT:N}` variables that together would expand past [`REPEAT_BYTE_CAP`].
    #[error("${{repeat:...}} would expand to {0} bytes, more than the cap of {REPEAT_BYTE_CAP}")]
    RepeatTooLarge(usize),
}

/// Most bytes the `${repeat:TEXT:N}` variables of one string or body may expand to (1 MiB):
/// a scenario file may not make the harness build an unbounded request.
pub const REPEAT_BYTE_CAP: usize = 1 << 20;

/// Resolves variables to values while a step runs.
pub trait Bindings {
    /// The value of `variable`, or a sentence saying why there is none.
    fn resolve(&self, variable: &Variable) -> Result<Value, String>;
}

impl Variable {
    fn parse(inner: &str) -> Result<Variable, TemplateError> {
        let malformed = || TemplateError::Malformed(inner.to_string());
        if let Some(label) = inner.strip_prefix("uid:") {
            if label.is_empty() || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(malformed());
            }
            return Ok(Variable::Uid(label.to_string()));
        }
        if let Some(rest) = inner.strip_prefix("repeat:") {
            let (text, times) = rest.rsplit_once(':').ok_or_else(malformed)?;
            let times: usize = times.parse().map_err(|_| malformed())?;
            if text.is_empty() || times > 1_000_000 {
                return Err(malformed());
            }
            return Ok(Variable::Repeat {
                text: text.to_string(),
                times,
            });
        }
        Ok(match inner {
            "context" => Variable::Context,
            "second_context" => Variable::SecondContext,
            "forbidden_context" => Variable::ForbiddenContext,
            "invalid_context" => Variable::InvalidContext,
            "username" => Variable::Username,
            "other_username" => Variable::OtherUsername,
            "other_context" => Variable::OtherContext,
            "api_token" => Variable::ApiToken,
            "copy" => Variable::Copy,
            name if !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                Variable::Captured(name.to_string())
            }
            _ => return Err(malformed()),
        })
    }
}

impl Template {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut segments = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                segments.push(Segment::Literal(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| TemplateError::Unterminated(text.to_string()))?;
            segments.push(Segment::Variable(Variable::parse(&after[..end])?));
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Literal(rest.to_string()));
        }
        let template = Template { segments };
        check_repeat_bytes(template.repeat_bytes())?;
        Ok(template)
    }

    /// How many bytes its `${repeat:...}` variables expand to (saturating).
    pub fn repeat_bytes(&self) -> usize {
        self.variables()
            .map(|variable| match variable {
                Variable::Repeat { text, times } => text.len().saturating_mul(*times),
                _ => 0,
            })
            .fold(0, usize::saturating_add)
    }

    /// The pieces of the template, in order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The variables this template names.
    pub fn variables(&self) -> impl Iterator<Item = &Variable> {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Variable(variable) => Some(variable),
            Segment::Literal(_) => None,
        })
    }

    /// Resolves to a JSON value: a lone variable keeps its type, anything else is a string.
    pub fn resolve(&self, bindings: &dyn Bindings) -> Result<Value, String> {
        if let [Segment::Variable(variable)] = self.segments.as_slice() {
            return bindings.resolve(variable);
        }
        self.resolve_string(bindings).map(Value::String)
    }

    /// Resolves to a string; non-string values are written as JSON.
    pub fn resolve_string(&self, bindings: &dyn Bindings) -> Result<String, String> {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Variable(variable) => match bindings.resolve(variable)? {
                    Value::String(text) => out.push_str(&text),
                    other => out.push_str(&other.to_string()),
                },
            }
        }
        Ok(out)
    }
}

/// Parses every string inside a JSON value as a template, depth first.
pub fn templates_in(value: &Value) -> Result<Vec<Template>, TemplateError> {
    let mut found = Vec::new();
    collect_templates(value, &mut found)?;
    check_repeat_bytes(
        found
            .iter()
            .map(Template::repeat_bytes)
            .fold(0, usize::saturating_add),
    )?;
    Ok(found)
}

fn check_repeat_bytes(bytes: usize) -> Result<(), TemplateError> {
    if bytes > REPEAT_BYTE_CAP {
        return Err(TemplateError::RepeatTooLarge(bytes));
    }
    Ok(())
}

fn collect_templates(value: &Value, found: &mut Vec<Template>) -> Result<(), TemplateError> {
    match value {
        Value::String(text) => found.push(Template::parse(text)?),
        Value::Array(items) => {
            for item in items {
                collect_templates(item, found)?;
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                found.push(Template::parse(key)?);
                collect_templates(item, found)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Resolves every string (keys too) inside a JSON value.
pub fn resolve_value(value: &Value, bindings: &dyn Bindings) -> Result<Value, String> {
    Ok(match value {
        Value::String(text) => Template::parse(text)
            .map_err(|error| error.to_string())?
            .resolve(bindings)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| resolve_value(item, bindings))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (key, item) in map {
                let key = Template::parse(key)
                    .map_err(|error| error.to_string())?
                    .resolve_string(bindings)?;
                out.insert(key, resolve_value(item, bindings)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Bindings for Fixed {
        fn resolve(&self, variable: &Variable) -> Result<Value, String> {
            match variable {
                Variable::Uid(label) => Ok(Value::String(format!("zz-{label}"))),
                Variable::Captured(name) if name == "id" => Ok(Value::from(7)),
                Variable::Repeat { text, times } => Ok(Value::String(text.repeat(*times))),
                other => Err(format!("{other:?} unbound")),
            }
        }
    }

    #[test]
    fn lone_variable_keeps_its_type_and_mixed_text_is_a_string() {
        assert_eq!(
            Template::parse("${id}").unwrap().resolve(&Fixed),
            Ok(Value::from(7))
        );
        assert_eq!(
            Template::parse("/x/${uid:a}?${id}")
                .unwrap()
                .resolve(&Fixed),
            Ok(Value::from("/x/zz-a?7"))
        );
        assert_eq!(
            Template::parse("${repeat:ab:3}").unwrap().resolve(&Fixed),
            Ok(Value::from("ababab"))
        );
    }

    #[test]
    fn malformed_variables_are_rejected() {
        assert!(Template::parse("${uid:}").is_err());
        assert!(Template::parse("${oops").is_err());
        assert!(Template::parse("${repeat:a:x}").is_err());
        assert!(Template::parse("${a b}").is_err());
    }
}
