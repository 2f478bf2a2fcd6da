//! The generated JSON Schemas and OpenAPI document: committed copies are
//! current, every schema is valid draft 2020-12, the vendor page's examples
//! validate, every scenario file validates, and the OpenAPI document is
//! complete and self-contained.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ipdr_conformance::execution::snapshot::examples::reference_examples;
use ipdr_conformance::spec::contract::{
    self, DocumentedError, Operation, AUTH_FIELDS, CREATE_MANDATORY_FIELDS, CUSTOMER_FIELDS,
    FULL_UPDATE_FIELDS,
};
use ipdr_conformance::spec::scenario::Scenario;
use ipdr_conformance::spec::schema::{
    self, JSON_SCHEMA_DIALECT, OPENAPI_FILE, OPENAPI_VERSION, REGENERATE_COMMAND,
    SCENARIO_SCHEMA_FILE, SCHEMA_FILE_SUFFIX, VENDOR_DOC,
};
use serde_json::{json, Value};

/// The OpenAPI examples, read from the reference profile built into the binary.
fn examples() -> Vec<schema::OperationExample> {
    reference_examples().unwrap_or_else(|error| panic!("the OpenAPI examples: {error}"))
}

/// Every generated document, examples included.
fn generate() -> Vec<(String, Value)> {
    schema::generate(&examples())
}

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn schemas_dir() -> PathBuf {
    crate_dir().join("schemas")
}

/// A generated document by file name.
fn generated(name: &str) -> Value {
    generate()
        .into_iter()
        .find(|(file, _)| file == name)
        .map(|(_, document)| document)
        .unwrap_or_else(|| panic!("{name} is not generated"))
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::draft202012::new(schema)
        .unwrap_or_else(|error| panic!("schema does not compile: {error}\n{schema:#}"))
}

/// The validation errors of `instance`, one line each ("" if valid).
fn errors(validator: &jsonschema::Validator, instance: &Value) -> String {
    validator
        .iter_errors(instance)
        .map(|error| format!("  at {:?}: {error}\n", error.instance_path().as_str()))
        .collect()
}

#[track_caller]
fn assert_valid(file: &str, instance: &Value) {
    let errors = errors(&validator(&generated(file)), instance);
    assert!(
        errors.is_empty(),
        "{instance} should validate against {file}:\n{errors}"
    );
}

#[track_caller]
fn assert_invalid(file: &str, instance: &Value) {
    assert!(
        !validator(&generated(file)).is_valid(instance),
        "{instance} should NOT validate against {file}"
    );
}

// (a) The committed schemas/ are exactly what generate() produces.

#[test]
fn committed_schemas_are_not_stale() {
    let dir = schemas_dir();
    let generated = generate();
    let mut problems = Vec::new();
    for (name, document) in &generated {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) if bytes == schema::render(document).as_bytes() => {}
            Ok(_) => problems.push(format!("{name}: differs from the generated document")),
            Err(error) => problems.push(format!("{name}: cannot be read ({error})")),
        }
    }
    let names: BTreeSet<&str> = generated.iter().map(|(name, _)| name.as_str()).collect();
    match std::fs::read_dir(&dir) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry.expect("readable schemas/ entry");
                let name = entry.file_name().to_string_lossy().into_owned();
                if !names.contains(name.as_str()) {
                    problems.push(format!("{name}: is not generated any more (delete it)"));
                }
            }
        }
        Err(error) => problems.push(format!("schemas/ cannot be listed ({error})")),
    }
    assert!(
        problems.is_empty(),
        "{} is stale:\n  {}\nRegenerate with `{REGENERATE_COMMAND}` and commit the result.",
        dir.display(),
        problems.join("\n  ")
    );
}

#[test]
fn generates_the_expected_files_in_a_fixed_order() {
    let names: Vec<String> = generate().into_iter().map(|(name, _)| name).collect();
    assert_eq!(
        names,
        [
            "customer.schema.json",
            "customer-list.schema.json",
            "list-request.schema.json",
            "create-request.schema.json",
            "full-update-request.schema.json",
            "partial-update-request.schema.json",
            "delete-request.schema.json",
            "error-invalid-token.schema.json",
            "error-invalid-context.schema.json",
            "error-forbidden-context.schema.json",
            "scenario.schema.json",
            "openapi.json",
        ]
    );
    assert_eq!(generate(), generate(), "not deterministic");
}

