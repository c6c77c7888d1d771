//! The API's OpenAPI 3.1 document and its page for people.
//!
//! The document is generated, never written by hand: each handler's
//! `#[utoipa::path]` gives its operation, the services' request types and
//! the views give the schemas (`utoipa::ToSchema`, `IntoParams`), and
//! `admin::api` registers handler and operation together with `routes!`.
//! What holds for every operation is added here in one pass ([`complete`]):
//! the token each one needs, read from the scope rule itself
//! ([`Scope::allows`]), with its 401 and 403, and the 500 any of them may
//! answer. Errors always have the shape of [`ErrorBody`].
//!
//! `GET /api/v1/openapi.json` serves it (public: it holds no secrets),
//! with this instance as its server; `GET /api/v1/docs` renders the same
//! document as one HTML page, without scripts.

use std::{collections::BTreeMap, sync::LazyLock};

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, Method, header},
    response::{IntoResponse, Response},
};
use minijinja::Value as Context;
use serde::Serialize;
use serde_json::Value;
use utoipa::{
    IntoResponses, OpenApi as _,
    openapi::{
        ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder, Server,
        path::{Operation, PathItem},
        security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme},
    },
};

use super::{BASE, auth::Scope};
use crate::{
    error::{AppError, ErrorBody},
    state::AppState,
};

/// The name of the bearer-token security scheme in the document.
pub const BEARER: &str = "bearer";

/// What the document says before any operation: title, tags, the error
/// schema.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Broadside admin API",
        description = "Write, publish and follow joint statements; manage the organisations that \
                       sign them, their followers, moderation and domain blocks. JSON in and out. \
                       Every operation but this document and its page needs a bearer token \
                       (`broadside token create`), whose scope must allow it. Every error is an \
                       `ErrorBody`.",
        license(name = "AGPL-3.0-only", identifier = "AGPL-3.0-only"),
    ),
    tags(
        (name = "organisations", description = "The organisations that sign statements: each a fediverse account."),
        (name = "followers", description = "Who follows an organisation, and follow requests awaiting an editor."),
        (name = "statements", description = "Joint statements, from draft to deletion, their signatories and pins."),
        (name = "imports", description = "Statements brought in from an archive, published at their original date and sent to nobody."),
        (name = "media", description = "Images for statements and profiles: uploaded, re-encoded without metadata, described with alt text."),
        (name = "deliveries", description = "How the delivery of activities to other servers is going."),
        (name = "moderation", description = "Reactions to statements, replies awaiting moderation, quotes, reports and remote blocks."),
        (name = "domain-blocks", description = "Servers we refuse to federate with (admin tokens only)."),
        (name = "documentation", description = "This document and its page: no token needed."),
    ),
    components(schemas(ErrorBody)),
)]
struct Base;

/// The document's start, before the operations are added.
pub(super) fn base() -> OpenApi {
    Base::openapi()
}

/// The API's OpenAPI document, every path absolute (below `/api/v1`) and
/// no `servers`: what `GET /api/v1/openapi.json` serves, less the
/// instance's address. Built from the same list as the router.
pub fn openapi() -> OpenApi {
    super::router_and_document().1
}

/// The document as this instance serves it: `servers` is its base URL.
pub fn served(base_url: &url::Url) -> OpenApi {
    static DOCUMENT: LazyLock<OpenApi> = LazyLock::new(openapi);
    let mut document = DOCUMENT.clone();
    document.servers = Some(vec![Server::new(base_url.as_str().trim_end_matches('/'))]);
    document
}

