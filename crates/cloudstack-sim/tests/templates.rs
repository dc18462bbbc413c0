//! Template registration, download (against a local HTTP server) and upload.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cloudstack_sim::ids;
use common::{Client, spawn};
use md5::Digest as _;
use tokio::sync::Notify;

const SIZE: usize = 3 * 1024 * 1024 + 17;

fn image() -> Vec<u8> {
    (0..SIZE).map(|i| (i % 251) as u8).collect()
}

fn sha256_hex(data: &[u8]) -> String {
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn md5_hex(data: &[u8]) -> String {
    md5::Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Clone)]
struct ImageServer {
    image: Arc<Vec<u8>>,
    ranges: Arc<Mutex<Vec<String>>>,
    gate: Arc<Notify>,
}

/// A body that sends `data` and then fails, as a dropped connection does.
fn cut_body(data: Vec<u8>) -> Body {
    let chunks = vec![Ok(Bytes::from(data)), Err(std::io::Error::other("cut"))];
    Body::from_stream(futures_util::stream::iter(chunks))
}

async fn start_image_server() -> (String, ImageServer) {
    let state = ImageServer {
        image: Arc::new(image()),
        ranges: Arc::new(Mutex::new(Vec::new())),
        gate: Arc::new(Notify::new()),
    };
    let s = state.clone();
    let app = axum::Router::new()
        .route(
            "/good.vhd",
            get({
                let s = s.clone();
                move || async move { s.image.as_ref().clone() }
            }),
        )
        .route("/missing.vhd", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/redirect.vhd",
            get(|| async {
                (StatusCode::FOUND, [(header::LOCATION, "/good.vhd")]).into_response()
            }),
        )
        .route(
            "/chunked.vhd",
            get({
                let s = s.clone();
                move || async move {
                    let data = s.image.as_ref().clone();
                    Body::from_stream(futures_util::stream::iter(vec![Ok::<_, std::io::Error>(
                        Bytes::from(data),
                    )]))
                }
            }),
        )
        .route(
            "/flaky.vhd",
            get({
                let s = s.clone();
                move |headers: HeaderMap| async move { flaky(s, headers, true) }
            }),
        )
        .route(
            "/norange.vhd",
            get({
                let s = s.clone();
                move |headers: HeaderMap| async move { flaky(s, headers, false) }
            }),
        )
        .route(
            "/slow.vhd",
            get({
                let s = s.clone();
                move || async move {
                    let data = s.image.as_ref().clone();
                    let half = data.len() / 2;
                    let first = Bytes::copy_from_slice(&data[..half]);
                    let rest = Bytes::copy_from_slice(&data[half..]);
                    let gate = s.gate.clone();
                    let stream = futures_util::stream::unfold(0u8, move |step| {
                        let (first, rest, gate) = (first.clone(), rest.clone(), gate.clone());
                        async move {
                            match step {
                                0 => Some((Ok::<_, std::io::Error>(first), 1)),
                                1 => {
                                    gate.notified().await;
                                    Some((Ok(rest), 2))
                                }
                                _ => None,
                            }
                        }
                    });
                    Response::builder()
                        .header(header::CONTENT_LENGTH, data.len())
                        .body(Body::from_stream(stream))
                        .unwrap()
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), state)
}

fn flaky(s: ImageServer, headers: HeaderMap, honour_range: bool) -> Response {
    let data = s.image.as_ref();
    match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(range) => {
            s.ranges.lock().unwrap().push(range.to_owned());
            if !honour_range {
                return Response::builder()
                    .header(header::CONTENT_LENGTH, data.len())
                    .body(Body::from(data.clone()))
                    .unwrap();
            }
            let start: usize = range
                .trim_start_matches("bytes=")
                .trim_end_matches('-')
                .parse()
                .unwrap();
            Response::builder()
                .status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_LENGTH, data.len() - start)
                .header(
                    header::CONTENT_RANGE,
                    format!("bytes {start}-{}/{}", data.len() - 1, data.len()),
                )
                .body(Body::from(data[start..].to_vec()))
                .unwrap()
        }
        None => Response::builder()
            .header(header::CONTENT_LENGTH, data.len())
            .body(cut_body(data[..data.len() / 3].to_vec()))
            .unwrap(),
    }
}

async fn register(client: &Client, url: &str, checksum: Option<&str>) -> String {
    let mut params = vec![
        ("name", "stemcell"),
        ("displaytext", "stemcell"),
        ("format", "VHD"),
        ("hypervisor", "XenServer"),
        ("zoneid", ids::ZONE),
        ("ostypeid", ids::OS_OTHER_PV64),
        ("url", url),
    ];
    if let Some(c) = checksum {
        params.push(("checksum", c));
    }
    let reply = client.ok("registerTemplate", &params).await;
    assert_eq!(reply["count"], 1);
    assert_eq!(reply["template"][0]["isready"], false);
    reply["template"][0]["id"].as_str().unwrap().to_owned()
}

