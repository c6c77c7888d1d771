//! Media in an S3-compatible bucket instead of a folder: an upload lands in
//! the bucket, is served from it, and leaves it when deleted. The bucket is
//! a real S3 implementation on loopback (moto's server, from PyPI, which
//! `.ci/run` installs); without it the test says `skipped:` (and fails in
//! CI). Its own test binary, because the S3 client reads its credentials
//! from the process's `AWS_*` environment.

mod common;

use std::{
    io::Cursor,
    process::{Child, Command, Stdio},
    time::Duration,
};

use common::{Backend, TestDb, TestServer};
use reqwest::{Method, StatusCode};

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn moto_server(port: u16) -> Option<Moto> {
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some(Moto(child))
}

async fn bucket_keys(http: &reqwest::Client, bucket: &str) -> Vec<String> {
    let listing = http.get(bucket).send().await.unwrap().text().await.unwrap();
    listing
        .split("<Key>")
        .skip(1)
        .filter_map(|part| part.split("</Key>").next())
        .map(str::to_string)
        .collect()
}

#[test]
fn uploads_live_in_an_s3_bucket_when_one_is_configured() {
    // Before any thread exists: the S3 client reads these.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "broadside-test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "broadside-test-secret");
        std::env::set_var("AWS_REGION", "us-east-1");
    }
    let port = common::process::free_port();
    let Some(_moto) = moto_server(port) else {
        common::skip_unless_ci("moto_server (an S3 implementation) is not installed");
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let endpoint = format!("http://127.0.0.1:{port}");
        let bucket = format!("{endpoint}/broadside-media");
        let http = reqwest::Client::new();
        common::eventually(20, || async {
            let made = http.put(&bucket).send().await.ok()?;
            made.status().is_success().then_some(())
        })
        .await;

        let db = TestDb::new(Backend::Sqlite).await.unwrap();
        let server = TestServer::start_with(&db, |c| {
            c.media_s3_bucket = Some("broadside-media".into());
            c.media_s3_endpoint = Some(endpoint.clone());
        })
        .await;
        let mut png = Cursor::new(Vec::new());
        image::RgbaImage::from_pixel(64, 48, image::Rgba([20, 140, 60, 255]))
            .write_to(&mut png, image::ImageFormat::Png)
            .unwrap();
        let (status, media) = server
            .upload(
                png.into_inner(),
                "g.png",
                "image/png",
                Some("A green field"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{media}");
        let url = media["url"].as_str().unwrap();
        let file = url.rsplit('/').next().unwrap().to_string();

        // In the bucket, not on disk, and served from there.
        let keys = bucket_keys(&http, &bucket).await;
        assert!(keys.contains(&file), "{keys:?}");
        assert_eq!(keys.len(), 2, "the image and its thumbnail: {keys:?}");
        assert_eq!(std::fs::read_dir(db.media_dir()).unwrap().count(), 0);
        let served = server.http.get(url).send().await.unwrap();
        assert_eq!(served.status(), StatusCode::OK);
        assert_eq!(served.headers()["content-type"], "image/png");
        let image = image::load_from_memory(&served.bytes().await.unwrap()).unwrap();
        assert_eq!((image.width(), image.height()), (64, 48));

        // Deleted: gone from the bucket.
        let (status, _) = server
            .api(
                Method::DELETE,
                &format!("/media/{}", media["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert!(bucket_keys(&http, &bucket).await.is_empty());
        let gone = server.http.get(url).send().await.unwrap();
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
        tokio::time::sleep(Duration::from_millis(10)).await;
    });
}
