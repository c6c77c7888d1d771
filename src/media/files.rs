//! Where uploaded images live: a folder on local disk (`media_dir`) or an
//! S3-compatible bucket (`media_s3_bucket`), both through `object_store`,
//! so every caller has one interface. Names are content hashes
//! (`<sha256>.jpg`), so the same image uploaded twice is one file and a
//! name never changes meaning.

use std::sync::Arc;

use object_store::{ObjectStore, ObjectStoreExt, PutPayload, path::Path as ObjectPath};
use sha2::{Digest, Sha256};

use crate::config::Config;

/// The store of media files. Cheap to clone.
#[derive(Clone)]
pub struct Files {
    store: Arc<dyn ObjectStore>,
    /// For backups: the folder, when files are on local disk.
    local_dir: Option<std::path::PathBuf>,
}

/// The content-addressed name for `bytes` with `extension`, and for its
/// thumbnail.
pub fn names(bytes: &[u8], extension: &str) -> (String, String) {
    let hash = hex(&Sha256::digest(bytes));
    (
        format!("{hash}.{extension}"),
        format!("{hash}.small.{extension}"),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `name` is one we could have minted: a request for anything else
/// is not a file of ours.
pub fn is_valid_name(name: &str) -> bool {
    let Some((stem, extension)) = name.rsplit_once('.') else {
        return false;
    };
    let hash = stem.strip_suffix(".small").unwrap_or(stem);
    matches!(extension, "jpg" | "png")
        && hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The `Content-Type` of a file by its name.
pub fn content_type(name: &str) -> &'static str {
    if name.ends_with(".png") {
        "image/png"
    } else {
        "image/jpeg"
    }
}

impl Files {
    pub fn from_config(config: &Config) -> anyhow::Result<Files> {
        if let Some(bucket) = &config.media_s3_bucket {
            let mut builder =
                object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
            if let Some(endpoint) = &config.media_s3_endpoint {
                builder = builder
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"))
                    .with_virtual_hosted_style_request(false);
            }
            return Ok(Files {
                store: Arc::new(builder.build()?),
                local_dir: None,
            });
        }
        let dir = std::path::PathBuf::from(&config.media_dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Files {
            store: Arc::new(object_store::local::LocalFileSystem::new_with_prefix(&dir)?),
            local_dir: Some(dir),
        })
    }

    /// The folder the files are in, when they are on local disk.
    pub fn local_dir(&self) -> Option<&std::path::Path> {
        self.local_dir.as_deref()
    }

    /// Copies every file to `dir` (which must not exist), for a backup;
    /// the number copied. Files never change once written, so a copy taken
    /// while the server runs is consistent (an upload written meanwhile is
    /// either there whole or not at all). Only for files on local disk: a
    /// bucket is backed up by its own means.
    pub fn copy_to(&self, dir: &std::path::Path) -> anyhow::Result<usize> {
        let Some(from) = &self.local_dir else {
            anyhow::bail!(
                "media are in a bucket (media_s3_bucket): back it up with the store's own tools"
            );
        };
        anyhow::ensure!(!dir.exists(), "{} exists already", dir.display());
        std::fs::create_dir_all(dir)?;
        let mut copied = 0;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            let name = entry.file_name();
            if entry.file_type()?.is_file() && is_valid_name(&name.to_string_lossy()) {
                std::fs::copy(entry.path(), dir.join(&name))?;
                copied += 1;
            }
        }
        Ok(copied)
    }

    pub async fn put(&self, name: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.store
            .put(&ObjectPath::from(name), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// The file's bytes, `None` if there is no such file.
    pub async fn get(&self, name: &str) -> anyhow::Result<Option<bytes::Bytes>> {
        match self.store.get(&ObjectPath::from(name)).await {
            Ok(found) => Ok(Some(found.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Removes a file; one that is gone already is fine.
    pub async fn delete(&self, name: &str) -> anyhow::Result<()> {
        match self.store.delete(&ObjectPath::from(name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_content_hashes() {
        let (file, small) = names(b"abc", "jpg");
        assert_eq!(
            file,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.jpg"
        );
        assert!(is_valid_name(&file));
        assert!(is_valid_name(&small));
        assert!(!is_valid_name("../etc/passwd"));
        assert!(!is_valid_name(&file.replace(".jpg", ".svg")));
        assert!(!is_valid_name("ba78.jpg"));
    }
}