/// Adds what every operation shares: the bearer scheme; on each operation
/// not marked public (an explicit empty `security`), the least scope that
/// [`Scope::allows`] it, 401, 403 where a weaker token is refused, and 500.
pub(super) fn complete(document: &mut OpenApi) {
    let components = document.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        BEARER.into(),
        RefOr::T(SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("bst_…")
                .description(Some(
                    "An admin token made with `broadside token create --scope read|editor|admin`. \
                     Scopes: `read` may only GET; `editor` may also write statements, \
                     organisations, followers and moderation, but not domain blocks; `admin` \
                     may do everything. Each operation names the least scope it needs.",
                ))
                .build(),
        )),
    );
    for (path, item) in document.paths.paths.iter_mut() {
        let below = path.strip_prefix(BASE).unwrap_or(path);
        for (method, operation) in operations(item) {
            if operation.security.is_some() {
                continue;
            }
            let least = [Scope::Read, Scope::Editor, Scope::Admin]
                .into_iter()
                .find(|scope| scope.allows(&method, below))
                .unwrap_or(Scope::Admin);
            operation.security = Some(vec![SecurityRequirement::new(BEARER, [least.name()])]);
            let responses = &mut operation.responses.responses;
            responses.entry("401".into()).or_insert_with(|| {
                error("No `Authorization: Bearer` token, or one that is unknown or expired.")
            });
            if least != Scope::Read {
                responses.entry("403".into()).or_insert_with(|| {
                    error(&format!(
                        "The token's scope does not allow this: it needs `{}`.",
                        least.name()
                    ))
                });
            }
            responses
                .entry("500".into())
                .or_insert_with(|| error("Something failed on our side (logged, not shown)."));
        }
    }
}

/// Every operation of a path with its method.
fn operations(item: &mut PathItem) -> Vec<(Method, &mut Operation)> {
    [
        (Method::GET, &mut item.get),
        (Method::PUT, &mut item.put),
        (Method::POST, &mut item.post),
        (Method::DELETE, &mut item.delete),
        (Method::OPTIONS, &mut item.options),
        (Method::HEAD, &mut item.head),
        (Method::PATCH, &mut item.patch),
        (Method::TRACE, &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_mut().map(|op| (method, op)))
    .collect()
}

/// A response with an [`ErrorBody`].
fn error(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

/// What `ApiJson` answers for a body it cannot take; on every operation
/// with a JSON body.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub(super) enum BodyRejected {
    /// The body is not JSON.
    #[response(status = 400)]
    NotJson(ErrorBody),
    /// The body is larger than `max_admin_body_bytes`.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// The body is not sent as `Content-Type: application/json`.
    #[response(status = 415)]
    NotJsonType(ErrorBody),
    /// A field is missing, unknown or of the wrong type, or its value breaks
    /// a rule: `field` names it.
    #[response(status = 422)]
    Invalid(ErrorBody),
}

/// What `ApiQuery` and the listing rules answer for bad query parameters.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub(super) enum QueryRejected {
    /// A parameter is unknown, of the wrong type or out of range: `field`
    /// names it.
    #[response(status = 422)]
    Invalid(ErrorBody),
}

/// The OpenAPI document
///
/// This document: OpenAPI 3.1, every operation of the API with its
/// parameters, request body and responses. Needs no token.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "documentation",
    operation_id = "openapi_document",
    security(()),
    responses(
        (status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json", body = Object),
    ),
)]
pub async fn document(State(state): State<AppState>) -> Json<OpenApi> {
    Json(served(&state.config.base_url))
}

/// The API reference
///
/// The same document as one HTML page for people: every operation by tag,
/// its parameters, body fields and responses, and every schema. Needs no
/// token.
#[utoipa::path(
    get,
    path = "/docs",
    tag = "documentation",
    operation_id = "openapi_page",
    security(()),
    responses(
        (status = 200, description = "An HTML page.", content_type = "text/html", body = String),
    ),
)]
pub async fn docs(State(state): State<AppState>) -> Result<Response, AppError> {
    let document =
        serde_json::to_value(served(&state.config.base_url)).map_err(anyhow::Error::from)?;
    let page = Page::of(&document, crate::web::stylesheet());
    let body = state
        .templates
        .render("admin/docs.html", Context::from_serialize(&page))?;
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        body,
    )
        .into_response();
    crate::web::secure(response.headers_mut());
    Ok(response)
}

