//! The hardening of issue 17 (scope item 13), one regression test each:
//! where sign-in sends a user, bodies over the limit, methods a route does
//! not have, failed sign-ins in the log and slow connections (repeated form
//! fields and version-checked edits are in `edits.rs`).

mod common;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Request;
use common::*;
use pdva_store::{Role, Store};

/// Everything logged while `f` runs on this thread (the tests run on a
/// current-thread runtime, so the server's tasks log here too).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Self::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The sign-in form's double-submit cookie and token, as a page would set them.
fn sign_in_form() -> Signed {
    Signed {
        cookie: "pdva_sign_in_csrf=feedface".into(),
        csrf: "feedface".into(),
    }
}

async fn sign_in(store: &Store, username: &str, password: &str, next: &str) -> Answer {
    let form = sign_in_form();
    post(
        store,
        "/sign-in",
        Some(&form),
        Some(&form.csrf),
        &[
            ("username", username),
            ("password", password),
            ("next", next),
        ],
    )
    .await
}

#[tokio::test]
async fn sign_in_follows_only_same_site_paths_and_never_fails_on_a_bad_next() {
    let w = world().await;
    user(&w.store, "clin", Role::Clinician, ngh()).await;
    for (next, to) in [
        ("/patients", "/patients"),
        ("/%0a", "/"),
        ("/\n", "/"),
        ("/%09/evil.example", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("", "/"),
    ] {
        let answer = sign_in(&w.store, "clin", PASSWORD, next).await;
        assert_eq!(answer.status, 303, "{next:?}: {}", answer.body);
        assert_eq!(answer.location, to, "{next:?}");
    }
    // The sign-in page never offers a bad `next` either.
    let page = get(&w.store, "/sign-in?next=%2F%250a", None).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("%0a"), "{}", page.body);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_before_authentication() {
    let w = world().await;
    let clin = user(&w.store, "clin", Role::Clinician, ngh()).await;
    let who = session(&w.store, &clin).await;
    let big = vec![b'a'; 10 * 1024 * 1024];
    let path = format!("/patients/{}/edit", w.a.id);
    for (signed_in, with_length) in [(true, true), (false, true), (true, false)] {
        let mut r = Request::post(&path)
            .header("host", HOST)
            .header("content-type", "application/x-www-form-urlencoded");
        if signed_in {
            r = r.header("cookie", &who.cookie);
        }
        if with_length {
            r = r.header("content-length", big.len());
        }
        let answer = send(&w.store, r.body(Body::from(big.clone())).unwrap()).await;
        assert_eq!(
            answer.status, 413,
            "signed in {signed_in}, length {with_length}"
        );
    }
    // Under /api/ in the API's error shape.
    let r = Request::put(format!("/api/v1/patients/{}", w.a.id))
        .header("host", HOST)
        .header("content-type", "application/json")
        .header("content-length", big.len())
        .body(Body::from(big.clone()))
        .unwrap();
    let answer = send(&w.store, r).await;
    assert_eq!(answer.status, 413);
    assert!(answer.body.contains("\"status\":413"), "{}", answer.body);
    // A body that grows past the limit as it is read, with no length given.
    let chunks =
        futures_util::stream::iter((0..64).map(|_| Ok::<_, std::io::Error>(vec![b'a'; 64 * 1024])));
    let r = Request::post(&path)
        .header("host", HOST)
        .header("origin", format!("http://{HOST}"))
        .header("cookie", &who.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from_stream(chunks))
        .unwrap();
    assert_eq!(send(&w.store, r).await.status, 413);
}

#[tokio::test]
async fn a_method_a_route_does_not_have_is_405_without_an_error_logged() {
    let w = world().await;
    let (logs, _guard) = Logs::capture();
    for (method, path, allow) in [
        ("HEAD", "/sign-out", "POST"),
        ("GET", "/sign-out", "POST"),
        ("PUT", "/patients", "GET, HEAD"),
        ("OPTIONS", "/sign-in", "GET, HEAD, POST"),
        ("DELETE", "/api/v1/patients", "GET, HEAD"),
        ("PATCH", "/admin/users/new", "GET, HEAD, POST"),
    ] {
        let r = Request::builder()
            .method(method)
            .uri(path)
            .header("host", HOST)
            .header("origin", format!("http://{HOST}"))
            .body(Body::empty())
            .unwrap();
        let response = tower::ServiceExt::oneshot(pdva_web::router(w.store.clone()), r)
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(
            response.headers().get("allow").unwrap(),
            allow,
            "{method} {path}"
        );
    }
    // HEAD of a page is its GET without the body.
    let r = Request::head("/healthz")
        .header("host", HOST)
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&w.store, r).await.status, 200);
    let logs = logs.text();
    assert!(!logs.contains("ERROR"), "{logs}");
}

#[tokio::test]
async fn a_failed_sign_in_is_logged_with_the_username_and_source() {
    let w = world().await;
    user(&w.store, "clin", Role::Clinician, ngh()).await;
    let (logs, _guard) = Logs::capture();
    // In process there is no peer address: "unknown".
    let answer = sign_in(&w.store, "clin", "not the password", "/").await;
    assert_eq!(answer.status, 401);
    // A served request carries its peer's address.
    let form = sign_in_form();
    let body = serde_urlencoded::to_string([
        ("username", "mallory"),
        ("password", "guess"),
        ("_csrf", form.csrf.as_str()),
    ])
    .unwrap();
    let mut r = Request::post("/sign-in")
        .header("host", HOST)
        .header("origin", format!("http://{HOST}"))
        .header("cookie", &form.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let peer: std::net::SocketAddr = "10.1.2.3:4567".parse().unwrap();
    r.extensions_mut().insert(axum::extract::ConnectInfo(peer));
    assert_eq!(send(&w.store, r).await.status, 401);
    let logs = logs.text();
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("pdva_web::auth: sign-in refused"))
        .collect();
    assert_eq!(lines.len(), 2, "{logs}");
    assert!(lines[0].contains("WARN"), "{logs}");
    assert!(lines[0].contains("\"clin\""), "{logs}");
    assert!(lines[0].contains("unknown"), "{logs}");
    assert!(lines[1].contains("\"mallory\""), "{logs}");
    assert!(lines[1].contains("10.1.2.3"), "{logs}");
    assert!(!logs.contains("not the password") && !logs.contains("guess"));
}

/// A client that sends part of a request line and then nothing is cut off
/// once the (here short) header-read timeout passes; a whole request is
/// still served. The bound on the wait is generous: this checks that the
/// server closes the connection, not how fast.
#[tokio::test]
async fn slow_connections_are_closed_after_the_header_read_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let w = world().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let settings = pdva_web::Settings {
        timeouts: pdva_web::Timeouts {
            header_read: std::time::Duration::from_millis(300),
            idle: std::time::Duration::from_millis(300),
        },
        ..Default::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(pdva_web::serve_with(
        listener,
        w.store.clone(),
        settings,
        async move {
            let _ = stopped.await;
        },
    ));

    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /healthz HT").await.unwrap();
        slow.push(c);
    }
    for mut c in slow {
        let mut buf = Vec::new();
        let closed =
            tokio::time::timeout(std::time::Duration::from_secs(20), c.read_to_end(&mut buf)).await;
        assert!(closed.is_ok(), "a slow connection was still open");
    }

    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nhost: registry.test\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    c.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
