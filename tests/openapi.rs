//! The API's OpenAPI document against the server that serves it: valid
//! OpenAPI 3.1 by an independent validator, every operation answered by
//! its handler with a documented status, the token scopes it names
//! enforced, every request body refusing what the document says it
//! refuses, and its HTML page naming every operation without a script.
//! (That the router has no route outside the document is checked from
//! the source, in tests/architecture.rs.)

mod common;

use std::{collections::BTreeSet, path::PathBuf, process::Command};

use common::{TestDb, TestServer, json_of};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

/// The fallback's answer for a path the API does not have.
const NO_SUCH_ROUTE: &str = "no such API route";

async fn served_document(server: &TestServer) -> Value {
    let response = server
        .http
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "public, no token");
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    response.json().await.unwrap()
}

/// One operation of the document.
struct Operation {
    method: Method,
    path: String,
    body: Value,
}

impl Operation {
    /// The least scope it needs, or `None` if it is public.
    fn scope(&self) -> Option<String> {
        self.body["security"]
            .as_array()?
            .iter()
            .find_map(|requirement| requirement["bearer"].as_array())
            .map(|scopes| scopes[0].as_str().unwrap().to_string())
    }

    /// The path with each placeholder filled with a made-up value of its
    /// parameter's type.
    fn url_path(&self) -> String {
        let mut path = self.path.clone();
        for parameter in self.body["parameters"].as_array().into_iter().flatten() {
            if parameter["in"] != "path" {
                continue;
            }
            let value = match parameter["schema"]["type"].as_str() {
                Some("integer") => "987654",
                _ => "made-up",
            };
            path = path.replace(
                &format!("{{{}}}", parameter["name"].as_str().unwrap()),
                value,
            );
        }
        assert!(
            !path.contains('{'),
            "every placeholder is a parameter: {path}"
        );
        path
    }

    fn documents(&self, status: StatusCode) -> bool {
        self.body["responses"]
            .get(status.as_str())
            .is_some_and(|r| r.is_object())
    }

    fn body_schema<'a>(&'a self, document: &'a Value) -> Option<&'a Value> {
        let schema = self.body["requestBody"]["content"]["application/json"].get("schema")?;
        Some(resolve(schema, document))
    }

    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

fn resolve<'a>(schema: &'a Value, document: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.strip_prefix("#/components/schemas/").unwrap();
            &document["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn operations(document: &Value) -> Vec<Operation> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (name, method) in [
            ("get", Method::GET),
            ("put", Method::PUT),
            ("post", Method::POST),
            ("delete", Method::DELETE),
            ("patch", Method::PATCH),
            ("head", Method::HEAD),
            ("options", Method::OPTIONS),
            ("trace", Method::TRACE),
        ] {
            if let Some(body) = item.get(name) {
                found.push(Operation {
                    method,
                    path: path.clone(),
                    body: body.clone(),
                });
            }
        }
    }
    assert!(found.len() > 30, "the whole API is documented");
    found
}

/// The body of every error: `{"error": "…"}` and, on validation errors,
/// `"field"`; nothing else.
fn assert_error_body(body: &Value, context: &str) {
    let object = body
        .as_object()
        .unwrap_or_else(|| panic!("{context}: {body}"));
    assert!(object["error"].is_string(), "{context}: {body}");
    for (key, value) in object {
        match key.as_str() {
            "error" => {}
            "field" => assert!(value.is_string(), "{context}: {body}"),
            other => panic!("{context}: unexpected key {other} in {body}"),
        }
    }
}