/// What the page template gets: the document, read into lists. Every
/// `description` is HTML made by [`prose`]; all else is plain text.
#[derive(Serialize)]
struct Page {
    title: String,
    version: String,
    description: String,
    server: String,
    stylesheet: &'static str,
    security: String,
    tags: Vec<TagView>,
    schemas: Vec<SchemaView>,
}

#[derive(Serialize)]
struct TagView {
    name: String,
    description: String,
    operations: Vec<OperationView>,
}

#[derive(Serialize)]
struct OperationView {
    anchor: String,
    method: String,
    path: String,
    summary: String,
    description: String,
    /// The least token scope, or none for a public operation.
    scope: Option<String>,
    parameters: Vec<FieldView>,
    body: Option<BodyView>,
    responses: Vec<ResponseView>,
}

/// A parameter, or a field of a body or schema.
#[derive(Serialize)]
struct FieldView {
    name: String,
    location: String,
    kind: TypeView,
    required: bool,
    description: String,
    default: Option<String>,
}

#[derive(Serialize)]
struct BodyView {
    content_type: String,
    kind: TypeView,
    fields: Vec<FieldView>,
    /// Whether fields not listed are refused.
    closed: bool,
}

#[derive(Serialize)]
struct ResponseView {
    status: String,
    description: String,
    content_type: Option<String>,
    kind: Option<TypeView>,
}

#[derive(Serialize)]
struct SchemaView {
    name: String,
    description: String,
    fields: Vec<FieldView>,
    closed: bool,
}

/// A schema's type in words, with the schema it names (for a link).
#[derive(Serialize)]
struct TypeView {
    text: String,
    link: Option<String>,
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

impl Page {
    fn of(document: &Value, stylesheet: &'static str) -> Page {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let schemas = &document["components"]["schemas"];
        let mut by_tag: BTreeMap<String, Vec<OperationView>> = BTreeMap::new();
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            for method in METHODS {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                let scope = operation["security"]
                    .as_array()
                    .and_then(|all| all.iter().find_map(|r| r[BEARER].as_array()))
                    .map(|scopes| scopes.iter().map(text).collect::<Vec<_>>().join(", "));
                let parameters = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| FieldView {
                        name: text(&p["name"]),
                        location: text(&p["in"]),
                        kind: type_of(&p["schema"]),
                        required: p["required"].as_bool().unwrap_or(false),
                        description: prose(p["description"].as_str().unwrap_or_default()),
                        default: p["schema"].get("default").map(Value::to_string),
                    })
                    .collect();
                let body = operation["requestBody"]["content"]
                    .as_object()
                    .and_then(|content| content.iter().next())
                    .map(|(content_type, media)| {
                        let schema = resolve(&media["schema"], schemas);
                        BodyView {
                            content_type: content_type.clone(),
                            kind: type_of(&media["schema"]),
                            fields: fields(schema, schemas),
                            closed: schema["additionalProperties"] == Value::Bool(false),
                        }
                    });
                let responses = operation["responses"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(status, response)| {
                        let media = response["content"]
                            .as_object()
                            .and_then(|content| content.iter().next());
                        ResponseView {
                            status: status.clone(),
                            description: prose(
                                response["description"].as_str().unwrap_or_default(),
                            ),
                            content_type: media.map(|(t, _)| t.clone()),
                            kind: media.map(|(_, m)| type_of(&m["schema"])),
                        }
                    })
                    .collect();
                let tag = operation["tags"][0].as_str().unwrap_or("other").to_string();
                by_tag.entry(tag).or_default().push(OperationView {
                    anchor: format!("op-{}", text(&operation["operationId"])),
                    method: method.to_uppercase(),
                    path: path.clone(),
                    summary: text(&operation["summary"]),
                    description: prose(operation["description"].as_str().unwrap_or_default()),
                    scope,
                    parameters,
                    body,
                    responses,
                });
            }
        }
        // Tags in the document's order, then any it does not describe.
        let mut tags = Vec::new();
        for tag in document["tags"].as_array().into_iter().flatten() {
            let name = text(&tag["name"]);
            if let Some(operations) = by_tag.remove(&name) {
                tags.push(TagView {
                    name,
                    description: prose(tag["description"].as_str().unwrap_or_default()),
                    operations,
                });
            }
        }
        tags.extend(by_tag.into_iter().map(|(name, operations)| TagView {
            name,
            description: String::new(),
            operations,
        }));
        let schemas_view = schemas
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, schema)| SchemaView {
                name: name.clone(),
                description: prose(schema["description"].as_str().unwrap_or_default()),
                fields: fields(schema, schemas),
                closed: schema["additionalProperties"] == Value::Bool(false),
            })
            .collect();
        let security = document["components"]["securitySchemes"][BEARER]["description"].clone();
        Page {
            title: text(&document["info"]["title"]),
            version: text(&document["info"]["version"]),
            description: prose(document["info"]["description"].as_str().unwrap_or_default()),
            server: document["servers"][0]["url"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            stylesheet,
            security: prose(security.as_str().unwrap_or_default()),
            tags,
            schemas: schemas_view,
        }
    }
}

