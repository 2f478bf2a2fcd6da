//! JSON Schema (draft 2020-12) and OpenAPI 3.1 documents generated from the
//! contract types ([`crate::spec::contract`]) and the scenario format
//! ([`crate::spec::scenario`]).
//!
//! Nothing here restates a field list or a documented text: properties and
//! `required` come from the types through `schemars`, the error `status` and
//! `message` constraints come from the contract constants and from
//! [`DocumentedError::envelope`], and file and component names come from the
//! serde names of [`Operation`] and [`DocumentedError`]. The OpenAPI document
//! (see [`openapi`]) is assembled from the very same JSON Schema values.
//!
//! `cargo run -- schema --out schemas` writes the committed copies under
//! `schemas/`; `tests/schemas.rs` fails when they are stale.

use std::path::{Path, PathBuf};

use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::spec::contract::{
    CreateRequest, Customer, CustomerList, DeleteRequest, DocumentedError, ErrorEnvelope,
    FullUpdateRequest, ListRequest, Operation, PartialUpdateRequest, AUTH_FIELDS,
};
use crate::spec::scenario::Scenario;

mod openapi;

/// The dialect of every generated JSON Schema, and the OpenAPI `jsonSchemaDialect`.
pub const JSON_SCHEMA_DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The vendor page every description cites.
pub const VENDOR_DOC: &str = "ipdr-customer-management-api.txt";

/// How to regenerate the committed documents.
pub const REGENERATE_COMMAND: &str = "cargo run -- schema --out schemas";

/// The OpenAPI version of `openapi.json` (3.1: JSON Schema 2020-12 schemas, GET and DELETE bodies).
pub const OPENAPI_VERSION: &str = "3.1.0";

/// File name of the OpenAPI document.
pub const OPENAPI_FILE: &str = "openapi.json";

/// File name of the scenario-format schema (for `specs/**/*.json`).
pub const SCENARIO_SCHEMA_FILE: &str = "scenario.schema.json";

/// Suffix of every JSON Schema file name.
pub const SCHEMA_FILE_SUFFIX: &str = ".schema.json";

/// Why writing the schemas failed.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// One request of the suite and the reference server's answer to it, shown
/// as an example in the OpenAPI document. The examples come from the
/// committed reference profile (see `execution::snapshot::examples`), so
/// every one was answered by the reference server.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationExample {
    /// The operation the request is.
    pub operation: Operation,
    /// Its key under `examples`, unique within the operation.
    pub key: String,
    /// What the request does and which scenario step recorded the answer.
    pub summary: String,
    /// The path's UserID, for an operation addressing one customer.
    pub path_user_id: Option<String>,
    /// The JSON request body, auth parameters included.
    pub request: Value,
    /// The HTTP status the reference answered.
    pub status: u16,
    /// The JSON body the reference answered.
    pub response: Value,
}

/// Every generated document as (file name, document), in a fixed order:
/// the JSON Schemas first, `openapi.json` last (with `examples` in it).
/// Same input, same output.
pub fn generate(examples: &[OperationExample]) -> Vec<(String, Value)> {
    let set = SchemaSet::build();
    let mut out: Vec<(String, Value)> = set
        .all()
        .map(|doc| (doc.file.clone(), doc.schema.clone()))
        .collect();
    out.push((OPENAPI_FILE.to_string(), openapi::document(&set, examples)));
    out
}

/// The exact text written for a document: pretty JSON and a trailing newline.
pub fn render(document: &Value) -> String {
    let mut text =
        serde_json::to_string_pretty(document).expect("a serde_json::Value always serializes");
    text.push('\n');
    text
}

