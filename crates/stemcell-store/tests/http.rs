//! The store over real HTTP: signed downloads (200, HEAD, Range resume, expired and forged URLs,
//! traversal) and the WebDAV side's authentication.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use secrecy::SecretString;
use stemcell_store::{Credentials, ImportMethod, ImportMode, StemcellStore};

struct Served {
    store: Arc<StemcellStore>,
    base: String,
    _dir: tempfile::TempDir,
    image: std::path::PathBuf,
    content: Vec<u8>,
}

async fn serve() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let base = format!("http://{address}");
    let store = Arc::new(
        StemcellStore::new(
            dir.path().join("stemcells"),
            Some(format!("{base}/").parse().unwrap()),
            Some(Credentials::new(
                "director",
                SecretString::from("dav-password"),
            )),
            Duration::from_secs(600),
        )
        .unwrap(),
    );
    tokio::spawn(stemcell_store::serve(
        listener,
        Arc::clone(&store),
        std::future::pending(),
    ));
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let image = dir.path().join("image");
    std::fs::write(&image, &content).unwrap();
    Served {
        store,
        base,
        _dir: dir,
        image,
        content,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn signed_get_head_and_range_resume() {
    let s = serve().await;
    let imported = s.store.import(&s.image, "bosh-test.vhd.bz2").await.unwrap();
    assert_eq!(imported.method, ImportMethod::HardLink);
    assert_eq!(imported.size, s.content.len() as u64);
    let url = s.store.signed_url("bosh-test.vhd.bz2").unwrap();
    assert!(
        url.path().ends_with(".vhd.bz2"),
        "CloudStack checks the extension: {url}"
    );

    let response = client().get(url.clone()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-length"].to_str().unwrap(),
        s.content.len().to_string()
    );
    assert_eq!(
        response.bytes().await.unwrap().as_ref(),
        s.content.as_slice()
    );

    let head = client().head(url.clone()).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        head.headers()["content-length"].to_str().unwrap(),
        s.content.len().to_string()
    );

    // A resumed download, as the SSVM does after a broken transfer.
    let resumed = client()
        .get(url)
        .header("Range", "bytes=1000000-")
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        resumed.bytes().await.unwrap().as_ref(),
        &s.content[1_000_000..]
    );
}