/// A description as HTML: escaped, with its `code` spans marked up (the
/// only Markdown our descriptions use).
fn prose(text: &str) -> String {
    let escaped = crate::html::escape(text);
    if text.matches('`').count() % 2 == 1 {
        // An unpaired backquote: show the text as it is.
        return escaped;
    }
    let mut html = String::with_capacity(escaped.len());
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            html.push_str("<code>");
            html.push_str(part);
            html.push_str("</code>");
        } else {
            html.push_str(part);
        }
    }
    html
}

/// The schema a `$ref` names, or the schema itself.
fn resolve<'a>(schema: &'a Value, schemas: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => &schemas[reference.trim_start_matches("#/components/schemas/")],
        None => schema,
    }
}

/// The properties of an object schema, those of `allOf` parts included
/// (a flattened struct), in order.
fn fields(schema: &Value, schemas: &Value) -> Vec<FieldView> {
    let mut found = Vec::new();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        found.extend(fields(resolve(part, schemas), schemas));
    }
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        found.push(FieldView {
            name: name.clone(),
            location: "body".into(),
            kind: type_of(property),
            required: required.contains(&name.as_str()),
            description: prose(property["description"].as_str().unwrap_or_default()),
            default: property.get("default").map(Value::to_string),
        });
    }
    found
}

/// A schema's type in words: `string`, `integer or null`, `array of
/// Follower`, `ErrorBody`.
fn type_of(schema: &Value) -> TypeView {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return TypeView {
            text: name.to_string(),
            link: Some(name.to_string()),
        };
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(parts) = schema[combinator].as_array() {
            let kinds: Vec<TypeView> = parts.iter().map(type_of).collect();
            let link = kinds.iter().find_map(|k| k.link.clone());
            let joiner = if combinator == "allOf" {
                " and "
            } else {
                " or "
            };
            return TypeView {
                text: kinds
                    .into_iter()
                    .map(|k| k.text)
                    .collect::<Vec<_>>()
                    .join(joiner),
                link,
            };
        }
    }
    let names: Vec<String> = match &schema["type"] {
        Value::String(name) => vec![name.clone()],
        Value::Array(names) => names
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => vec![],
    };
    if names.is_empty() {
        return TypeView {
            text: "any".into(),
            link: None,
        };
    }
    let mut link = None;
    let words: Vec<String> = names
        .into_iter()
        .map(|name| {
            if name == "array" {
                let item = type_of(&schema["items"]);
                link = item.link;
                format!("array of {}", item.text)
            } else {
                name
            }
        })
        .collect();
    TypeView {
        text: words.join(" or "),
        link,
    }
}