/// Polls `listTemplates templatefilter=self` until the status is final.
async fn final_status(client: &Client, id: &str) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut delay = Duration::from_millis(5);
    loop {
        let list = client
            .ok("listTemplates", &[("templatefilter", "self"), ("id", id)])
            .await;
        let template = list["template"][0].clone();
        let status = template["status"].as_str().unwrap_or_default().to_owned();
        let in_flight = status.is_empty()
            || status == "Processing"
            || status.ends_with("% Downloaded")
            || status == "Installing Template";
        if !in_flight {
            return template;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "download never finished: {status}"
        );
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn download_outcomes() {
    let sim = spawn(common::config()).await;
    let user = Client::user(&sim);
    let (base, server) = start_image_server().await;
    let data = image();

    let good = register(
        &user,
        &format!("{base}/good.vhd"),
        Some(&format!("{{SHA-256}}{}", sha256_hex(&data))),
    )
    .await;
    let t = final_status(&user, &good).await;
    assert_eq!(t["status"], "Download Complete");
    assert_eq!(t["isready"], true);
    assert_eq!(t["size"], SIZE as u64);
    assert_eq!(t["downloaddetails"][0]["downloadState"], "DOWNLOADED");
    let executable = user
        .ok(
            "listTemplates",
            &[("templatefilter", "executable"), ("id", &good)],
        )
        .await;
    assert_eq!(executable["count"], 1);
    common::assert_same_shape(
        &common::fixture("registerTemplate.json")["registertemplateresponse"]["template"][0],
        &t,
        "template",
    );
    // A fresh template deploys.
    user.run(
        "deployVirtualMachine",
        &[
            ("serviceofferingid", ids::SO_SMALL),
            ("templateid", &good),
            ("zoneid", ids::ZONE),
        ],
    )
    .await;

    let md5_ok = register(&user, &format!("{base}/good.vhd"), Some(&md5_hex(&data))).await;
    assert_eq!(
        final_status(&user, &md5_ok).await["status"],
        "Download Complete"
    );

    let wrong = format!("{{SHA-256}}{}", "0".repeat(64));
    let bad = register(&user, &format!("{base}/good.vhd"), Some(&wrong)).await;
    let t = final_status(&user, &bad).await;
    let status = t["status"].as_str().unwrap();
    assert!(
        status.starts_with("checksum \"") && status.contains("didn't match the given value"),
        "{status}"
    );
    assert_eq!(t["isready"], false);

    let chunked = register(&user, &format!("{base}/chunked.vhd"), None).await;
    assert_eq!(
        final_status(&user, &chunked).await["status"],
        " Failed to receive length of download "
    );

    let redirect = register(&user, &format!("{base}/redirect.vhd"), None).await;
    let status = final_status(&user, &redirect).await["status"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        status,
        format!("Failed to download {base}/redirect.vhd due to redirection, response code: 302")
    );

    let missing = register(&user, &format!("{base}/missing.vhd"), None).await;
    assert_eq!(
        final_status(&user, &missing).await["status"],
        " HTTP Server returned 404 (expected 200 OK) "
    );

    let flaky = register(
        &user,
        &format!("{base}/flaky.vhd"),
        Some(&format!("{{SHA-256}}{}", sha256_hex(&data))),
    )
    .await;
    assert_eq!(
        final_status(&user, &flaky).await["status"],
        "Download Complete"
    );
    assert_eq!(
        server.ranges.lock().unwrap().as_slice(),
        [format!("bytes={}-", SIZE / 3)]
    );

    let norange = register(&user, &format!("{base}/norange.vhd"), None).await;
    assert_eq!(
        final_status(&user, &norange).await["status"],
        "HTTP Server does not support partial get"
    );
}

#[tokio::test]
async fn progress_is_reported_while_downloading() {
    let sim = spawn(common::config()).await;
    let user = Client::user(&sim);
    let (base, server) = start_image_server().await;
    let id = register(&user, &format!("{base}/slow.vhd"), None).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let list = user
            .ok("listTemplates", &[("templatefilter", "self"), ("id", &id)])
            .await;
        let status = list["template"][0]["status"].as_str().unwrap().to_owned();
        if status.ends_with("% Downloaded") {
            let percent: u32 = status.trim_end_matches("% Downloaded").parse().unwrap();
            assert!((1..100).contains(&percent), "{status}");
            assert_eq!(list["template"][0]["isready"], false);
            // Not ready templates are not executable yet.
            assert_eq!(
                user.ok(
                    "listTemplates",
                    &[("templatefilter", "executable"), ("id", &id)]
                )
                .await,
                serde_json::json!({})
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no progress seen: {status}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.gate.notify_one();
    assert_eq!(
        final_status(&user, &id).await["status"],
        "Download Complete"
    );
}

#[tokio::test]
async fn registration_validates_urls_and_parameters() {
    let sim = spawn(common::config()).await;
    let user = Client::user(&sim);
    let base = [
        ("name", "t"),
        ("format", "QCOW2"),
        ("hypervisor", "KVM"),
        ("zoneid", ids::ZONE),
        ("ostypeid", ids::OS_OTHER_PV64),
    ];
    let check = |url: &'static str| {
        let mut p = base.to_vec();
        p.push(("url", url));
        p
    };
    for url in [
        "ftp://example.com/a.qcow2",
        "http://example.com/a.vhd",
        "http://[::1]/a.qcow2",
        "not a url",
        "http://example.com/a.qcow2.rar",
    ] {
        let reply = user.post("registerTemplate", &check(url)).await;
        assert_eq!(reply.status, 431, "{url}: {}", reply.body);
    }
    for url in [
        "http://example.invalid/a.qcow2.bz2",
        "https://example.invalid/dir/a.img.gz?token=x",
    ] {
        let reply = user.post("registerTemplate", &check(url)).await;
        assert_eq!(reply.status, 200, "{url}: {}", reply.body);
    }
    sim.update_settings(|s| s.allow_internal_template_sites = false);
    let reply = user
        .post("registerTemplate", &check("http://127.0.0.1/a.qcow2"))
        .await;
    assert_eq!(reply.status, 431);

    let mut no_os = check("http://example.invalid/a.qcow2");
    no_os.retain(|(k, _)| *k != "ostypeid");
    assert_eq!(
        user.err("registerTemplate", &no_os, 431).await,
        "Please provide a guest OS type"
    );
    let mut bad_format = check("http://example.invalid/a.qcow2");
    bad_format[1] = ("format", "DOC");
    user.err("registerTemplate", &bad_format, 431).await;
    let mut bad_sum = check("http://example.invalid/a.qcow2");
    bad_sum.push(("checksum", "{SHA256}abc"));
    user.err("registerTemplate", &bad_sum, 431).await;
}

#[tokio::test]
async fn delete_template_rules() {
    let sim = spawn(common::config()).await;
    let user = Client::user(&sim);
    let admin = Client::admin(&sim);
    // The default template belongs to the admin.
    user.err("deleteTemplate", &[("id", ids::TEMPLATE)], 531)
        .await;
    let vm = admin.deploy(&[]).await;
    let text = admin
        .err("deleteTemplate", &[("id", ids::TEMPLATE)], 431)
        .await;
    assert!(text.contains("are using it"));
    admin
        .run(
            "destroyVirtualMachine",
            &[("id", vm["id"].as_str().unwrap()), ("expunge", "true")],
        )
        .await;
    assert_eq!(
        admin.run("deleteTemplate", &[("id", ids::TEMPLATE)]).await["success"],
        true
    );
    assert!(sim.templates().is_empty());
}

fn multipart(boundary: &str, data: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"stemcell.vhd.bz2\"\r\nContent-Type: application/x-bzip\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

#[tokio::test]
async fn browser_style_upload() {
    let sim = spawn(common::config()).await;
    let user = Client::user(&sim);
    let params = user
        .ok(
            "getUploadParamsForTemplate",
            &[
                ("name", "uploaded"),
                ("displaytext", "uploaded"),
                ("format", "VHD"),
                ("hypervisor", "XenServer"),
                ("zoneid", ids::ZONE),
                ("ostypeid", ids::OS_OTHER_PV64),
                ("bits", "64"),
            ],
        )
        .await;
    let p = &params["getuploadparams"];
    let id = p["id"].as_str().unwrap();
    let url = p["postURL"].as_str().unwrap();
    let http = reqwest::Client::new();
    let data = vec![7u8; 100_000];
    let body = multipart("BOUNDARY42", &data);
    let send = |sig: &str| {
        http.post(url)
            .header("content-type", "multipart/form-data; boundary=BOUNDARY42")
            .header("X-signature", sig.to_owned())
            .header("X-metadata", p["metadata"].as_str().unwrap())
            .header("X-expires", p["expires"].as_str().unwrap())
            .body(body.clone())
            .send()
    };
    assert_eq!(send("forged").await.unwrap().status(), 403);
    let missing = http.post(url).body(body.clone()).send().await.unwrap();
    assert_eq!(missing.status(), 400);
    let listed = user
        .ok("listTemplates", &[("templatefilter", "self"), ("id", id)])
        .await;
    assert_eq!(listed["template"][0]["isready"], false);

    let ok = send(p["signature"].as_str().unwrap()).await.unwrap();
    assert_eq!(ok.status(), 200);
    let listed = user
        .ok("listTemplates", &[("templatefilter", "self"), ("id", id)])
        .await;
    assert_eq!(listed["template"][0]["status"], "Download Complete");
    assert_eq!(listed["template"][0]["size"], 100_000);
    // A second upload to the same template is refused.
    assert_eq!(
        send(p["signature"].as_str().unwrap())
            .await
            .unwrap()
            .status(),
        400
    );
}
