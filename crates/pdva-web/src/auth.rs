//! Sign-in and sign-out, cookies, and the same-origin and CSRF checks the
//! guard applies to every state-changing request.
//!
//! - The session cookie carries a random 256-bit token (the database keeps
//!   only its SHA-256). It is `HttpOnly; SameSite=Strict; Path=/`, plus
//!   `Secure` when the registry is served over TLS (`--secure-cookies`),
//!   and has no `Max-Age`: the server ends it after 30 minutes idle or 12
//!   hours in all.
//! - CSRF: every form carries the session's token in a hidden field, which
//!   the guard compares with the session's on every POST; the sign-in form,
//!   before there is a session, uses a double-submit token: the same random
//!   value in a `SameSite=Strict` cookie and in the form. Every POST must
//!   also come from this site: its `Origin` (or, failing that, `Referer`)
//!   must name the host it was sent to.

use std::collections::HashMap;

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::authz::Caller;
use crate::{AppState, WebError};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "pdva_session";
/// The sign-in form's double-submit cookie.
pub const SIGN_IN_CSRF_COOKIE: &str = "pdva_sign_in_csrf";
/// The hidden form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "_csrf";
/// The header carrying the CSRF token of a JSON request made with a
/// session cookie (API requests with a bearer token need none).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The web server's settings.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Mark cookies `Secure` (serve over TLS, directly or behind a proxy).
    pub secure_cookies: bool,
    /// The licensed wording of the quality-of-life instruments, if the
    /// registry holds the licence (see [`crate::InstrumentWording`]).
    pub instrument_wording: Option<std::sync::Arc<crate::InstrumentWording>>,
    /// How long a connection may be slow or silent.
    pub timeouts: Timeouts,
}

/// How long a client may keep a connection without sending: a few slow
/// clients must not hold the server's connections open for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To send a request's line and headers; also how long a kept-alive
    /// connection may wait idle for its next request.
    pub header_read: std::time::Duration,
    /// Between two pieces of a request's body.
    pub idle: std::time::Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            header_read: std::time::Duration::from_secs(10),
            idle: std::time::Duration::from_secs(60),
        }
    }
}

/// The cookies of a request, by name.
pub fn cookies(headers: &HeaderMap) -> HashMap<String, String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            Some((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// A `Set-Cookie` value with the registry's flags.
pub fn cookie(settings: &Settings, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let mut c = format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if settings.secure_cookies {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).expect("cookie values are hex")
}

/// The first value of `name` in a URL-encoded form or query.
pub fn form_value(bytes: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The value of the text field `name` of a `multipart/form-data` body (an
/// upload form), if the body is one and has it.
pub async fn multipart_value(
    content_type: Option<&str>,
    bytes: &axum::body::Bytes,
    name: &str,
) -> Option<String> {
    let boundary = multer::parse_boundary(content_type?).ok()?;
    let body = bytes.clone();
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut parts = multer::Multipart::new(stream, boundary);
    while let Ok(Some(field)) = parts.next_field().await {
        if field.name() == Some(name) && field.file_name().is_none() {
            return field.text().await.ok();
        }
    }
    None
}

/// Compares two tokens in time independent of where they differ.
pub fn tokens_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Percent-encodes a value for a query string.
pub fn url_encode(value: &str) -> String {
    serde_urlencoded::to_string([("", value)])
        .map(|s| s.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

/// Whether a request came from this site's own pages: its `Origin`, or its
/// `Referer` when there is no `Origin`, names the host it was sent to.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let authority = |url: &str| {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))?;
        Some(rest.split('/').next().unwrap_or("").to_owned())
    };
    let from = match headers.get(header::ORIGIN) {
        Some(origin) => origin.to_str().ok().and_then(authority),
        None => headers
            .get(header::REFERER)
            .and_then(|r| r.to_str().ok())
            .and_then(authority),
    };
    from.is_some_and(|a| a.eq_ignore_ascii_case(host))
}

/// A path of this site to go to after signing in; anything else goes to
/// the start page. Only a path that starts with one `/` is followed: `//`
/// and `/\` would name another host to a browser, and a control
/// character or space, even percent-encoded (`/%09/evil.example`), may be
/// dropped by a browser so that what remains names another host. Anything
/// else that is not plain visible ASCII could not be a `Location` header.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if is_local_path(n) => n.to_owned(),
        _ => "/".to_owned(),
    }
}

fn is_local_path(next: &str) -> bool {
    let decoded = percent_decode(next);
    let local = |p: &[u8]| {
        p.first() == Some(&b'/')
            && !matches!(p.get(1), Some(b'/' | b'\\'))
            && !p.contains(&b'\\')
            && !p
                .iter()
                .any(|b| b.is_ascii_control() || b.is_ascii_whitespace())
    };
    next.bytes().all(|b| b.is_ascii_graphic()) && local(next.as_bytes()) && local(&decoded)
}

/// `%XX` sequences decoded to their bytes (any other byte kept as it is).
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    csrf_token: String,
    username: String,
    next: String,
    failed: bool,
    /// The user was signed out because wrong passwords locked the account.
    locked: bool,
}

/// Query of the sign-in page.
#[derive(Debug, Deserialize)]
pub(crate) struct SignInQuery {
    next: Option<String>,
    /// `yes` when wrong passwords given while signed in locked the account
    /// and ended the session.
    locked: Option<String>,
}

/// The sign-in page; sets the sign-in form's double-submit cookie.
pub(crate) async fn sign_in_page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<SignInQuery>,
) -> Result<Response, WebError> {
    if caller.session.is_some() {
        return Ok(Redirect::to(&safe_next(q.next.as_deref())).into_response());
    }
    let token = if caller.csrf_token.is_empty() {
        pdva_store::random_token()
    } else {
        caller.csrf_token.clone()
    };
    let page = SignInPage {
        csrf_token: token.clone(),
        username: String::new(),
        next: safe_next(q.next.as_deref()),
        failed: false,
        locked: q.locked.as_deref() == Some("yes"),
    };
    let mut response = Html(page.render()?).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie(&state.settings, SIGN_IN_CSRF_COOKIE, &token, None),
    );
    Ok(response)
}