/// Writes every document of [`generate`] into `dir` (created if missing),
/// returning the paths written. Files already in `dir` that are no longer
/// generated are left alone.
pub fn write_all(dir: &Path, examples: &[OperationExample]) -> Result<Vec<PathBuf>, SchemaError> {
    std::fs::create_dir_all(dir).map_err(|source| SchemaError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for (name, document) in generate(examples) {
        let path = dir.join(name);
        std::fs::write(&path, render(&document)).map_err(|source| SchemaError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

/// One generated JSON Schema document.
struct SchemaDoc {
    /// File name under `schemas/`.
    file: String,
    /// Name under `components/schemas` in the OpenAPI document (the `title`).
    component: String,
    /// The document itself.
    schema: Value,
}

impl SchemaDoc {
    fn new(file: String, schema: Value) -> SchemaDoc {
        let component = schema
            .get("title")
            .and_then(Value::as_str)
            .expect("every generated schema has a title")
            .to_string();
        SchemaDoc {
            file,
            component,
            schema,
        }
    }

    /// The document's description (the type's doc comment and the citation).
    fn description(&self) -> &str {
        self.schema
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// Every JSON Schema document, grouped by role.
struct SchemaSet {
    customer: SchemaDoc,
    customer_list: SchemaDoc,
    /// One request body per operation, in [`Operation::ALL`] order.
    requests: Vec<(Operation, SchemaDoc)>,
    /// One envelope per documented error, in [`DocumentedError::ALL`] order.
    errors: Vec<(DocumentedError, SchemaDoc)>,
    scenario: SchemaDoc,
}

impl SchemaSet {
    fn build() -> SchemaSet {
        SchemaSet {
            customer: customer_schema(),
            customer_list: customer_list_schema(),
            requests: Operation::ALL
                .into_iter()
                .map(|op| (op, request_schema(op)))
                .collect(),
            errors: DocumentedError::ALL
                .into_iter()
                .map(|error| (error, error_schema(error)))
                .collect(),
            scenario: scenario_schema(),
        }
    }

    /// Every document, in file order.
    fn all(&self) -> impl Iterator<Item = &SchemaDoc> {
        [&self.customer, &self.customer_list]
            .into_iter()
            .chain(self.requests.iter().map(|(_, doc)| doc))
            .chain(self.errors.iter().map(|(_, doc)| doc))
            .chain([&self.scenario])
    }

    /// The documents that describe the API (all but the scenario format).
    fn api(&self) -> impl Iterator<Item = &SchemaDoc> {
        self.all().filter(|doc| doc.file != SCENARIO_SCHEMA_FILE)
    }

    /// The request body of `op`.
    fn request(&self, op: Operation) -> &SchemaDoc {
        self.requests
            .iter()
            .find(|(candidate, _)| *candidate == op)
            .map(|(_, doc)| doc)
            .expect("a request schema for every operation")
    }

    /// The success response body of `op` (every "Response Example" of the page).
    fn success(&self, op: Operation) -> &SchemaDoc {
        match op {
            Operation::List => &self.customer_list,
            Operation::Create
            | Operation::FullUpdate
            | Operation::PartialUpdate
            | Operation::Delete => &self.customer,
        }
    }
}

/// The root schema of `T`, draft 2020-12, with its own `$defs`.
fn root_schema<T: JsonSchema>() -> Value {
    SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

/// `Source: <doc>, section "<section>".`
fn cite(section: &str) -> String {
    format!("Source: {VENDOR_DOC}, section \"{section}\".")
}

/// The serde name of a unit variant (e.g. `full_update`).
fn serde_name<T: Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(name)) => name,
        other => panic!("expected a unit variant serialized as a string, got {other:?}"),
    }
}

/// `full_update` → `full-update`.
fn kebab(snake: &str) -> String {
    snake.replace('_', "-")
}

/// `invalid_token` → `InvalidToken`.
fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect()
}

/// Rebuilds a root schema object with the keys in a readable order:
/// `$schema`, `$comment`, `title`, `description`, then the rest as generated.
fn with_header(schema: Value, title: &str, description: String) -> Value {
    let Value::Object(mut fields) = schema else {
        panic!("a root schema is an object");
    };
    let mut out = Map::new();
    out.insert("$schema".into(), JSON_SCHEMA_DIALECT.into());
    out.insert(
        "$comment".into(),
        format!(
            "Generated by ipdr-conformance from its Rust types; do not edit. Regenerate with `{REGENERATE_COMMAND}`."
        )
        .into(),
    );
    out.insert("title".into(), title.into());
    out.insert("description".into(), description.into());
    for key in ["$schema", "$comment", "title", "description"] {
        fields.remove(key);
    }
    out.extend(fields);
    Value::Object(out)
}

/// The generated description of `T` (its doc comment), or "" if it has none.
fn doc_of(schema: &Value) -> String {
    schema
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The title `schemars` gave `T` (from `#[schemars(title = ..)]` or the type name).
fn title_of(schema: &Value) -> String {
    schema
        .get("title")
        .and_then(Value::as_str)
        .expect("schemars always sets a root title")
        .to_string()
}

fn customer_schema() -> SchemaDoc {
    let schema = root_schema::<Customer>();
    let description = format!(
        "{} The success response of create, full update, partial update and delete, and the element of the list response. {}",
        doc_of(&schema),
        cite(&format!("{} › Response Example", Operation::List.citation())),
    );
    let title = title_of(&schema);
    SchemaDoc::new(
        format!("customer{SCHEMA_FILE_SUFFIX}"),
        with_header(schema, &title, description),
    )
}

fn customer_list_schema() -> SchemaDoc {
    let schema = root_schema::<CustomerList>();
    let description = format!(
        "{} {}",
        doc_of(&schema),
        cite(&format!("{} › Response", Operation::List.citation())),
    );
    let title = title_of(&schema);
    SchemaDoc::new(
        format!("customer-list{SCHEMA_FILE_SUFFIX}"),
        with_header(schema, &title, description),
    )
}

/// Whether HTTP gives a body of this operation's method no defined meaning,
/// although the page puts the auth parameters in the body of every request.
fn body_is_unusual(op: Operation) -> bool {
    match op {
        Operation::List | Operation::Delete => true,
        Operation::Create | Operation::FullUpdate | Operation::PartialUpdate => false,
    }
}

/// The note every request schema carries about the auth parameters.
fn auth_note(op: Operation) -> String {
    let mut note = format!(
        "The auth parameters ({}) are flattened into this JSON body: \"These parameters must be included in the request body for all operations\" ({}).",
        AUTH_FIELDS.join(", "),
        cite_inline("Authentication"),
    );
    if body_is_unusual(op) {
        note.push_str(&format!(
            " {method} carries a JSON body too (with Content-Type: application/json), although HTTP gives a {method} body no defined meaning.",
            method = op.method(),
        ));
    }
    note
}

/// `section "<section>" of <doc>`, for use inside a sentence.
fn cite_inline(section: &str) -> String {
    format!("{VENDOR_DOC}, section \"{section}\"")
}

fn request_schema(op: Operation) -> SchemaDoc {
    let schema = match op {
        Operation::List => root_schema::<ListRequest>(),
        Operation::Create => root_schema::<CreateRequest>(),
        Operation::FullUpdate => root_schema::<FullUpdateRequest>(),
        Operation::PartialUpdate => root_schema::<PartialUpdateRequest>(),
        Operation::Delete => root_schema::<DeleteRequest>(),
    };
    let description = format!(
        "{} {} {}",
        doc_of(&schema),
        auth_note(op),
        cite(op.citation()),
    );
    let title = title_of(&schema);
    SchemaDoc::new(
        format!("{}-request{SCHEMA_FILE_SUFFIX}", kebab(&serde_name(op))),
        with_header(schema, &title, description),
    )
}

/// Stand-ins passed to [`DocumentedError::envelope`] so that the message
/// template can be read back without retyping it. Private-use characters:
/// they occur in no documented text and no regex escaping touches them.
const USERNAME_SLOT: &str = "\u{E000}";
const CONTEXTNAME_SLOT: &str = "\u{E001}";

/// Any text, line breaks included: in ECMA-262 `.` matches no line
/// terminator, so `.*` would refuse a context name that ends in a newline.
const ANY_TEXT: &str = r"[\s\S]*";

/// What a documented error's `message` must be.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MessageRule {
    /// Exactly this text (the message echoes nothing from the request).
    Const(String),
    /// An anchored ECMA-262 pattern: the literal text of the template, with
    /// [`ANY_TEXT`] where the request's username or context name is echoed.
    Pattern(String),
}

/// The message rule of `error`, read back from [`DocumentedError::envelope`].
fn message_rule(error: DocumentedError) -> MessageRule {
    let template = error.envelope(USERNAME_SLOT, CONTEXTNAME_SLOT).message;
    if !template.contains(USERNAME_SLOT) && !template.contains(CONTEXTNAME_SLOT) {
        return MessageRule::Const(template);
    }
    let mut pattern = String::from("^");
    let mut literal = String::new();
    for c in template.chars() {
        let text = c.to_string();
        if text == USERNAME_SLOT || text == CONTEXTNAME_SLOT {
            pattern.push_str(&regex_escape(&literal));
            literal.clear();
            pattern.push_str(ANY_TEXT);
        } else {
            literal.push(c);
        }
    }
    pattern.push_str(&regex_escape(&literal));
    pattern.push('$');
    MessageRule::Pattern(pattern)
}

/// Escapes the ECMA-262 syntax characters of `text` (valid with or without
/// the `u` flag, and in the Rust regex engines).
pub fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\^$.|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn error_schema(error: DocumentedError) -> SchemaDoc {
    let mut schema = root_schema::<ErrorEnvelope>();
    let name = serde_name(error);
    let rule = message_rule(error);
    let message_text = match &rule {
        MessageRule::Const(_) => "the message exactly as documented",
        MessageRule::Pattern(_) => {
            "the message follows the documented text, where the username or context name it echoes may be any text"
        }
    };
    {
        let properties = schema
            .get_mut("properties")
            .and_then(Value::as_object_mut)
            .expect("ErrorEnvelope has properties");
        let status = properties
            .get_mut("status")
            .and_then(Value::as_object_mut)
            .expect("ErrorEnvelope has a status");
        status.insert("const".into(), error.status().into());
        let message = properties
            .get_mut("message")
            .and_then(Value::as_object_mut)
            .expect("ErrorEnvelope has a message");
        match &rule {
            MessageRule::Const(text) => message.insert("const".into(), text.as_str().into()),
            MessageRule::Pattern(pattern) => {
                message.insert("pattern".into(), pattern.as_str().into())
            }
        };
    }
    let section = error.citation();
    let description = format!(
        "The \"{}\" error: status exactly \"{}\"; {message_text}. {} {}",
        section.rsplit(" › ").next().unwrap_or(section),
        error.status(),
        doc_of(&schema),
        cite(section),
    );
    SchemaDoc::new(
        format!("error-{}{SCHEMA_FILE_SUFFIX}", kebab(&name)),
        with_header(schema, &format!("Error{}", pascal(&name)), description),
    )
}

fn scenario_schema() -> SchemaDoc {
    let schema = root_schema::<Scenario>();
    let description = format!(
        "{} The declarative conformance scenario format of ipdr-conformance: every file under specs/**/*.json is one scenario. Its `citation` names the section of {VENDOR_DOC} it checks.",
        doc_of(&schema),
    );
    let title = title_of(&schema);
    SchemaDoc::new(
        SCENARIO_SCHEMA_FILE.to_string(),
        with_header(schema, &title, description),
    )
}

/// A JSON value's `$ref`s, rewritten by `rewrite` (recursively).
fn rewrite_refs(value: &mut Value, rewrite: &impl Fn(&str) -> Option<String>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                if key == "$ref" {
                    if let Some(new) = field.as_str().and_then(rewrite) {
                        *field = Value::String(new);
                    }
                } else {
                    rewrite_refs(field, rewrite);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| rewrite_refs(item, rewrite)),
        _ => {}
    }
}

/// Every `$ref` string in a JSON value (recursively), in document order.
pub fn refs_in(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_refs(value, &mut out);
    out
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                match (key.as_str(), field) {
                    ("$ref", Value::String(target)) => out.push(target.clone()),
                    _ => collect_refs(field, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::contract::{MESSAGE_INVALID_CONTEXT_PREFIX, MESSAGE_INVALID_TOKEN};

    #[test]
    fn message_rules_follow_the_contract_constants() {
        assert_eq!(
            message_rule(DocumentedError::InvalidToken),
            MessageRule::Const(MESSAGE_INVALID_TOKEN.to_string())
        );
        assert_eq!(
            message_rule(DocumentedError::InvalidContext),
            MessageRule::Pattern(format!(
                r"^{}[\s\S]*$",
                regex_escape(MESSAGE_INVALID_CONTEXT_PREFIX)
            ))
        );
        assert_eq!(
            message_rule(DocumentedError::ForbiddenContext),
            MessageRule::Pattern(
                r"^The user \([\s\S]*\) is not allowed to access the context [\s\S]*$".to_string()
            )
        );
    }

    #[test]
    fn names_derive_from_serde_names() {
        assert_eq!(kebab(&serde_name(Operation::FullUpdate)), "full-update");
        assert_eq!(
            pascal(&serde_name(DocumentedError::ForbiddenContext)),
            "ForbiddenContext"
        );
        assert_eq!(regex_escape("a (b) c.d"), r"a \(b\) c\.d");
    }

    #[test]
    fn generate_is_deterministic() {
        assert_eq!(generate(&[]), generate(&[]));
    }
}