#[test]
fn write_all_writes_what_render_renders() {
    let dir = std::env::temp_dir().join(format!("ipdr-schemas-test-{}", std::process::id()));
    let written = schema::write_all(&dir, &examples()).expect("writing into a temp dir");
    let generated = generate();
    assert_eq!(written.len(), generated.len());
    for (path, (name, document)) in written.iter().zip(&generated) {
        assert_eq!(path, &dir.join(name));
        let text = std::fs::read_to_string(path).unwrap();
        assert!(
            text.ends_with("}\n") || text.ends_with("]\n"),
            "{name}: no trailing newline"
        );
        assert_eq!(text, schema::render(document));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

// (b) Every generated JSON Schema is itself a valid draft 2020-12 schema.

fn json_schemas() -> Vec<(String, Value)> {
    generate()
        .into_iter()
        .filter(|(name, _)| name.ends_with(SCHEMA_FILE_SUFFIX))
        .collect()
}

#[test]
fn every_json_schema_is_valid_draft_2020_12() {
    let schemas = json_schemas();
    assert_eq!(schemas.len(), 11);
    for (name, document) in &schemas {
        assert_eq!(document["$schema"], JSON_SCHEMA_DIALECT, "{name}: $schema");
        if let Err(error) = jsonschema::meta::validate(document) {
            panic!("{name} is not a valid draft 2020-12 schema: {error}");
        }
        validator(document);
        assert!(document.get("$id").is_none(), "{name}: has an $id");
        let title = document["title"].as_str().unwrap_or_default();
        assert!(!title.is_empty(), "{name}: no title");
        let description = document["description"].as_str().unwrap_or_default();
        assert!(
            description.contains(VENDOR_DOC),
            "{name}: the description does not cite {VENDOR_DOC}: {description}"
        );
        for target in schema::refs_in(document) {
            let pointer = target
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{name}: non-local $ref {target}"));
            assert!(
                document.pointer(pointer).is_some(),
                "{name}: $ref {target} does not resolve"
            );
        }
    }
}

#[test]
fn request_and_error_descriptions_cite_their_sections() {
    for op in Operation::ALL {
        let document = generated(&request_file(op));
        let description = document["description"].as_str().unwrap();
        assert!(description.contains(op.citation()), "{description}");
        for field in AUTH_FIELDS {
            assert!(description.contains(field), "{description}");
        }
        if matches!(op, Operation::List | Operation::Delete) {
            assert!(
                description.contains(&format!("{} carries a JSON body", op.method())),
                "{description}"
            );
        }
    }
    for error in DocumentedError::ALL {
        let document = generated(&error_file(error));
        let description = document["description"].as_str().unwrap();
        assert!(description.contains(error.citation()), "{description}");
    }
}

// The schemas agree with the contract's own field lists.

fn request_file(op: Operation) -> String {
    let name = serde_json::to_value(op).unwrap();
    format!(
        "{}-request{SCHEMA_FILE_SUFFIX}",
        name.as_str().unwrap().replace('_', "-")
    )
}

fn error_file(error: DocumentedError) -> String {
    let name = serde_json::to_value(error).unwrap();
    format!(
        "error-{}{SCHEMA_FILE_SUFFIX}",
        name.as_str().unwrap().replace('_', "-")
    )
}

fn property_names(document: &Value) -> Vec<String> {
    document["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .cloned()
        .collect()
}

fn required(document: &Value) -> BTreeSet<String> {
    document["required"]
        .as_array()
        .expect("required")
        .iter()
        .map(|name| name.as_str().unwrap().to_string())
        .collect()
}

fn set_of(lists: &[&[&str]]) -> BTreeSet<String> {
    lists
        .iter()
        .flat_map(|list| list.iter().map(|name| name.to_string()))
        .collect()
}

#[test]
fn schemas_agree_with_the_contract_field_lists() {
    let customer = generated("customer.schema.json");
    assert_eq!(property_names(&customer), CUSTOMER_FIELDS);
    assert_eq!(required(&customer), set_of(&[&CUSTOMER_FIELDS]));
    assert_eq!(customer["additionalProperties"], false);

    let non_id: Vec<&str> = CUSTOMER_FIELDS.into_iter().filter(|f| *f != "id").collect();
    let all_request_fields = set_of(&[&AUTH_FIELDS, &non_id]);
    for (op, required_fields) in [
        (Operation::List, set_of(&[&AUTH_FIELDS])),
        (
            Operation::Create,
            set_of(&[&AUTH_FIELDS, &CREATE_MANDATORY_FIELDS]),
        ),
        (
            Operation::FullUpdate,
            set_of(&[&AUTH_FIELDS, &FULL_UPDATE_FIELDS]),
        ),
        (Operation::PartialUpdate, set_of(&[&AUTH_FIELDS])),
        (Operation::Delete, set_of(&[&AUTH_FIELDS])),
    ] {
        let file = request_file(op);
        let document = generated(&file);
        assert_eq!(required(&document), required_fields, "{file}: required");
        let properties: BTreeSet<String> = property_names(&document).into_iter().collect();
        let expected = if matches!(op, Operation::List | Operation::Delete) {
            set_of(&[&AUTH_FIELDS])
        } else {
            all_request_fields.clone()
        };
        assert_eq!(properties, expected, "{file}: properties");
        for (field, property) in document["properties"].as_object().unwrap() {
            assert_eq!(property["type"], "string", "{file}: {field} is a string");
        }
    }
}

// (c) The vendor page's examples validate; near misses do not.

/// "Retrieving Customer List › Response Example".
fn page_list_example() -> Value {
    json!([
        {
            "id": 5,
            "Name": "Trisul",
            "Address": "Chennai",
            "Email": "demo@gmail.com",
            "PhoneNumber": "1234567890",
            "AltPhoneNumber": "9999999999",
            "UserID": "B68t19"
        },
        {
            "id": 6,
            "Name": "Trisul Network Analytics",
            "Address": "India",
            "Email": "test@gmail.com",
            "PhoneNumber": "3333333333",
            "AltPhoneNumber": "5555555555",
            "UserID": "Xlr8d3"
        }
    ])
}

/// The "Response Example" of create, PUT, PATCH and DELETE, in that order.
fn page_customer_examples() -> Vec<(Operation, Value)> {
    vec![
        (
            Operation::Create,
            json!({"id": 3, "Name": "Trisul", "Address": "Chennai", "Email": "demo@gmail.com",
                   "PhoneNumber": "1234567890", "AltPhoneNumber": "9999999999", "UserID": "B68t19"}),
        ),
        (
            Operation::FullUpdate,
            json!({"id": 3, "Name": "Trisul Network Analyzer", "Address": "India", "Email": "test@gmail.com",
                   "PhoneNumber": "3333333333", "AltPhoneNumber": "5555555555", "UserID": "B68t19"}),
        ),
        (
            Operation::PartialUpdate,
            json!({"id": 3, "Name": "Trisul Network Analyzer", "Address": "Partially Updated", "Email": "test@gmail.com",
                   "PhoneNumber": "3333333333", "AltPhoneNumber": "5555555555", "UserID": "B68t19"}),
        ),
        (
            Operation::Delete,
            json!({"id": 3, "Name": "Trisul Network Analyzer", "Address": "Partially Updated", "Email": "test@gmail.com",
                   "PhoneNumber": "3333333333", "AltPhoneNumber": "5555555555", "UserID": "B68t19"}),
        ),
    ]
}

/// The request bodies of the page's curl examples, per operation.
fn page_request_examples() -> Vec<(Operation, Value)> {
    let auth =
        json!({"api_token": "GiXwBWWv5g2Fs6QeaTlx", "contextname": "default", "username": "user"});
    let with = |fields: Value| {
        let mut body = auth.clone();
        body.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        body
    };
    vec![
        (Operation::List, auth.clone()),
        (
            Operation::Create,
            with(
                json!({"Name": "Trisul", "Address": "Chennai", "Email": "demo@gmail.com",
                        "PhoneNumber": "1234567890", "AltPhoneNumber": "9999999999", "UserID": "B68t19"}),
            ),
        ),
        (
            Operation::FullUpdate,
            with(
                json!({"Name": "Trisul Network Analyzer", "Address": "India", "Email": "test@gmail.com",
                        "PhoneNumber": "3333333333", "AltPhoneNumber": "5555555555", "UserID": "B68t19"}),
            ),
        ),
        (
            Operation::PartialUpdate,
            with(json!({"Address": "Partially Updated"})),
        ),
        (Operation::Delete, auth),
    ]
}

/// The three "Error Handling" examples, verbatim.
fn page_error_examples() -> Vec<(DocumentedError, Value)> {
    vec![
        (
            DocumentedError::InvalidToken,
            json!({"status": "ERROR", "message": "Invalid API token"}),
        ),
        (
            DocumentedError::InvalidContext,
            json!({"status": "Error", "message": "Invalid Context name - ipdrr"}),
        ),
        (
            DocumentedError::ForbiddenContext,
            json!({"status": "Error", "message": "The user (user) is not allowed to access the context ipdr"}),
        ),
    ]
}

#[test]
fn page_success_examples_validate() {
    assert_valid("customer-list.schema.json", &page_list_example());
    assert_valid("customer-list.schema.json", &json!([]));
    for customer in page_list_example().as_array().unwrap() {
        assert_valid("customer.schema.json", customer);
    }
    for (_, customer) in page_customer_examples() {
        assert_valid("customer.schema.json", &customer);
    }
    // Near misses.
    let mut extra = page_list_example()[0].clone();
    extra["Comment"] = json!("not a customer field");
    assert_invalid("customer.schema.json", &extra);
    let mut missing = page_list_example()[0].clone();
    missing.as_object_mut().unwrap().remove("UserID");
    assert_invalid("customer.schema.json", &missing);
    let mut string_id = page_list_example()[0].clone();
    string_id["id"] = json!("5");
    assert_invalid("customer.schema.json", &string_id);
    assert_invalid("customer-list.schema.json", &page_list_example()[0]);
}

#[test]
fn page_request_examples_validate() {
    for (op, body) in page_request_examples() {
        assert_valid(&request_file(op), &body);
    }
    let auth = page_request_examples()[0].1.clone();
    // Create: UserID and Name suffice, either missing fails.
    let mut minimal = auth.clone();
    minimal["UserID"] = json!("B68t19");
    minimal["Name"] = json!("Trisul");
    assert_valid(&request_file(Operation::Create), &minimal);
    let mut no_name = minimal.clone();
    no_name.as_object_mut().unwrap().remove("Name");
    assert_invalid(&request_file(Operation::Create), &no_name);
    // PUT: every field, so the create minimum is not enough.
    assert_invalid(&request_file(Operation::FullUpdate), &minimal);
    // Every request needs every auth parameter, GET and DELETE included.
    for op in Operation::ALL {
        let (_, body) = page_request_examples()
            .into_iter()
            .find(|(candidate, _)| *candidate == op)
            .unwrap();
        for field in AUTH_FIELDS {
            let mut without = body.clone();
            without.as_object_mut().unwrap().remove(field);
            assert_invalid(&request_file(op), &without);
        }
    }
    // Documented fields are strings: null is not documented.
    let mut null_address = auth;
    null_address["Address"] = Value::Null;
    assert_invalid(&request_file(Operation::PartialUpdate), &null_address);
}

#[test]
fn page_error_examples_validate_against_their_schema_only() {
    for (error, example) in page_error_examples() {
        for other in DocumentedError::ALL {
            let file = error_file(other);
            if other == error {
                assert_valid(&file, &example);
            } else {
                assert_invalid(&file, &example);
            }
        }
        // The contract's own envelope for the page's values is the page's example.
        let envelope = match error {
            DocumentedError::InvalidToken => error.envelope("user", "default"),
            DocumentedError::InvalidContext => error.envelope("user", "ipdrr"),
            DocumentedError::ForbiddenContext => error.envelope("user", "ipdr"),
        };
        assert_eq!(serde_json::to_value(envelope).unwrap(), example);
    }
    let token = error_file(DocumentedError::InvalidToken);
    assert_invalid(
        &token,
        &json!({"status": contract::STATUS_CONTEXT_ERROR, "message": contract::MESSAGE_INVALID_TOKEN}),
    );
    assert_invalid(
        &token,
        &json!({"status": "ERROR", "message": "Invalid API Token"}),
    );
    assert_invalid(&token, &json!({"status": "ERROR"}));
    let context = error_file(DocumentedError::InvalidContext);
    assert_invalid(
        &context,
        &json!({"status": "ERROR", "message": "Invalid Context name - ipdrr"}),
    );
    assert_invalid(
        &context,
        &json!({"status": "Error", "message": "Invalid context name - ipdrr"}),
    );
    let forbidden = error_file(DocumentedError::ForbiddenContext);
    assert_valid(
        &forbidden,
        &serde_json::to_value(DocumentedError::ForbiddenContext.envelope("a.b (c)*", "ctx [1] $x"))
            .unwrap(),
    );
    assert_invalid(
        &forbidden,
        &json!({"status": "Error", "message": "The user user is not allowed to access the context ipdr"}),
    );
    assert_invalid(
        &forbidden,
        &json!({"status": "Error", "message": "xThe user (user) is not allowed to access the context ipdr"}),
    );
}

// (d) Every scenario file validates against the committed scenario schema.

fn json_files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()));
    for entry in entries {
        let path = entry.expect("readable directory entry").path();
        if path.is_dir() {
            json_files_under(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "json") {
            out.push(path);
        }
    }
}

#[test]
fn every_spec_file_validates_against_the_scenario_schema() {
    let specs = crate_dir().join("specs");
    assert!(specs.is_dir(), "{} is missing", specs.display());
    let schema_path = schemas_dir().join(SCENARIO_SCHEMA_FILE);
    let schema_text = std::fs::read_to_string(&schema_path).unwrap_or_else(|error| {
        panic!(
            "{}: {error}; regenerate with `{REGENERATE_COMMAND}`",
            schema_path.display()
        )
    });
    let validator =
        validator(&serde_json::from_str(&schema_text).expect("scenario schema is JSON"));

    let mut files = Vec::new();
    json_files_under(&specs, &mut files);
    files.sort();
    let mut failures = Vec::new();
    for file in &files {
        let shown = file.strip_prefix(crate_dir()).unwrap_or(file).display();
        let text = std::fs::read_to_string(file).expect("readable spec file");
        let instance: Value = match serde_json::from_str(&text) {
            Ok(instance) => instance,
            Err(error) => {
                failures.push(format!("{shown}: not JSON: {error}"));
                continue;
            }
        };
        let schema_errors = errors(&validator, &instance);
        let serde_verdict = serde_json::from_value::<Scenario>(instance.clone());
        if !schema_errors.is_empty() {
            failures.push(format!(
                "{shown}: does not match {SCENARIO_SCHEMA_FILE}:\n{schema_errors}"
            ));
        } else if let Err(error) = serde_verdict {
            failures.push(format!(
                "{shown}: matches {SCENARIO_SCHEMA_FILE} but does not load as a Scenario ({error}): the schema is too loose"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scenario files fail:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn scenario_schema_accepts_what_the_type_writes_and_rejects_unknown_keys() {
    let validator = validator(&generated(SCENARIO_SCHEMA_FILE));
    let scenario: Scenario = serde_json::from_value(json!({
        "name": "errors::invalid_token::list",
        "level": "documented",
        "citation": "Error Handling › Invalid API Token",
        "steps": [{
            "name": "list with an invalid token",
            "request": {"method": "GET", "path": "/api/ipdrcustomers", "auth": {"explicit": {"api_token": "nope"}}},
            "expect": {"body": {"$error": "invalid_token"}},
            "capture": {"id": "/id"}
        }]
    }))
    .expect("a valid scenario");
    let written = serde_json::to_value(&scenario).unwrap();
    let problems = errors(&validator, &written);
    assert!(problems.is_empty(), "{written}\n{problems}");

    let mut unknown = written.clone();
    unknown["steps"][0]["request"]["headers"] = json!({});
    assert!(!validator.is_valid(&unknown));
    let mut bad_level = written.clone();
    bad_level["level"] = json!("mandatory");
    assert!(!validator.is_valid(&bad_level));
    let mut bad_method = written;
    bad_method["steps"][0]["request"]["method"] = json!("HEAD");
    assert!(!validator.is_valid(&bad_method));
}

// (e) The OpenAPI document: five operations, bodies on GET and DELETE, refs resolve.

fn path_of(op: Operation) -> String {
    if op.addresses_one_customer() {
        contract::customer_path("{UserID}")
    } else {
        contract::COLLECTION_PATH.to_string()
    }
}

#[test]
fn openapi_has_every_operation_with_a_json_request_body() {
    let openapi = generated(OPENAPI_FILE);
    assert_eq!(openapi["openapi"], OPENAPI_VERSION);
    assert_eq!(openapi["jsonSchemaDialect"], JSON_SCHEMA_DIALECT);
    assert_eq!(openapi["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(openapi["servers"][0]["url"], "http://{SERVER_IP}:{PORT}");
    for variable in ["SERVER_IP", "PORT"] {
        assert!(openapi["servers"][0]["variables"][variable]["default"].is_string());
    }

    let methods = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let mut found = BTreeSet::new();
    for (path, item) in openapi["paths"].as_object().unwrap() {
        for method in methods {
            if item.get(method).is_some() {
                found.insert((path.clone(), method.to_string()));
            }
        }
    }
    let expected: BTreeSet<(String, String)> = Operation::ALL
        .into_iter()
        .map(|op| (path_of(op), op.method().to_ascii_lowercase()))
        .collect();
    assert_eq!(found, expected);
    assert_eq!(found.len(), 5);

    for op in Operation::ALL {
        let operation = &openapi["paths"][path_of(op)][op.method().to_ascii_lowercase()];
        let body = &operation["requestBody"];
        assert!(body.is_object(), "{} has no requestBody", op.method());
        assert_eq!(body["required"], true);
        let reference = body["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no JSON body schema", op.method()));
        let title = generated(&request_file(op))["title"].clone();
        assert_eq!(
            reference,
            format!("#/components/schemas/{}", title.as_str().unwrap())
        );
        let description = operation["description"].as_str().unwrap();
        assert!(description.contains(op.citation()), "{description}");
        assert_eq!(
            operation["summary"],
            op.citation().rsplit(" › ").next().unwrap()
        );

        let response = &operation["responses"]["200"];
        let text = response["description"].as_str().unwrap();
        assert!(text.contains("HTTP 200"), "{text}");
        let any_of = response["content"]["application/json"]["schema"]["anyOf"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: no anyOf response", op.method()));
        // Success, the documented errors, and the envelope where the page is silent.
        assert_eq!(any_of.len(), 1 + DocumentedError::ALL.len() + 1);
        assert_eq!(
            any_of.last().unwrap()["$ref"],
            "#/components/schemas/UnspecifiedError"
        );
        let default = &operation["responses"]["default"];
        assert!(
            default["description"]
                .as_str()
                .is_some_and(|text| text.contains("any HTTP status")),
            "{}: no default response for the statuses the page leaves open",
            op.method()
        );
        assert_eq!(default["content"]["*/*"]["schema"], json!({}));
    }
    let get = &openapi["paths"][contract::COLLECTION_PATH]["get"];
    let delete = &openapi["paths"][contract::customer_path("{UserID}")]["delete"];
    assert!(get["requestBody"].is_object() && delete["requestBody"].is_object());

    let parameters = &openapi["paths"][contract::customer_path("{UserID}")]["parameters"];
    assert_eq!(parameters[0]["name"], "UserID");
    assert_eq!(parameters[0]["in"], "path");
    assert_eq!(parameters[0]["required"], true);
}

#[test]
fn every_openapi_ref_resolves_inside_the_document() {
    let openapi = generated(OPENAPI_FILE);
    let refs = schema::refs_in(&openapi);
    assert!(refs.len() > 20, "suspiciously few $refs: {refs:?}");
    for target in refs {
        assert!(
            target.starts_with("#/components/schemas/"),
            "{target} points outside components/schemas"
        );
        assert!(
            openapi.pointer(&target[1..]).is_some(),
            "{target} does not resolve"
        );
    }
    let text = schema::render(&openapi);
    assert!(!text.contains("$defs"), "openapi.json still has $defs");
    assert!(
        !text.contains("\"$schema\""),
        "openapi.json components keep $schema"
    );
}

#[test]
fn openapi_components_are_the_generated_schemas() {
    let openapi = generated(OPENAPI_FILE);
    let components = openapi["components"]["schemas"].as_object().unwrap();
    for (name, document) in json_schemas() {
        if name == SCENARIO_SCHEMA_FILE {
            continue;
        }
        let title = document["title"].as_str().unwrap();
        let component = components
            .get(title)
            .unwrap_or_else(|| panic!("{title} ({name}) is not a component"));
        // `items` holds a rewritten $ref: checked below.
        for key in [
            "description",
            "type",
            "properties",
            "required",
            "additionalProperties",
        ] {
            assert_eq!(component.get(key), document.get(key), "{title}: {key}");
        }
    }
    assert_eq!(
        components["CustomerList"]["items"]["$ref"],
        "#/components/schemas/Customer"
    );
}

/// `schema`, made standalone by carrying the document's components along.
fn standalone(openapi: &Value, schema: &Value) -> jsonschema::Validator {
    let mut schema = schema.clone();
    schema["$schema"] = json!(JSON_SCHEMA_DIALECT);
    schema["components"] = openapi["components"].clone();
    validator(&schema)
}

/// The schema of `op`'s HTTP 200 response, made standalone.
fn response_validator(openapi: &Value, op: Operation) -> jsonschema::Validator {
    standalone(
        openapi,
        &openapi["paths"][path_of(op)][op.method().to_ascii_lowercase()]["responses"]["200"]
            ["content"]["application/json"]["schema"],
    )
}

/// A component schema, made standalone.
fn component_validator(openapi: &Value, name: &str) -> jsonschema::Validator {
    standalone(
        openapi,
        &json!({ "$ref": format!("#/components/schemas/{name}") }),
    )
}

#[test]
fn page_examples_validate_against_the_openapi_responses() {
    let openapi = generated(OPENAPI_FILE);
    let list = response_validator(&openapi, Operation::List);
    let problems = errors(&list, &page_list_example());
    assert!(problems.is_empty(), "{problems}");
    for (op, customer) in page_customer_examples() {
        let validator = response_validator(&openapi, op);
        let problems = errors(&validator, &customer);
        assert!(problems.is_empty(), "{}: {problems}", op.method());
        assert!(!validator.is_valid(&page_list_example()));
    }
    assert!(!list.is_valid(&page_customer_examples()[0].1));
    for op in Operation::ALL {
        let validator = response_validator(&openapi, op);
        for (error, example) in page_error_examples() {
            let problems = errors(&validator, &example);
            assert!(
                problems.is_empty(),
                "{}: {error:?} example: {problems}",
                op.method()
            );
        }
        // The page is silent on many refusals, so the 200 response takes any
        // {status, message}; each documented envelope stays exact.
        assert!(validator.is_valid(&json!({"status": "Error", "message": "Malformed JSON body"})));
        assert!(!validator.is_valid(&json!({"status": "Error"})));
        assert!(!validator.is_valid(&json!({"message": 5, "status": "Error"})));
    }
    let token = component_validator(&openapi, "ErrorInvalidToken");
    assert!(!token.is_valid(&json!({"status": "Error", "message": "Invalid API token"})));
}

/// A message that echoes a context name ending in a newline is still the
/// documented envelope: ECMA-262's `.` does not match a line terminator.
#[test]
fn message_patterns_take_any_echoed_text_newlines_included() {
    let openapi = generated(OPENAPI_FILE);
    for (error, username, context) in [
        (DocumentedError::InvalidContext, "user", "ipdrr\n"),
        (DocumentedError::InvalidContext, "user", "a\r\nb\u{2028}"),
        (DocumentedError::ForbiddenContext, "us\ner", "ipdr\n"),
    ] {
        let envelope = serde_json::to_value(error.envelope(username, context)).unwrap();
        assert_valid(&error_file(error), &envelope);
        let name = generated(&error_file(error))["title"].clone();
        let component = component_validator(&openapi, name.as_str().unwrap());
        let problems = errors(&component, &envelope);
        assert!(problems.is_empty(), "{envelope}: {problems}");
    }
}

/// Success answers as the conformant flavours give them: optional fields
/// null or absent, members the page does not show.
#[test]
fn customer_answers_allow_what_the_page_leaves_open() {
    let openapi = generated(OPENAPI_FILE);
    let answer = component_validator(&openapi, "CustomerAnswer");
    let page = page_customer_examples()[0].1.clone();
    assert!(answer.is_valid(&page));
    let mut nulls = page.clone();
    nulls["Address"] = Value::Null;
    nulls["Email"] = Value::Null;
    assert!(answer.is_valid(&nulls));
    let mut absent = page.clone();
    absent.as_object_mut().unwrap().remove("PhoneNumber");
    absent["created_at"] = json!("2024-01-01T00:00:00Z");
    assert!(answer.is_valid(&absent));
    for field in ["id", "UserID", "Name"] {
        let mut missing = page.clone();
        missing.as_object_mut().unwrap().remove(field);
        assert!(!answer.is_valid(&missing), "{field} may not be absent");
        let mut null = page.clone();
        null[field] = Value::Null;
        assert!(!answer.is_valid(&null), "{field} may not be null");
    }
    let list = component_validator(&openapi, "CustomerListAnswer");
    assert!(list.is_valid(&json!([nulls, absent])));
    assert!(!list.is_valid(&page));
}

/// Every operation shows examples taken from the reference profile: a
/// success and the three documented errors at least, and each request and
/// answer fits the schemas of its operation.
#[test]
fn every_operation_has_examples_that_fit_its_schemas() {
    let openapi = generated(OPENAPI_FILE);
    for op in Operation::ALL {
        let operation = &openapi["paths"][path_of(op)][op.method().to_ascii_lowercase()];
        let requests = operation["requestBody"]["content"]["application/json"]["examples"]
            .as_object()
            .unwrap_or_else(|| panic!("{}: no request examples", op.method()));
        let request_schema = standalone(
            &openapi,
            &operation["requestBody"]["content"]["application/json"]["schema"],
        );
        for (key, example) in requests {
            let problems = errors(&request_schema, &example["value"]);
            assert!(
                problems.is_empty(),
                "{} request {key}: {problems}",
                op.method()
            );
            assert!(example["summary"]
                .as_str()
                .is_some_and(|text| text.contains("step")));
        }
        let answers = operation["responses"]["200"]["content"]["application/json"]["examples"]
            .as_object()
            .unwrap_or_else(|| panic!("{}: no response examples", op.method()));
        assert_eq!(
            requests.len(),
            answers.len(),
            "{}: one answer per request",
            op.method()
        );
        let responses = response_validator(&openapi, op);
        let success = component_validator(
            &openapi,
            if op == Operation::List {
                "CustomerList"
            } else {
                "Customer"
            },
        );
        let mut shown = BTreeSet::new();
        for (key, example) in answers {
            let value = &example["value"];
            let problems = errors(&responses, value);
            assert!(
                problems.is_empty(),
                "{} answer {key}: {problems}",
                op.method()
            );
            if success.is_valid(value) {
                shown.insert("success".to_string());
            }
            for error in DocumentedError::ALL {
                let name = generated(&error_file(error))["title"].clone();
                if component_validator(&openapi, name.as_str().unwrap()).is_valid(value) {
                    shown.insert(format!("{error:?}"));
                }
            }
        }
        assert_eq!(
            shown,
            [
                "success",
                "InvalidToken",
                "InvalidContext",
                "ForbiddenContext"
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            "{}: the success and every documented error are shown",
            op.method()
        );
    }
}

/// The examples are the reference profile's answers, filled with the page's values.
#[test]
fn examples_come_from_the_reference_profile() {
    let examples = examples();
    let create = examples
        .iter()
        .find(|example| example.summary.contains("crud::create_all_fields, step 1"))
        .expect("the create example");
    assert_eq!(
        create.response,
        json!({"id": 1, "Name": "Trisul", "Address": "Chennai", "Email": "demo@gmail.com",
               "PhoneNumber": "1234567890", "AltPhoneNumber": "9999999999", "UserID": "B68t19"})
    );
    assert_eq!(create.request["api_token"], "GiXwBWWv5g2Fs6QeaTlx");
    assert_eq!(create.request["UserID"], "B68t19");
    let forbidden = examples
        .iter()
        .find(|example| {
            example
                .summary
                .contains("errors::forbidden_context::delete")
        })
        .expect("the forbidden-context delete example");
    assert_eq!(forbidden.path_user_id.as_deref(), Some("B68t19"));
    assert_eq!(
        forbidden.response,
        json!({"status": "Error", "message": "The user (user) is not allowed to access the context ipdr"})
    );
    let text =
        serde_json::to_string(&examples.iter().map(|e| &e.response).collect::<Vec<_>>()).unwrap();
    // The fixture's token never leaves the fixture.
    assert!(!text.contains("Qm7RzT2vXk9LpW4sNa8c"));
}