/// The sign-in form.
#[derive(Deserialize)]
pub(crate) struct SignInForm {
    username: String,
    password: String,
    next: Option<String>,
}

/// Signs in: a new session, or the form again with one message whatever
/// went wrong.
#[tracing::instrument(skip_all)]
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::Form(form): axum::Form<SignInForm>,
) -> Result<Response, WebError> {
    let now = chrono::Utc::now();
    match state
        .store
        .sign_in(&form.username, &form.password, now)
        .await?
    {
        pdva_store::SignIn::Accepted(user) => {
            let session = state.store.start_session(&user, now).await?;
            tracing::info!(user = %user.username, "signed in");
            // After an administrator's reset, the new password comes first.
            let to = if user.must_change_password {
                crate::account::CHANGE_PASSWORD_PATH.to_owned()
            } else {
                safe_next(form.next.as_deref())
            };
            let mut response = Redirect::to(&to).into_response();
            let headers = response.headers_mut();
            headers.append(
                header::SET_COOKIE,
                cookie(&state.settings, SESSION_COOKIE, &session.token, None),
            );
            headers.append(
                header::SET_COOKIE,
                cookie(&state.settings, SIGN_IN_CSRF_COOKIE, "", Some(0)),
            );
            Ok(response)
        }
        pdva_store::SignIn::Refused => {
            // Who tried, and from where, for whoever watches for password
            // guessing. `?` quotes the username, so a typed newline cannot
            // forge a log line.
            tracing::warn!(
                username = ?form.username,
                source = %caller.source,
                "sign-in refused"
            );
            let page = SignInPage {
                csrf_token: caller.csrf_token.clone(),
                username: form.username,
                next: safe_next(form.next.as_deref()),
                failed: true,
                locked: false,
            };
            Ok((StatusCode::UNAUTHORIZED, Html(page.render()?)).into_response())
        }
    }
}

/// Signs out: the session is deleted and the cookie cleared.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    if let Some(token) = cookies(&headers).get(SESSION_COOKIE) {
        state.store.end_session(token).await?;
    }
    let mut response = Redirect::to("/sign-in").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie(&state.settings, SESSION_COOKIE, "", Some(0)),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn same_origin_needs_an_origin_or_referer_naming_the_host() {
        let ok = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ]);
        assert!(same_origin(&ok));
        let referer = headers(&[
            ("host", "127.0.0.1:8080"),
            ("referer", "http://127.0.0.1:8080/patients"),
        ]);
        assert!(same_origin(&referer));
        for bad in [
            headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://evil.example"),
            ]),
            headers(&[("host", "127.0.0.1:8080"), ("origin", "null")]),
            headers(&[("host", "127.0.0.1:8080")]),
            headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080.evil.example"),
            ]),
        ] {
            assert!(!same_origin(&bad), "{bad:?}");
        }
    }

    #[test]
    fn cookies_carry_the_flags_and_secure_only_when_asked() {
        let plain = cookie(&Settings::default(), "a", "b", None);
        assert_eq!(plain, "a=b; HttpOnly; SameSite=Strict; Path=/");
        let tls = cookie(
            &Settings {
                secure_cookies: true,
                ..Settings::default()
            },
            "a",
            "b",
            None,
        );
        assert!(tls.to_str().unwrap().ends_with("; Secure"));
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/patients/x")), "/patients/x");
        assert_eq!(
            safe_next(Some("/patients?site=NGH&x=%2F")),
            "/patients?site=NGH&x=%2F"
        );
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "/%5Cevil.example",
            "/%2Fevil.example",
            "https://evil.example",
            "evil.example",
            "",
            "/%09/evil.example",
            "/%0a",
            "/\n",
            "/\t/evil.example",
            "/ /evil.example",
            "/%20/evil.example",
            "/%7f",
            "/é",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("", ""));
    }
}
