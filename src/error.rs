//! The one error type of the HTTP layer, and the one place it becomes a response.
//!
//! Every handler returns `Result<_, AppError>`. A response is always JSON
//! `{"error": "…"}` (plus `"field"` for validation errors) with the matching
//! status — an [`ErrorBody`], which is also its schema in the OpenAPI
//! document; 5xx details are logged here and never shown to the client.

use axum::{
    Json,
    extract::{
        FromRequest, FromRequestParts, Path, Query, Request,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::request::Parts,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Serialize, de::DeserializeOwned};

use crate::{organisations::Invalid, services::ServiceError, store::StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Answered with `Retry-After`.
    #[error("{0}")]
    TooManyRequests(String, std::time::Duration),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// The body of every error the API answers, whatever the status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"error": "title: must not be empty", "field": "title"}))]
pub struct ErrorBody {
    /// What went wrong, in words for people. For a validation error it
    /// starts with the field's name.
    pub error: String,
    /// Only on validation errors (422): the request field, query parameter
    /// or body path the error is about, such as `title`, `limit` or
    /// `fields[0].value`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub field: Option<String>,
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Gone(_) => StatusCode::GONE,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyRequests(..) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        AppError::NotFound(what.into())
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<Invalid> for AppError {
    fn from(err: Invalid) -> Self {
        AppError::Invalid {
            field: err.field,
            message: err.message,
        }
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => AppError::NotFound("not found".into()),
            StoreError::Conflict => AppError::Conflict("already exists".into()),
            other => AppError::Internal(other.into()),
        }
    }
}

impl From<ServiceError> for AppError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::NotFound(what) => AppError::NotFound(what),
            ServiceError::Invalid(invalid) => invalid.into(),
            ServiceError::Conflict(why) => AppError::Conflict(why),
            ServiceError::Unauthorized(why) => AppError::Unauthorized(why),
            ServiceError::Limited(why, after) => AppError::TooManyRequests(why, after),
            ServiceError::Unsupported(why) => AppError::UnsupportedMediaType(why),
            ServiceError::Store(err) => err.into(),
            ServiceError::Internal(err) => AppError::Internal(err),
        }
    }
}

impl From<crate::limits::Limited> for AppError {
    fn from(limited: crate::limits::Limited) -> Self {
        AppError::TooManyRequests(
            format!("too many {}: slow down", limited.what),
            limited.retry_after,
        )
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = match &self {
            AppError::TooManyRequests(_, after) => Some(retry_after_value(*after)),
            _ => None,
        };
        let body = match &self {
            AppError::Internal(err) => {
                tracing::error!(error = format!("{err:#}"), "request failed");
                ErrorBody {
                    error: "internal error".into(),
                    field: None,
                }
            }
            AppError::Invalid { field, message } => {
                tracing::info!(%status, field, message, "request refused");
                ErrorBody {
                    error: format!("{field}: {message}"),
                    field: Some(field.clone()),
                }
            }
            other => {
                tracing::info!(%status, error = %other, "request refused");
                ErrorBody {
                    error: other.to_string(),
                    field: None,
                }
            }
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(value) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// `Retry-After` in whole seconds, rounded up (never 0: "now" would invite
/// an immediate retry).
pub fn retry_after_value(after: std::time::Duration) -> HeaderValue {
    let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
    HeaderValue::from(secs.max(1))
}

/// `axum::Json` whose rejections are [`AppError`]s: a body that is not JSON is
/// 400, one of the wrong shape (a missing, unknown or mistyped field) is 422
/// naming the field, one over the size cap is 413, a wrong content type 415.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// `axum::extract::Query` with JSON errors (422 naming the parameter).
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection: QueryRejection| {
                let text = rejection.body_text();
                let detail = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text)
                    .to_string();
                AppError::Invalid {
                    field: field_of(&detail),
                    message: detail,
                }
            })
    }
}

/// `axum::extract::Path` with JSON errors (404: a path that does not parse
/// names nothing that exists).
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|rejection: PathRejection| AppError::NotFound(rejection.body_text()))
    }
}

fn json_rejection(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::JsonDataError(err) => {
            // serde_path_to_error's text: "<path>: <message> at line L column C".
            let text = err.body_text();
            let detail = text
                .strip_prefix("Failed to deserialize the JSON body into the target type: ")
                .unwrap_or(&text)
                .to_string();
            let field = field_of(&detail);
            AppError::Invalid {
                field,
                message: detail,
            }
        }
        JsonRejection::JsonSyntaxError(err) => {
            AppError::BadRequest(format!("the body is not valid JSON: {}", err.body_text()))
        }
        JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType(
            "expected a body with Content-Type: application/json".into(),
        ),
        JsonRejection::BytesRejection(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::PayloadTooLarge("the request body is too large".into())
        }
        other => AppError::BadRequest(other.body_text()),
    }
}

/// The field a serde error is about: the backquoted name in "unknown field
/// `x`" or "missing field `x`", else the path before the first colon. The
/// path of an unknown field ends with the field (`a.x: unknown field
/// `x``), that of a missing one names its parent (`a: missing field `x``).
fn field_of(detail: &str) -> String {
    for marker in ["unknown field `", "missing field `"] {
        if let Some(rest) = detail.split_once(marker).map(|(_, r)| r)
            && let Some((name, _)) = rest.split_once('`')
        {
            let path = detail.split_once(": ").map(|(p, _)| p).unwrap_or("");
            let own_path = path == name
                || path
                    .strip_suffix(name)
                    .is_some_and(|parent| parent.ends_with('.'));
            return if own_path && !path.contains(' ') {
                path.to_string()
            } else if path.is_empty()
                || path == "."
                || !detail.starts_with(path)
                || path.contains(' ')
            {
                name.to_string()
            } else {
                format!("{path}.{name}")
            };
        }
    }
    detail
        .split_once(": ")
        .map(|(path, _)| path.to_string())
        .filter(|p| !p.contains(' '))
        .unwrap_or_else(|| "body".into())
}

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn names_the_field_of_a_serde_error() {
        assert_eq!(
            field_of("unknown field `colour`, expected one of `a`, `b` at line 1 column 9"),
            "colour"
        );
        assert_eq!(field_of("missing field `name` at line 1 column 2"), "name");
        assert_eq!(
            field_of("fields[0]: missing field `value` at line 1 column 40"),
            "fields[0].value"
        );
        // serde_path_to_error puts an unknown field in its path.
        assert_eq!(
            field_of("colour: unknown field `colour`, expected `a` at line 1 column 9"),
            "colour"
        );
        assert_eq!(
            field_of("fields[0].colour: unknown field `colour`, expected `name` or `value`"),
            "fields[0].colour"
        );
        assert_eq!(
            field_of("handle: invalid type: integer `3`, expected a string at line 1 column 12"),
            "handle"
        );
    }
}
