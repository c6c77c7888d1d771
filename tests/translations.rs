//! One statement in several languages: the seed statement in English with
//! its Russian original as a translation. What followers' servers receive
//! (`contentMap`, and `nameMap`/`summaryMap` for Articles, the statement's
//! own language first), the page in each language with its `hreflang`
//! alternates, the feed in the statement's own language, an added
//! translation going out as an Update, and the refusals.

mod common;

use common::{TestDb, TestServer, follow, peer::Peer, received};
use reqwest::{Method, StatusCode};
use scraper::{Html, Selector};
use serde_json::{Value, json};

const RU_TITLE: &str = "Декларация о Казахстане";
const RU_BODY: &str = "Мы, анархо-синдикалисты и анархисты России, выражаем полную и всестороннюю солидарность с социальным протестом трудящихся Казахстана!";
const RU_SUMMARY: &str = "Заявление российских анархо-синдикалистов и анархистов";

fn seed(format: &str) -> Value {
    json!({
        "title": "Declaration about Kazakhstan",
        "body": "We, Anarcho-syndicalists and Anarchists of Russia express our full and complete solidarity with the social protest of the working people of Kazakhstan!",
        "summary": "Statement by Russian anarcho-syndicalists and anarchists",
        "signatories": ["stop_total_control", "cras"],
        "language": "en",
        "format": format,
        "translations": {
            "ru": { "title": RU_TITLE, "body": RU_BODY, "summary": RU_SUMMARY }
        },
        "publish": true,
    })
}

async fn organisations(server: &TestServer) {
    server
        .create_organisation("stop_total_control", "StopTotalControl")
        .await;
    server.create_organisation("cras", "CRAS").await;
}

async fn page(server: &TestServer, url: &str) -> (StatusCode, Html) {
    let response = server
        .http
        .get(url)
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    let status = response.status();
    (
        status,
        Html::parse_document(&response.text().await.unwrap()),
    )
}

fn select<'a>(html: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    html.select(&Selector::parse(css).unwrap()).collect()
}

fn text(element: &scraper::ElementRef) -> String {
    element.text().collect::<String>()
}

