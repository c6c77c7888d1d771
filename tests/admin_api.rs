//! The admin API as an editor (or an attacker) meets it: tokens, validation,
//! and the promise that a refused request changes nothing.

mod common;

use common::{TestDb, TestServer, json_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn organisation_count(server: &TestServer) -> usize {
    let (status, list) = server.api(Method::GET, "/organisations", None).await;
    assert_eq!(status, StatusCode::OK);
    list.as_array().unwrap().len()
}

fn valid() -> Value {
    json!({"handle": "cras", "name": "CRAS", "summary": "Anarcho-syndicalists."})
}

both_backends!(tokens_are_required, |db: TestDb| async move {
    let server = TestServer::start(&db).await;
    let post = |auth: Option<&'static str>| {
        let mut request = server
            .http
            .post(server.url("/api/v1/organisations"))
            .json(&valid());
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        request.send()
    };
    for auth in [
        None,
        Some("Bearer wrong-token"),
        Some("Basic dXNlcjpwYXNz"),
        Some("Bearer "),
    ] {
        let (status, body) = json_of(post(auth).await.unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert!(body["error"].is_string(), "{body}");
    }
    assert_eq!(organisation_count(&server).await, 0, "nothing was created");
    // Reads are protected too.
    let response = server
        .http
        .get(server.url("/api/v1/organisations"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
});

both_backends!(
    invalid_input_is_refused_and_changes_nothing,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        let cases: Vec<(Value, StatusCode, &str)> = vec![
            (
                json!({"handle": "no spaces", "name": "X", "summary": ""}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "handle",
            ),
            (
                json!({"handle": ".dot", "name": "X", "summary": ""}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "handle",
            ),
            (
                json!({"handle": "crás", "name": "X", "summary": ""}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "handle",
            ),
            (
                json!({"handle": "a".repeat(31), "name": "X", "summary": ""}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "handle",
            ),
            (
                json!({"handle": "actor", "name": "X", "summary": ""}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "handle",
            ),
            (
                json!({"name": "X", "summary": ""}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "handle",
            ),
            (
                json!({"handle": "cras", "summary": ""}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "name",
            ),
            (
                json!({"handle": "cras", "name": "  ", "summary": ""}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "name",
            ),
            (
                json!({"handle": "cras", "name": "X", "summary": "", "colour": "red"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "colour",
            ),
            (
                json!({"handle": "cras", "name": "X", "summary": "", "website": "javascript:alert(1)"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "website",
            ),
            (
                json!({"handle": "cras", "name": "X", "summary": "", "avatar_url": "/relative.png"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "avatar_url",
            ),
            (
                json!({"handle": "cras", "name": "X", "summary": "", "fields": [{"name": "a"}]}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "value",
            ),
            (
                json!({"handle": "cras", "name": "X", "summary": "", "fields": [{"name": "", "value": "x"}]}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "fields[0].name",
            ),
            (
                json!({"handle": 42, "name": "X", "summary": ""}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "handle",
            ),
        ];
        for (body, expected, field) in cases {
            let (status, answer) = server
                .api(Method::POST, "/organisations", Some(body.clone()))
                .await;
            assert_eq!(status, expected, "{body} → {answer}");
            let error = answer["error"].as_str().unwrap_or_default();
            assert!(
                error.contains(field),
                "{body}: error {error:?} should name {field}"
            );
        }
        // Not JSON at all.
        let response = server
            .http
            .post(server.url("/api/v1/organisations"))
            .bearer_auth(&server.token)
            .header("Content-Type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["error"].is_string());
        // Oversized body: 413 with a JSON error.
        let huge = json!({"handle": "big", "name": "Big", "summary": "x".repeat(300 * 1024)});
        let (status, body) = server.api(Method::POST, "/organisations", Some(huge)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(body["error"].is_string());
        assert_eq!(organisation_count(&server).await, 0, "nothing was stored");

        // A duplicate handle is a conflict, case-insensitively, and stores nothing.
        server.create_organisation("cras", "CRAS").await;
        for handle in ["cras", "CRAS"] {
            let (status, body) = server
                .api(
                    Method::POST,
                    "/organisations",
                    Some(json!({"handle": handle, "name": "Other", "summary": ""})),
                )
                .await;
            assert_eq!(status, StatusCode::CONFLICT, "{body}");
            assert!(body["error"].as_str().unwrap().contains("handle"));
        }
        assert_eq!(organisation_count(&server).await, 1);
        let (_, cras) = server.api(Method::GET, "/organisations/cras", None).await;
        assert_eq!(cras["name"], "CRAS", "the original is untouched");
    }
);

both_backends!(
    organisations_can_be_edited_and_deleted,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        let created = server.create_organisation("iwa", "IWA").await;
        assert_eq!(created["actor_url"], server.url("/organisations/iwa"));
        assert!(
            !created.to_string().contains("PRIVATE"),
            "no key material in responses"
        );

        let (status, updated) = server
        .api(
            Method::PATCH,
            "/organisations/iwa",
            Some(json!({"name": "International Workers' Association", "website": "https://iwa-ait.org", "manually_approves_followers": true})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        assert_eq!(updated["name"], "International Workers' Association");
        assert_eq!(
            updated["summary"], "IWA signs statements.",
            "untouched fields stay"
        );
        let actor: Value = server.ap_json(&server.url("/organisations/iwa")).await;
        assert_eq!(actor["name"], "International Workers' Association");
        assert_eq!(actor["manuallyApprovesFollowers"], true);
        assert_eq!(actor["attachment"][0]["name"], "Website");

        // null clears an optional field.
        let (_, cleared) = server
            .api(
                Method::PATCH,
                "/organisations/iwa",
                Some(json!({"website": null})),
            )
            .await;
        assert_eq!(cleared["website"], Value::Null);
        // The handle cannot change; a bad value changes nothing.
        let (status, _) = server
            .api(
                Method::PATCH,
                "/organisations/iwa",
                Some(json!({"handle": "other"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (status, _) = server
            .api(
                Method::PATCH,
                "/organisations/iwa",
                Some(json!({"name": "", "summary": "changed"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (_, now) = server.api(Method::GET, "/organisations/iwa", None).await;
        assert_eq!(now["summary"], "IWA signs statements.");

        let (status, _) = server
            .api(
                Method::PATCH,
                "/organisations/nobody",
                Some(json!({"name": "x"})),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = server.api(Method::DELETE, "/organisations/iwa", None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = server.api(Method::GET, "/organisations/iwa", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body["error"].is_string());
        // Its handle is never given to anyone else.
        let (status, _) = server
            .api(
                Method::POST,
                "/organisations",
                Some(json!({"handle": "iwa", "name": "Impostor", "summary": ""})),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
    }
);

/// `broadside token create` prints a token that works; `revoke` ends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_tokens_work_against_the_server() {
    let db = TestDb::new(common::Backend::Sqlite).await.unwrap();
    let server = TestServer::start(&db).await;
    let bin = env!("CARGO_BIN_EXE_broadside");
    let run = |args: &[&str]| {
        std::process::Command::new(bin)
            .args(args)
            .env("BROADSIDE_DATABASE_URL", &db.url)
            .env("BROADSIDE_CONFIG", "/nonexistent.toml")
            .output()
            .expect("run broadside")
    };
    let created = run(&["token", "create", "--name", "editor"]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let token = String::from_utf8(created.stdout)
        .unwrap()
        .trim()
        .to_string();
    assert!(token.len() > 40);
    let list = |token: String| {
        server
            .http
            .get(server.url("/api/v1/organisations"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(list(token.clone()).await.unwrap().status(), StatusCode::OK);
    // Only the hash is stored.
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM admin_tokens")
        .fetch_all(&sqlx::SqlitePool::connect(&db.url).await.unwrap())
        .await
        .unwrap();
    assert!(stored.iter().all(|h| h != &token));
    let again = run(&["token", "create", "--name", "editor"]);
    assert!(!again.status.success(), "names are unique");
    let revoked = run(&["token", "revoke", "editor"]);
    assert!(revoked.status.success());
    assert_eq!(
        list(token).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    // An invalid configuration value stops the binary and names the key.
    let bad = std::process::Command::new(bin)
        .args(["migrate"])
        .env("BROADSIDE_DATABASE_URL", &db.url)
        .env("BROADSIDE_ALLOW_PRIVATE_ADDRESSES", "maybe")
        .env("BROADSIDE_CONFIG", "/nonexistent.toml")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("allow_private_addresses"));
}
