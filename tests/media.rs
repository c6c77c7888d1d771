//! Images: uploads in each format we take (made here with the `image`
//! crate), the files we refuse (not an image, SVG, HTML, too large, a
//! decompression bomb), EXIF and GPS gone from what is served, a statement
//! with two images as a peer receives and fetches it, alt text required,
//! files removed once nothing needs them, and an uploaded avatar.

mod common;

use std::io::Cursor;

use common::{TestDb, TestServer, eventually, follow, peer::Peer, received};
use image::{DynamicImage, ImageFormat, RgbaImage};
use reqwest::{Method, StatusCode};
use serde_json::json;

fn picture(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgba8(RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([(x * 7 % 256) as u8, (y * 5 % 256) as u8, 90, 255])
    }))
}

fn encoded(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    match format {
        ImageFormat::Jpeg => DynamicImage::ImageRgb8(image.to_rgb8())
            .write_to(&mut out, format)
            .unwrap(),
        _ => image.write_to(&mut out, format).unwrap(),
    }
    out.into_inner()
}

/// A JPEG carrying an EXIF block with a GPS position and a marker string.
fn jpeg_with_exif(marker: &str) -> Vec<u8> {
    let jpeg = encoded(&picture(120, 80), ImageFormat::Jpeg);
    // TIFF header (little-endian), one IFD entry pointing at GPS data we
    // do not bother to make valid: what matters is that the bytes are there.
    let mut tiff = b"II*\x00\x08\x00\x00\x00\x01\x00\x25\x88\x04\x00\x01\x00\x00\x00\x1a\x00\x00\x00\x00\x00\x00\x00".to_vec();
    tiff.extend_from_slice(marker.as_bytes());
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend_from_slice(&tiff);
    let len = (app1.len() + 2) as u16;
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A valid 1×1 PNG whose header claims `width`×`height` pixels.
fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut png = encoded(&picture(1, 1), ImageFormat::Png);
    // IHDR data starts after the 8-byte signature, length and type.
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

async fn fetch(server: &TestServer, url: &str) -> reqwest::Response {
    server.http.get(url).send().await.unwrap()
}

fn files_in(db: &TestDb) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(db.media_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

both_backends!(
    each_format_is_taken_reencoded_and_served_safely,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        let image = picture(300, 200);
        for (format, name, sent, stored) in [
            (ImageFormat::Jpeg, "a.jpg", "image/jpeg", "image/jpeg"),
            (ImageFormat::Png, "a.png", "image/png", "image/png"),
            (ImageFormat::WebP, "a.webp", "image/webp", "image/png"),
            (ImageFormat::Gif, "a.gif", "image/gif", "image/png"),
        ] {
            let (status, media) = server
                .upload(
                    encoded(&image, format),
                    name,
                    sent,
                    Some("A test card"),
                    Some("0.5,-0.25"),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{name}: {media}");
            assert_eq!(media["mime_type"], stored, "{name}");
            assert_eq!(
                (media["width"].clone(), media["height"].clone()),
                (json!(300), json!(200))
            );
            assert_eq!(media["blurhash"].as_str().unwrap().len(), 28);
            assert_eq!(media["description"], "A test card");
            assert_eq!(media["focus"], json!([0.5, -0.25]));
            for key in ["url", "preview_url"] {
                let response = fetch(&server, media[key].as_str().unwrap()).await;
                assert_eq!(response.status(), StatusCode::OK);
                let headers = response.headers().clone();
                assert_eq!(headers["content-type"], stored);
                assert_eq!(headers["x-content-type-options"], "nosniff");
                assert!(
                    headers["content-security-policy"]
                        .to_str()
                        .unwrap()
                        .contains("sandbox")
                );
                assert!(
                    headers["cache-control"]
                        .to_str()
                        .unwrap()
                        .contains("immutable")
                );
                let bytes = response.bytes().await.unwrap();
                let decoded = image::load_from_memory(&bytes).unwrap();
                assert_eq!(decoded.width(), 300);
            }
            let (status, shown) = server
                .api(
                    Method::GET,
                    &format!("/media/{}", media["id"].as_str().unwrap()),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(shown["url"], media["url"]);
        }
        // Files are named by their content.
        let names = files_in(&db);
        assert!(
            names
                .iter()
                .all(|n| n.len() > 64 && (n.ends_with(".jpg") || n.ends_with(".png"))),
            "{names:?}"
        );
        let missing = fetch(
            &server,
            &server.url(&format!("/media/{}.jpg", "0".repeat(64))),
        )
        .await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let escape = fetch(&server, &server.url("/media/..%2Fbroadside.db")).await;
        assert_eq!(escape.status(), StatusCode::NOT_FOUND);
    }
);

both_backends!(
    what_is_not_a_usable_image_is_refused_and_nothing_kept,
    |db: TestDb| async move {
        let server = TestServer::start_with(&db, |c| c.max_media_bytes = 200 * 1024).await;
        let svg =
            br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>"#.to_vec();
        let refusals: Vec<(Vec<u8>, &str, &str, StatusCode)> = vec![
            (
                b"just some text".to_vec(),
                "a.txt",
                "text/plain",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                svg.clone(),
                "a.svg",
                "image/svg+xml",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            // Lying about its type changes nothing.
            (
                svg,
                "a.png",
                "image/png",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                b"<!DOCTYPE html><script>alert(1)</script>".to_vec(),
                "a.html",
                "text/html",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                png_bomb(100_000, 100_000),
                "bomb.png",
                "image/png",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0],
                "broken.jpg",
                "image/jpeg",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
        ];
        for (bytes, name, mime, expected) in refusals {
            let (status, body) = server.upload(bytes, name, mime, None, None).await;
            assert_eq!(status, expected, "{name}: {body}");
            assert!(body["error"].is_string(), "{name}: {body}");
        }
        // Over max_media_bytes: a noisy PNG of about 250 KB.
        let noisy = DynamicImage::ImageRgba8(RgbaImage::from_fn(250, 250, |x, y| {
            let v = (x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503)).to_le_bytes();
            image::Rgba([v[0], v[1], v[2], 255])
        }));
        let big = encoded(&noisy, ImageFormat::Png);
        // Just over the limit: the server answers 413 and closes once it has
        // read the limit, so a client still writing a far larger body can meet
        // a broken pipe before it reads that answer.
        assert!(
            big.len() > 200 * 1024 && big.len() < 300 * 1024,
            "{}",
            big.len()
        );
        let (status, body) = server.upload(big, "big.png", "image/png", None, None).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        // Fields.
        let small = encoded(&picture(10, 10), ImageFormat::Png);
        let (status, body) = server
            .upload(
                small.clone(),
                "a.png",
                "image/png",
                Some(&"x".repeat(1501)),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["field"], "description");
        let (status, body) = server
            .upload(small, "a.png", "image/png", None, Some("2,0"))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["field"], "focus");
        assert!(
            files_in(&db).is_empty(),
            "nothing kept: {:?}",
            files_in(&db)
        );
    }
);

both_backends!(
    exif_and_gps_never_leave_the_server,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        let marker = "GPS-SECRET-52.5200N-13.4050E";
        let original = jpeg_with_exif(marker);
        assert!(original.windows(4).any(|w| w == b"Exif"));
        assert!(
            image::load_from_memory(&original).is_ok(),
            "the fixture is a JPEG"
        );
        let (status, media) = server
            .upload(
                original,
                "holiday.jpg",
                "image/jpeg",
                Some("A square"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{media}");
        for key in ["url", "preview_url"] {
            let served = fetch(&server, media[key].as_str().unwrap())
                .await
                .bytes()
                .await
                .unwrap();
            assert!(!served.windows(4).any(|w| w == b"Exif"), "{key} keeps EXIF");
            assert!(
                !served.windows(marker.len()).any(|w| w == marker.as_bytes()),
                "{key} keeps the GPS data"
            );
            assert!(image::load_from_memory(&served).is_ok());
        }
    }
);

both_backends!(
    a_statement_with_two_images_reaches_a_peer_that_fetches_them,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        server.create_organisation("cras", "CRAS").await;
        let peer = Peer::start().await;
        follow(&server, &peer, "ann", "cras").await;
        received(&peer, "Accept", 1).await;
        let (_, first) = server
            .upload(
                encoded(&picture(400, 300), ImageFormat::Jpeg),
                "1.jpg",
                "image/jpeg",
                Some("Strikers in Zhanaozen"),
                Some("0,0.5"),
            )
            .await;
        let (_, second) = server
            .upload(
                encoded(&picture(200, 200), ImageFormat::Png),
                "2.png",
                "image/png",
                None,
                None,
            )
            .await;
        let ids = json!([first["id"], second["id"]]);
        let statement = json!({
            "title": "Solidarity with Kazakhstan", "body": "Text.", "signatories": ["cras"],
            "media": ids, "publish": true,
        });
        // The second image has no alt text: refused, and nothing stored.
        let (status, body) = server
            .api(Method::POST, "/statements", Some(statement.clone()))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["field"], "media[1]");
        assert_eq!(
            server.api(Method::GET, "/statements", None).await.1,
            json!([])
        );
        // Five are too many; an unknown one is named.
        let (status, body) = server.api(Method::POST, "/statements", Some(json!({
            "title": "x", "body": "y", "signatories": ["cras"], "media": ["a", "b", "c", "d", "e"]
        }))).await;
        assert_eq!(
            (status, body["field"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!("media"))
        );
        let (status, body) = server
            .api(
                Method::POST,
                "/statements",
                Some(json!({
                    "title": "x", "body": "y", "signatories": ["cras"], "media": ["nope"]
                })),
            )
            .await;
        assert_eq!(
            (status, body["field"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!("media[0]"))
        );
        // Described, it goes out.
        let second_id = second["id"].as_str().unwrap();
        let (status, _) = server
            .api(
                Method::PATCH,
                &format!("/media/{second_id}"),
                Some(json!({"description": "The union's logo"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, created) = server
            .api(Method::POST, "/statements", Some(statement))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["media"][1]["description"], "The union's logo");

        let create = &received(&peer, "Create", 1).await[0];
        assert!(create.verified);
        let attachments = create.activity["object"]["attachment"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(attachments.len(), 2);
        let a = &attachments[0];
        assert_eq!(a["type"], "Image");
        assert_eq!(a["mediaType"], "image/jpeg");
        assert!(
            a["url"].is_string(),
            "url is a string, as Mastodon reads it"
        );
        assert_eq!(a["name"], "Strikers in Zhanaozen");
        assert_eq!(a["blurhash"], first["blurhash"]);
        assert_eq!(a["focalPoint"], json!([0.0, 0.5]));
        assert_eq!(
            (a["width"].clone(), a["height"].clone()),
            (json!(400), json!(300))
        );
        assert_eq!(attachments[1]["mediaType"], "image/png");
        assert_eq!(attachments[1]["name"], "The union's logo");
        // The peer fetches each, as a Mastodon server does on receipt.
        let client = reqwest::Client::new();
        for attachment in &attachments {
            let response = client
                .get(attachment["url"].as_str().unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                response.headers()["content-type"],
                attachment["mediaType"].as_str().unwrap()
            );
            let image = image::load_from_memory(&response.bytes().await.unwrap()).unwrap();
            assert_eq!(Some(u64::from(image.width())), attachment["width"].as_u64());
        }
        // The page shows them with their alt text.
        let page = server
            .http
            .get(created["url"].as_str().unwrap())
            .header("Accept", "text/html")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let html = scraper::Html::parse_document(&page);
        let alts: Vec<&str> = html
            .select(&scraper::Selector::parse("ul.images img").unwrap())
            .map(|img| img.value().attr("alt").unwrap())
            .collect();
        assert_eq!(alts, ["Strikers in Zhanaozen", "The union's logo"]);

        // An image in use cannot be deleted; an unused one goes with its files.
        let (status, _) = server
            .api(Method::DELETE, &format!("/media/{second_id}"), None)
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (_, spare) = server
            .upload(
                encoded(&picture(50, 40), ImageFormat::Png),
                "s.png",
                "image/png",
                None,
                None,
            )
            .await;
        let spare_url = spare["url"].as_str().unwrap().to_string();
        let (status, _) = server
            .api(
                Method::DELETE,
                &format!("/media/{}", spare["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(
            fetch(&server, &spare_url).await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            files_in(&db).len(),
            4,
            "two images and their thumbnails: {:?}",
            files_in(&db)
        );

        // Deleting the statement: once its Delete has gone out, its files go.
        let id = created["id"].as_str().unwrap();
        let (status, _) = server
            .api(Method::DELETE, &format!("/statements/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        received(&peer, "Delete", 1).await;
        eventually(20, || async { files_in(&db).is_empty().then_some(()) }).await;
        assert_eq!(
            fetch(&server, a["url"].as_str().unwrap()).await.status(),
            StatusCode::NOT_FOUND
        );
    }
);

both_backends!(
    an_uploaded_avatar_is_the_profile_picture,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        server.create_organisation("cras", "CRAS").await;
        let (_, avatar) = server
            .upload(
                encoded(&picture(400, 400), ImageFormat::Png),
                "logo.png",
                "image/png",
                Some("CRAS logo"),
                None,
            )
            .await;
        let (status, org) = server
            .api(
                Method::PATCH,
                "/organisations/cras",
                Some(json!({"avatar_media": avatar["id"]})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{org}");
        assert_eq!(org["avatar_url"], avatar["url"]);
        let actor = server.ap_json(server.url("/organisations/cras")).await;
        assert_eq!(actor["icon"]["url"], avatar["url"]);
        assert_eq!(
            fetch(&server, avatar["url"].as_str().unwrap())
                .await
                .status(),
            StatusCode::OK
        );
        // It is the profile's now: not deletable, not attachable.
        let (status, _) = server
            .api(
                Method::DELETE,
                &format!("/media/{}", avatar["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, body) = server
            .api(
                Method::POST,
                "/statements",
                Some(json!({
                    "title": "x", "body": "y", "signatories": ["cras"], "media": [avatar["id"]]
                })),
            )
            .await;
        assert_eq!(
            (status, body["field"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!("media[0]"))
        );
    }
);