both_backends!(
    a_statement_in_two_languages_reaches_followers_and_readers_in_both,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        organisations(&server).await;
        let peer = Peer::start().await;
        follow(&server, &peer, "ann", "stop_total_control").await;
        received(&peer, "Accept", 1).await;

        let (status, created) = server
            .api(Method::POST, "/statements", Some(seed("note")))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["translations"]["ru"]["title"], RU_TITLE);
        let url = created["url"].as_str().unwrap().to_string();

        // The Create carries every language, English first and as `content`.
        let create = &received(&peer, "Create", 1).await[0];
        assert!(create.verified);
        let note = &create.activity["object"];
        let map = note["contentMap"].as_object().unwrap();
        let languages: Vec<&String> = map.keys().collect();
        assert_eq!(languages, ["en", "ru"]);
        assert_eq!(note["content"], map["en"]);
        let russian = map["ru"].as_str().unwrap();
        assert!(russian.contains(RU_TITLE), "{russian}");
        assert!(russian.contains("Мы, анархо-синдикалисты"), "{russian}");
        assert!(russian.contains(RU_SUMMARY), "{russian}");
        assert!(!russian.contains("We, Anarcho-syndicalists"), "{russian}");
        // Both versions name the signatories.
        assert!(russian.contains("@<span>cras</span>"), "{russian}");
        // The same object when a server fetches it.
        let fetched = server.ap_json(&url).await;
        assert_eq!(fetched["contentMap"], note["contentMap"]);

        // The page in English offers Russian, and the Russian page is its own.
        let (status, english) = page(&server, &url).await;
        assert_eq!(status, StatusCode::OK);
        let switch = select(&english, "nav.languages a[hreflang=ru]");
        assert_eq!(switch.len(), 1);
        assert_eq!(text(&switch[0]), "Русский");
        let ru_url = switch[0].value().attr("href").unwrap().to_string();
        assert_eq!(ru_url, format!("{url}/ru"));
        assert_eq!(
            select(&english, "nav.languages [aria-current=page]")
                .iter()
                .map(text)
                .collect::<Vec<_>>(),
            ["English"]
        );
        let alternates = |html: &Html| -> Vec<(String, String)> {
            select(html, "link[rel=alternate][hreflang]")
                .iter()
                .map(|l| {
                    (
                        l.value().attr("hreflang").unwrap().to_string(),
                        l.value().attr("href").unwrap().to_string(),
                    )
                })
                .collect()
        };
        let expected = vec![
            ("en".to_string(), url.clone()),
            ("ru".to_string(), ru_url.clone()),
            ("x-default".to_string(), url.clone()),
        ];
        assert_eq!(alternates(&english), expected);
        assert_eq!(
            select(&english, "article")[0].value().attr("lang"),
            Some("en")
        );

        let (status, russian_page) = page(&server, &ru_url).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(alternates(&russian_page), expected);
        let article = &select(&russian_page, "article")[0];
        assert_eq!(article.value().attr("lang"), Some("ru"));
        assert_eq!(text(&select(&russian_page, "h1")[0]), RU_TITLE);
        assert!(text(article).contains("Мы, анархо-синдикалисты"));
        assert_eq!(
            select(&russian_page, "link[rel=canonical]")[0]
                .value()
                .attr("href"),
            Some(ru_url.as_str())
        );
        // Its ActivityPub object stays the statement's own URL.
        assert_eq!(
            select(
                &russian_page,
                "link[rel=alternate][type='application/activity+json']"
            )[0]
            .value()
            .attr("href"),
            Some(url.as_str())
        );
        let (status, _) = page(&server, &format!("{url}/de")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let as_activity = server.get_ap(&ru_url).await;
        assert_eq!(as_activity.status(), StatusCode::NOT_FOUND);

        // Feeds carry the statement's own language.
        let feed = server
            .http
            .get(server.url("/feed.atom"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(feed.contains("We, Anarcho-syndicalists"));
        assert!(!feed.contains("Мы, анархо-синдикалисты"), "{feed}");

        // A translation added after publication goes out as an Update.
        let id = created["id"].as_str().unwrap();
        let (status, edited) = server
            .api(
                Method::PATCH,
                &format!("/statements/{id}"),
                Some(json!({ "translations": {
                    "ru": { "title": RU_TITLE, "body": RU_BODY, "summary": RU_SUMMARY },
                    "uk": { "title": "Декларація про Казахстан", "body": "Ми, анархо-синдикалісти та анархісти Росії…" }
                } })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{edited}");
        let update = &received(&peer, "Update", 1).await[0];
        let map = update.activity["object"]["contentMap"].as_object().unwrap();
        assert_eq!(map.keys().collect::<Vec<_>>(), ["en", "ru", "uk"]);
        assert!(
            map["uk"]
                .as_str()
                .unwrap()
                .contains("Ми, анархо-синдикалісти")
        );
        // A PATCH that does not mention them leaves them as they are.
        let (status, edited) = server
            .api(
                Method::PATCH,
                &format!("/statements/{id}"),
                Some(json!({ "title": "Declaration about Kazakhstan (2022)" })),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            edited["translations"].as_object().unwrap().len(),
            2,
            "{edited}"
        );
        let (status, uk) = page(&server, &format!("{url}/uk")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            text(&select(&uk, "nav.languages [aria-current=page]")[0]),
            "Українська"
        );
    }
);

both_backends!(
    an_article_names_and_summarises_itself_in_every_language,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        organisations(&server).await;
        let peer = Peer::start().await;
        follow(&server, &peer, "ann", "stop_total_control").await;
        received(&peer, "Accept", 1).await;
        let (status, created) = server
            .api(Method::POST, "/statements", Some(seed("article")))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let article = &received(&peer, "Create", 1).await[0].activity["object"];
        assert_eq!(article["type"], "Article");
        assert_eq!(article["name"], "Declaration about Kazakhstan");
        assert_eq!(
            article["nameMap"],
            json!({ "en": "Declaration about Kazakhstan", "ru": RU_TITLE })
        );
        let summaries = article["summaryMap"].as_object().unwrap();
        assert_eq!(summaries.keys().collect::<Vec<_>>(), ["en", "ru"]);
        assert_eq!(article["summary"], summaries["en"]);
        assert!(summaries["ru"].as_str().unwrap().contains(RU_SUMMARY));
    }
);

both_backends!(
    translations_are_checked_like_the_text_they_translate,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        organisations(&server).await;
        let with = |language: Value, translations: Value| {
            let mut statement = seed("note");
            statement["language"] = language;
            statement["translations"] = translations;
            statement
        };
        let refusals = [
            (
                with(json!("en"), json!({ "EN": { "title": "x", "body": "y" } })),
                "translations.EN",
                "own language",
            ),
            (
                with(
                    json!("en"),
                    json!({ "russian!": { "title": "x", "body": "y" } }),
                ),
                "translations.russian!",
                "language tag",
            ),
            (
                with(
                    json!("en"),
                    json!({ "ru": { "title": "x", "body": "y" }, "RU": { "title": "x", "body": "y" } }),
                ),
                "translations.ru",
                "twice",
            ),
            (
                with(json!("en"), json!({ "ru": { "title": " ", "body": "y" } })),
                "translations.ru.title",
                "empty",
            ),
            (
                with(json!("en"), json!({ "ru": { "title": "x", "body": "" } })),
                "translations.ru.body",
                "empty",
            ),
            (
                with(json!(null), json!({ "ru": { "title": "x", "body": "y" } })),
                "language",
                "own language",
            ),
            (
                with(
                    json!("en"),
                    json!({ "ru": { "title": "x", "body": "y", "lede": "z" } }),
                ),
                "",
                "unknown field",
            ),
        ];
        for (statement, field, words) in refusals {
            let (status, body) = server
                .api(Method::POST, "/statements", Some(statement))
                .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            if !field.is_empty() {
                assert_eq!(body["field"], field, "{body}");
            }
            assert!(body["error"].as_str().unwrap().contains(words), "{body}");
        }
        let (_, listed) = server.api(Method::GET, "/statements", None).await;
        assert_eq!(listed, json!([]), "nothing stored");
    }
);