#[tokio::test]
async fn expired_forged_and_unsigned_urls_are_refused() {
    let s = serve().await;
    s.store.import(&s.image, "a.qcow2").await.unwrap();
    s.store.import(&s.image, "b.qcow2").await.unwrap();
    let expired = s.store.signed_url_until("a.qcow2", 1_000).unwrap();
    assert_eq!(
        client().get(expired).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    // A valid signature for another file.
    let mut other = s.store.signed_url("b.qcow2").unwrap();
    other.set_path("/signed/a.qcow2");
    assert_eq!(
        client().get(other).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    // A pushed-out expiry with the old signature.
    let good = s.store.signed_url("a.qcow2").unwrap();
    let signature = good
        .query_pairs()
        .find(|(k, _)| k == "signature")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let forged = format!(
        "{}/signed/a.qcow2?expires=99999999999&signature={signature}",
        s.base
    );
    assert_eq!(
        client().get(forged).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    for unsigned in [
        format!("{}/signed/a.qcow2", s.base),
        format!("{}/signed/a.qcow2?expires=abc&signature=x", s.base),
    ] {
        assert_eq!(
            client().get(unsigned).send().await.unwrap().status(),
            StatusCode::FORBIDDEN
        );
    }
    // Signed URLs do not open the WebDAV verbs.
    let put = client()
        .put(s.store.signed_url("a.qcow2").unwrap())
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn traversal_is_impossible() {
    let s = serve().await;
    std::fs::write(s.store.root().parent().unwrap().join("secret.qcow2"), "x").unwrap();
    assert!(s.store.signed_url("../secret.qcow2").is_err());
    assert!(s.store.absolute("/etc/passwd").is_err());
    assert!(s.store.import(&s.image, "../escape.qcow2").await.is_err());
    assert!(s.store.remove("../secret.qcow2").await.is_err());
    for path in [
        "/signed/..%2fsecret.qcow2",
        "/signed/%2e%2e/secret.qcow2",
        "/signed/%252e%252e/secret.qcow2",
        "/signed/.url-key",
        "/signed/..%5csecret.qcow2",
    ] {
        let status = client()
            .get(format!(
                "{}{path}?expires=99999999999&signature=AAAA",
                s.base
            ))
            .send()
            .await
            .unwrap()
            .status();
        // Clients may normalise some of these before sending (then WebDAV answers 401); the
        // point is that nothing outside the tree is ever served.
        assert!(status.is_client_error(), "{path}: {status}");
    }
    // A symlink inside the tree pointing out of it is not followed, even with a valid signature.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc/passwd", s.store.root().join("link.img")).unwrap();
        let url = s.store.signed_url("link.img").unwrap();
        assert_eq!(
            client().get(url).send().await.unwrap().status(),
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn webdav_needs_the_credential() {
    let s = serve().await;
    s.store.import(&s.image, "a.qcow2").await.unwrap();
    let propfind = reqwest::Method::from_bytes(b"PROPFIND").unwrap();
    let anonymous = client()
        .request(propfind.clone(), format!("{}/", s.base))
        .header("Depth", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers().contains_key("www-authenticate"));
    let wrong = client()
        .put(format!("{}/x.qcow2", s.base))
        .basic_auth("director", Some("nope"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(!s.store.root().join("x.qcow2").exists());

    let listing = client()
        .request(propfind, format!("{}/", s.base))
        .basic_auth("director", Some("dav-password"))
        .header("Depth", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status().as_u16(), 207);
    assert!(listing.text().await.unwrap().contains("a.qcow2"));
    let put = client()
        .put(format!("{}/uploaded.raw", s.base))
        .basic_auth("director", Some("dav-password"))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    assert_eq!(
        std::fs::read(s.store.root().join("uploaded.raw")).unwrap(),
        b"hello"
    );
    // The signing key is outside the served tree.
    let key = client()
        .get(format!("{}/.url-key", s.base))
        .basic_auth("director", Some("dav-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(key.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn copies_keep_sparse_images_sparse_and_hash_them() {
    let s = serve().await;
    let sparse = s.image.with_file_name("sparse.img");
    let file = std::fs::File::create(&sparse).unwrap();
    file.set_len(64 * 1024 * 1024).unwrap();
    drop(file);
    let linked = s.store.import(&sparse, "linked.img").await.unwrap();
    let copied = s
        .store
        .import_with(&sparse, "copied.img", ImportMode::Copy)
        .await
        .unwrap();
    assert_eq!(copied.method, ImportMethod::Copy);
    assert_eq!(linked.sha256, copied.sha256);
    assert_eq!(copied.size, 64 * 1024 * 1024);
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let blocks = std::fs::metadata(s.store.root().join("copied.img"))
            .unwrap()
            .blocks();
        assert!(
            blocks * 512 < 1024 * 1024,
            "the copy stayed sparse ({blocks} blocks)"
        );
    }
    // The known digest of 64 MiB of zeros.
    assert_eq!(
        copied.sha256,
        "3b6a07d0d404fab4e23b6d34bc6696a6a312dd92821332385e5af7c01c421351"
    );
    assert!(matches!(
        s.store.import(&sparse, "copied.img").await,
        Err(stemcell_store::StemcellStoreError::AlreadyExists(_))
    ));
    let listed = s.store.list_files().await.unwrap();
    assert!(listed.iter().any(|f| f.path == "copied.img"));
    assert!(s.store.remove("copied.img").await.unwrap());
    assert!(!s.store.remove("copied.img").await.unwrap());
}