async fn call(
    server: &TestServer,
    operation: &Operation,
    token: Option<&str>,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut request = server
        .http
        .request(operation.method.clone(), server.url(&operation.url_path()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    json_of(request.send().await.unwrap()).await
}

/// A token with `scope`, stored directly.
async fn token(server: &TestServer, scope: &str) -> String {
    let token = broadside::admin::auth::new_token();
    server
        .store
        .create_token(
            scope,
            &broadside::admin::auth::hash_token(&token),
            scope,
            None,
        )
        .await
        .unwrap();
    token
}

/// Runs `python3 -m openapi_spec_validator` on the document, written to
/// `target/artefacts/openapi.json`. Without the module the check is
/// skipped, except in CI (`CI` set), where that is a failure.
fn validate_independently(document: &Value) {
    let available = Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .status()
        .is_ok_and(|status| status.success());
    if !available {
        common::skip_unless_ci("openapi-spec-validator is not installed");
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/artefacts");
    std::fs::create_dir_all(&dir).unwrap();
    // Both backends' tests write it: each writes its own file and renames
    // it into place whole.
    let own = dir.join(format!("openapi-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&own, serde_json::to_string_pretty(document).unwrap()).unwrap();
    let output = Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&own)
        .output()
        .unwrap();
    let target = dir.join("openapi.json");
    std::fs::rename(&own, &target).unwrap();
    assert!(
        output.status.success(),
        "openapi-spec-validator refuses {}:\n{}{}",
        target.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

both_backends!(the_document_is_valid_openapi_3_1, |db: TestDb| async move {
    let server = TestServer::start(&db).await;
    let document = served_document(&server).await;
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        document["openapi"]
    );
    // Paths are the URLs a client calls, from this instance's base URL.
    assert_eq!(
        document["servers"][0]["url"],
        server.base.as_str().trim_end_matches('/')
    );
    validate_independently(&document);

    // Without the instance's address, the CLI's copy is the same document.
    let mut generated = serde_json::to_value(broadside::admin::openapi::openapi()).unwrap();
    generated["servers"] = document["servers"].clone();
    assert_eq!(generated, document);

    // ErrorBody is the shape of every error: `error` required, `field` not.
    let error_body = &document["components"]["schemas"]["ErrorBody"];
    assert_eq!(error_body["required"], json!(["error"]), "{error_body}");
    assert_eq!(error_body["properties"]["error"]["type"], "string");
    assert_eq!(error_body["properties"]["field"]["type"], "string");

    let mut ids = BTreeSet::new();
    for operation in operations(&document) {
        let name = operation.name();
        assert!(operation.path.starts_with("/api/v1/"), "{name}");
        let id = operation.body["operationId"].as_str().unwrap().to_string();
        assert!(ids.insert(id.clone()), "{name}: operationId {id} twice");
        assert!(operation.body["tags"][0].is_string(), "{name}: a tag");
        assert!(
            !operation.body["summary"].as_str().unwrap_or("").is_empty(),
            "{name}: a summary"
        );
        let responses = operation.body["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{name}: a success"
        );
        for (status, response) in responses {
            let schema = &response["content"]["application/json"]["schema"]["$ref"];
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    schema, "#/components/schemas/ErrorBody",
                    "{name} {status}: an ErrorBody"
                );
            }
        }
        if operation.scope().is_some() {
            for status in ["401", "500"] {
                assert!(responses.contains_key(status), "{name}: {status}");
            }
        }
        for parameter in operation.body["parameters"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert!(
                !parameter["description"].as_str().unwrap_or("").is_empty(),
                "{name}: parameter {} described",
                parameter["name"]
            );
        }
    }
    // Every field of every request body says what it is.
    for operation in operations(&document) {
        let Some(schema) = operation.body_schema(&document) else {
            continue;
        };
        for (field, property) in schema["properties"].as_object().unwrap() {
            assert!(
                property["description"].is_string(),
                "{}: {field} has no description",
                operation.name()
            );
        }
    }
});

both_backends!(
    every_documented_operation_is_answered_by_its_handler,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        let document = served_document(&server).await;
        let read = token(&server, "read").await;
        let editor = token(&server, "editor").await;
        let operations = operations(&document);
        for operation in &operations {
            let name = operation.name();
            // A JSON body that every body type refuses without creating
            // anything (a required field is missing, or the target made up).
            let body = operation.body.get("requestBody").map(|_| json!({}));
            let (status, answer) =
                call(&server, operation, Some(&server.token), body.as_ref()).await;
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{name}");
            if status.is_client_error() || status.is_server_error() {
                assert_ne!(
                    answer["error"], NO_SUCH_ROUTE,
                    "{name} reached the fallback"
                );
                assert_error_body(&answer, &name);
            }
            assert!(
                operation.documents(status),
                "{name} answered {status}, which the document does not list: {answer}"
            );

            // The scope the document names is the one enforced.
            let scope = operation.scope();
            for (token, rank) in [(None, 0), (Some(&read), 1), (Some(&editor), 2)] {
                let needed = match scope.as_deref() {
                    None => 0,
                    Some("read") => 1,
                    Some("editor") => 2,
                    Some("admin") => 3,
                    Some(other) => panic!("{name}: scope {other}"),
                };
                let (status, answer) =
                    call(&server, operation, token.map(String::as_str), body.as_ref()).await;
                let expected = match (token, rank >= needed) {
                    (_, true) => None,
                    (None, false) => Some(StatusCode::UNAUTHORIZED),
                    (Some(_), false) => Some(StatusCode::FORBIDDEN),
                };
                match expected {
                    Some(expected) => {
                        assert_eq!(status, expected, "{name} with {rank}: {answer}");
                        assert_error_body(&answer, &name);
                        assert!(operation.documents(status), "{name}: {status} documented");
                    }
                    None => assert!(
                        status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                        "{name} with {rank} needs only {scope:?}: {status} {answer}"
                    ),
                }
            }
        }
        assert!(
            operations
                .iter()
                .any(|o| o.scope().as_deref() == Some("admin")),
            "domain blocks need admin"
        );

        // The probe can fail: a path the document does not have reaches
        // the fallback, and a method it does not list is refused.
        let (status, answer) = server.api(Method::GET, "/made-up-things", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(answer["error"], NO_SUCH_ROUTE);
        assert_error_body(&answer, "fallback");
        let response = server
            .http
            .put(server.url("/api/v1/statements"))
            .bearer_auth(&server.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert!(
            !document["paths"]["/api/v1/statements"]
                .as_object()
                .unwrap()
                .contains_key("put")
        );
    }
);

/// A value of `schema`'s type that the server's types accept.
fn sample(schema: &Value, document: &Value) -> Value {
    let schema = resolve(schema, document);
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds.iter().find(|k| *k != "null").cloned().unwrap(),
        other => other.clone(),
    };
    match kind.as_str() {
        Some("string") => json!("x"),
        Some("integer") => json!(1),
        Some("boolean") => json!(false),
        Some("array") => json!([sample(&schema["items"], document)]),
        Some("object") => {
            let mut object = Map::new();
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap();
                object.insert(name.into(), sample(&schema["properties"][name], document));
            }
            Value::Object(object)
        }
        _ => match schema["oneOf"].as_array() {
            Some(parts) => sample(
                parts.iter().find(|p| p["type"] != "null").unwrap(),
                document,
            ),
            None => panic!("no sample for {schema}"),
        },
    }
}

both_backends!(
    request_bodies_refuse_what_the_document_refuses,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        let document = served_document(&server).await;
        let mut bodies = BTreeSet::new();
        for operation in operations(&document) {
            let name = operation.name();
            let Some(schema) = operation.body_schema(&document) else {
                continue;
            };
            bodies.insert(
                operation.body["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
            assert_eq!(
                schema["additionalProperties"], false,
                "{name}: the document says unknown fields are refused"
            );
            for status in [400, 413, 415, 422] {
                assert!(
                    operation.documents(StatusCode::from_u16(status).unwrap()),
                    "{name}: {status}"
                );
            }

            // An unknown field, alone or after every required one (the
            // document's types for those are the server's).
            let required = sample(schema, &document);
            let mut with_unknown = required.clone();
            with_unknown["zz_unknown"] = json!(true);
            for body in [json!({"zz_unknown": true}), with_unknown] {
                let (status, answer) =
                    call(&server, &operation, Some(&server.token), Some(&body)).await;
                assert_eq!(
                    status,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "{name} {body}: {answer}"
                );
                assert_error_body(&answer, &name);
                assert_eq!(answer["field"], "zz_unknown", "{name}: {answer}");
            }
            // The required fields alone are a body of the right shape: any
            // refusal is about a value, not a missing or mistyped field.
            let (status, answer) =
                call(&server, &operation, Some(&server.token), Some(&required)).await;
            let message = answer["error"].as_str().unwrap_or("");
            for shape in ["missing field", "unknown field", "invalid type"] {
                assert!(
                    !message.contains(shape),
                    "{name} {required}: {status} {answer}"
                );
            }
            assert!(operation.documents(status), "{name}: {status} {answer}");

            // Not JSON, or not said to be JSON.
            let url = server.url(&operation.url_path());
            for (content_type, text, expected) in [
                ("application/json", "{not json", StatusCode::BAD_REQUEST),
                ("text/plain", "{}", StatusCode::UNSUPPORTED_MEDIA_TYPE),
            ] {
                let response = server
                    .http
                    .request(operation.method.clone(), &url)
                    .bearer_auth(&server.token)
                    .header("content-type", content_type)
                    .body(text)
                    .send()
                    .await
                    .unwrap();
                let (status, answer) = json_of(response).await;
                assert_eq!(status, expected, "{name} {content_type}: {answer}");
                assert_error_body(&answer, &name);
            }
        }
        let expected: BTreeSet<String> = [
            "AddSignatory",
            "Changes",
            "Draft",
            "NewBlock",
            "NewProfile",
            "Pin",
            "ProfileChanges",
        ]
        .iter()
        .map(|name| format!("#/components/schemas/{name}"))
        .collect();
        assert!(
            bodies.is_superset(&expected),
            "every body type was tried: {bodies:?}"
        );
    }
);

both_backends!(
    the_docs_page_shows_every_operation,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        let document = served_document(&server).await;
        let response = server
            .http
            .get(server.url("/api/v1/docs"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "public, no token");
        let headers = response.headers().clone();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(!csp.contains("script-src"), "{csp}");
        let html = response.text().await.unwrap();
        assert!(!html.to_lowercase().contains("<script"), "no script");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/artefacts");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("api-docs.html"), &html).unwrap();

        let page = scraper::Html::parse_document(&html);
        let headings: BTreeSet<String> = page
            .select(&scraper::Selector::parse("h3[id^=op-] code").unwrap())
            .map(|code| code.text().collect::<String>())
            .collect();
        let text: String = page.root_element().text().collect();
        for operation in operations(&document) {
            let name = operation.name();
            assert!(headings.contains(&name), "{name} has its section");
            assert!(text.contains(&operation.path), "{name}");
            if let Some(summary) = operation.body["summary"].as_str() {
                assert!(text.contains(summary), "{name}: {summary}");
            }
        }
        // Every body field and every schema is shown.
        for (name, schema) in document["components"]["schemas"].as_object().unwrap() {
            let selector = scraper::Selector::parse(&format!("#schema-{name}")).unwrap();
            assert!(page.select(&selector).next().is_some(), "schema {name}");
            for field in schema["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(f, _)| f)
            {
                assert!(text.contains(field.as_str()), "{name}.{field}");
            }
        }
        // Links inside the page lead somewhere on it.
        let ids: BTreeSet<String> = page
            .select(&scraper::Selector::parse("[id]").unwrap())
            .map(|e| e.value().attr("id").unwrap().to_string())
            .collect();
        for link in page.select(&scraper::Selector::parse("a[href^='#']").unwrap()) {
            let target = &link.value().attr("href").unwrap()[1..];
            assert!(ids.contains(target), "#{target}");
        }
    }
);
