//! Issue 15, "Locked down": who may send, who may read, and what a browser
//! on another origin can see.

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use base64::Engine;
use serde_json::json;
use sillage_collector::VISITOR_HEADER;

use crate::{admin, admin_get, batch, call, event_of, post, Env, TOKEN};

fn has_cors(h: &HeaderMap) -> bool {
    h.keys().any(|k| k.as_str().starts_with("access-control-"))
}

/// A browser's cross-origin batch (or its preflight) from `origin`.
fn from_origin(method: &str, origin: &str, body: String) -> Request<Body> {
    let mut req = Request::builder()
        .method(method)
        .uri("/v1/batch")
        .header(header::HOST, "collect.example")
        .header(header::ORIGIN, origin);
    if method == "OPTIONS" {
        req = req
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type");
    } else {
        req = req.header(header::CONTENT_TYPE, "text/plain");
    }
    req.body(Body::from(body)).unwrap()
}

#[tokio::test]
async fn ingestion_is_open_to_any_origin_by_default() {
    let e = Env::new();
    let a = call(
        &e,
        from_origin("POST", "https://anywhere.example", batch(&["c"])),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert_eq!(
        a.headers[header::ACCESS_CONTROL_EXPOSE_HEADERS]
            .to_str()
            .unwrap()
            .to_ascii_lowercase(),
        "retry-after"
    );
    let a = call(
        &e,
        from_origin("OPTIONS", "https://anywhere.example", String::new()),
    )
    .await;
    assert_eq!(a.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert!(a.headers[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .unwrap()
        .contains("POST"));
    assert_eq!(e.rows(), 1);
}

#[tokio::test]
async fn origins_limit_ingestion_to_the_listed_origins_and_the_collectors_own() {
    let e = Env::with(|o| o.origins = vec!["https://shop.example".into()]);
    // (origin or none, status, Access-Control-Allow-Origin)
    let cases: &[(Option<&str>, StatusCode, Option<&str>)] = &[
        (
            Some("https://shop.example"),
            StatusCode::OK,
            Some("https://shop.example"),
        ),
        // A page of the collector's own origin (the demo store).
        (Some("http://collect.example"), StatusCode::OK, None),
        (Some("https://Collect.Example"), StatusCode::OK, None),
        // Not a browser: a server sends no Origin.
        (None, StatusCode::OK, None),
        (Some("https://evil.example"), StatusCode::FORBIDDEN, None),
        (
            Some("https://shop.example.evil.example"),
            StatusCode::FORBIDDEN,
            None,
        ),
        (Some("null"), StatusCode::FORBIDDEN, None),
    ];
    for (i, &(origin, status, allow)) in cases.iter().enumerate() {
        let id = format!("o{i}");
        let mut req = Request::post("/v1/batch")
            .header(header::HOST, "collect.example")
            .header(header::CONTENT_TYPE, "text/plain");
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        let a = call(&e, req.body(Body::from(batch(&[&id]))).unwrap()).await;
        assert_eq!(a.status, status, "{origin:?}: {}", a.error());
        let got = a
            .headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(|v| v.to_str().unwrap());
        assert_eq!(got, allow, "{origin:?}");
        if status == StatusCode::FORBIDDEN {
            assert_eq!(
                a.error(),
                format!(
                    "origin: {} is not allowed to send to this collector",
                    origin.unwrap()
                )
            );
        }
    }
    assert_eq!(
        e.ids(),
        ["o0", "o1", "o2", "o3"],
        "nothing stored from other origins"
    );
    // Preflights: only the listed origin is allowed.
    let a = call(
        &e,
        from_origin("OPTIONS", "https://shop.example", String::new()),
    )
    .await;
    assert_eq!(
        a.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://shop.example"
    );
    let a = call(
        &e,
        from_origin("OPTIONS", "https://evil.example", String::new()),
    )
    .await;
    assert!(a.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

fn basic(key: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
    )
}

#[tokio::test]
async fn with_a_write_key_only_batches_carrying_it_are_stored() {
    let e = Env::with(|o| o.write_key = Some("wk-right".into()));
    // (writeKey in the body, Authorization, status, error)
    let cases: &[(Option<&str>, Option<String>, StatusCode, &str)] = &[
        (Some("wk-right"), None, StatusCode::OK, ""),
        (None, Some(basic("wk-right")), StatusCode::OK, ""),
        (
            Some("wk-right"),
            Some(basic("wk-right")),
            StatusCode::OK,
            "",
        ),
        (
            Some("wk-wrong"),
            None,
            StatusCode::UNAUTHORIZED,
            "writeKey: not this collector's write key",
        ),
        (
            None,
            None,
            StatusCode::UNAUTHORIZED,
            "writeKey: missing (this collector requires a write key)",
        ),
        (
            None,
            Some(basic("wk-wrong")),
            StatusCode::UNAUTHORIZED,
            "writeKey: not this collector's write key",
        ),
        (
            Some("wk-right"),
            Some(basic("wk-wrong")),
            StatusCode::UNAUTHORIZED,
            "writeKey: not this collector's write key",
        ),
        (
            Some("wk-wrong"),
            Some(basic("wk-right")),
            StatusCode::UNAUTHORIZED,
            "writeKey: not this collector's write key",
        ),
        (
            Some("wk-right"),
            Some("Bearer wk-right".into()),
            StatusCode::UNAUTHORIZED,
            "authorization: expected Basic credentials with the write key as user name",
        ),
        (
            Some("wk-right"),
            Some("Basic !!!".into()),
            StatusCode::UNAUTHORIZED,
            "authorization: expected Basic credentials with the write key as user name",
        ),
    ];
    let mut stored = Vec::new();
    for (i, (key, auth, status, err)) in cases.iter().enumerate() {
        let id = format!("k{i}");
        let mut body = json!({"batch": [crate::event(&id)]});
        if let Some(k) = key {
            body["writeKey"] = json!(k);
        }
        let mut req = Request::post("/v1/batch").header(header::CONTENT_TYPE, "text/plain");
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        let a = call(&e, req.body(Body::from(body.to_string())).unwrap()).await;
        assert_eq!((a.status, a.error().as_str()), (*status, *err), "case {i}");
        if *status == StatusCode::OK {
            stored.push(id);
        }
    }
    assert_eq!(e.ids(), stored);
    assert_eq!(admin_get(&e, "/v1/stats").await["unauthorized"], 7);
    // Without --write-key, any key (or none) is accepted.
    let open = Env::new();
    let body = json!({"batch": [crate::event("x")], "writeKey": "whatever"}).to_string();
    assert_eq!(post(&open, body).await.status, StatusCode::OK);
}

/// Every read and admin route, as a request without credentials.
fn admin_routes() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        ("GET", "/v1/events", ""),
        ("GET", "/v1/events?limit=1000", ""),
        ("GET", "/v1/stats", ""),
        ("GET", "/v1/export?anonymousId=a-1", ""),
        ("POST", "/v1/admin/forget", r#"{"userId":"u-1"}"#),
        ("POST", "/v1/faults", r#"{"status":503,"requests":1}"#),
        ("DELETE", "/v1/faults", ""),
        ("GET", "/report", ""),
        ("GET", "/v1/report?from=2026-01-01", ""),
    ]
}

fn basic_login(user: &str, password: &str) -> String {
    let creds = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {creds}")
}

#[tokio::test]
async fn every_read_and_admin_route_needs_the_admin_token() {
    let e = Env::with(|o| o.faults = true);
    post(&e, batch(&["a"])).await;
    // (Authorization, error)
    const EXPECTED: &str =
        "authorization: expected Bearer <admin token> (or Basic with the admin token as password)";
    let refused: &[(Option<String>, &str)] = &[
        (None, EXPECTED),
        (
            Some("Bearer wrong-token-0123456789".into()),
            "authorization: wrong admin token",
        ),
        (
            Some(format!("Bearer {TOKEN}x")),
            "authorization: wrong admin token",
        ),
        // The token as the user name is not the token as the password.
        (
            Some(basic_login(TOKEN, "")),
            "authorization: wrong admin token",
        ),
        (
            Some(basic_login("admin", "nope")),
            "authorization: wrong admin token",
        ),
        // Not base64 credentials, or no colon in them.
        (Some(format!("Basic {TOKEN}")), EXPECTED),
        (Some(TOKEN.into()), EXPECTED),
    ];
    for (method, path, body) in admin_routes() {
        for (auth, err) in refused {
            let mut req = Request::builder().method(method).uri(path);
            if let Some(a) = auth {
                req = req.header(header::AUTHORIZATION, a);
            }
            let a = call(&e, req.body(Body::from(body)).unwrap()).await;
            assert_eq!(
                (a.status, a.error().as_str()),
                (StatusCode::UNAUTHORIZED, *err),
                "{method} {path} with {auth:?}"
            );
            let challenges: Vec<&str> = a
                .headers
                .get_all(header::WWW_AUTHENTICATE)
                .iter()
                .map(|v| v.to_str().unwrap())
                .collect();
            assert_eq!(
                challenges,
                [
                    "Bearer realm=\"sillage-collector\"",
                    "Basic realm=\"sillage-collector\", charset=\"UTF-8\""
                ]
            );
        }
        let a = call(&e, admin(method, path, body)).await;
        assert!(a.status.is_success(), "{method} {path}: {}", a.error());
        // A browser's Basic prompt: any user name, the token as password.
        if method == "GET" {
            let req = Request::builder()
                .method(method)
                .uri(path)
                .header(header::AUTHORIZATION, basic_login("owner", TOKEN));
            let a = call(&e, req.body(Body::empty()).unwrap()).await;
            assert!(
                a.status.is_success(),
                "{method} {path} with Basic: {}",
                a.error()
            );
        }
    }
    assert_eq!(e.rows(), 1, "the refused requests changed nothing");
}

#[tokio::test]
async fn without_an_admin_token_the_read_routes_are_closed() {
    let e = Env::with(|o| {
        o.admin_token = None;
        o.faults = true;
    });
    for (method, path, body) in admin_routes() {
        let a = call(&e, admin(method, path, body)).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(
            a.error(),
            "authorization: this collector has no admin token (start it with --admin-token or SILLAGE_ADMIN_TOKEN)"
        );
    }
}

#[tokio::test]
async fn a_page_on_another_origin_cannot_read_events() {
    // The leak of issue 15: evil.example read every visitor's events.
    let e = Env::new();
    let mut ev = event_of("m", "a-1");
    ev["userId"] = json!("someone@example.com");
    post(&e, json!({"batch": [ev]}).to_string()).await;
    for (method, path, _) in admin_routes() {
        // Without the token (what a visitor's browser has): 401, no CORS.
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::ORIGIN, "https://evil.example")
            .body(Body::empty())
            .unwrap();
        let a = call(&e, req).await;
        assert!(!a.status.is_success(), "{method} {path}");
        assert!(!has_cors(&a.headers), "{method} {path}: {:?}", a.headers);
        // Even with the token, no CORS header: a browser page never reads them.
        let mut req = admin(method, path, Body::empty());
        req.headers_mut()
            .insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!has_cors(&call(&e, req).await.headers), "{method} {path}");
        // Nor does a preflight allow anything.
        let req = Request::builder()
            .method("OPTIONS")
            .uri(path)
            .header(header::ORIGIN, "https://evil.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, method)
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
            .body(Body::empty())
            .unwrap();
        assert!(!has_cors(&call(&e, req).await.headers), "OPTIONS {path}");
    }
}

#[tokio::test]
async fn unknown_query_parameters_get_400_naming_them() {
    let e = Env::with(|o| o.visitor_view = true);
    let known_events = "(known: limit, type, event, anonymousId, userId)";
    let cases: Vec<(&str, String)> = vec![
        (
            "/v1/events?anonymousid=a-1",
            format!("query: unknown parameter \"anonymousid\" {known_events}"),
        ),
        (
            "/v1/events?limit=5&bogus=1&x=2&bogus=3",
            format!("query: unknown parameters \"bogus\", \"x\" {known_events}"),
        ),
        (
            "/v1/stats?verbose=1",
            "query: unknown parameter \"verbose\" (known: none)".into(),
        ),
        (
            "/v1/export?userId=u&limit=3",
            "query: unknown parameter \"limit\" (known: anonymousId, userId)".into(),
        ),
        (
            "/v1/me/events?anonymousId=x",
            "query: unknown parameter \"anonymousId\" (known: limit)".into(),
        ),
    ];
    for (path, want) in cases {
        let mut req = admin("GET", path, Body::empty());
        req.headers_mut().insert(
            VISITOR_HEADER,
            "00000000-0000-4000-8000-000000000000".parse().unwrap(),
        );
        let a = call(&e, req).await;
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::BAD_REQUEST, want),
            "{path}"
        );
    }
}

/// `GET /v1/me/events` as a visitor presenting `id`.
fn me(id: Option<&str>, origin: Option<&str>) -> Request<Body> {
    let mut req = Request::get("/v1/me/events");
    if let Some(id) = id {
        req = req.header(VISITOR_HEADER, id);
    }
    if let Some(o) = origin {
        req = req.header(header::ORIGIN, o);
    }
    req.body(Body::empty()).unwrap()
}

const ME: &str = "6f1c1d9e-2b4a-4c3e-9f7a-0d5e8b2a1c34";
const OTHER: &str = "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d";

#[tokio::test]
async fn the_visitor_view_returns_only_the_callers_own_events() {
    let e = Env::with(|o| o.visitor_view = true);
    let events: Vec<_> = (0..3)
        .map(|i| event_of(&format!("me-{i}"), ME))
        .chain((0..4).map(|i| event_of(&format!("other-{i}"), OTHER)))
        .collect();
    post(&e, json!({"batch": events}).to_string()).await;
    let a = call(&e, me(Some(ME), None)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers[header::CACHE_CONTROL], "no-store");
    let body = a.json();
    let got: Vec<String> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["messageId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, ["me-0", "me-1", "me-2"]);
    assert!(body["events"][0]["receivedAt"].is_string());
    let a = call(
        &e,
        Request::get("/v1/me/events?limit=1")
            .header(VISITOR_HEADER, OTHER)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.json()["events"].as_array().unwrap().len(), 1);
    assert_eq!(a.json()["events"][0]["messageId"], "other-3");
    // An unknown id reads nothing (and looks like a visitor with no events).
    let a = call(&e, me(Some("11111111-1111-4111-8111-111111111111"), None)).await;
    assert_eq!(
        (a.status, a.json()),
        (StatusCode::OK, json!({"events": []}))
    );
    // (header, error): only an SDK-style random UUID is a capability.
    let bad: &[(Option<&str>, &str)] = &[
        (
            None,
            "Sillage-Anonymous-Id: missing (the header carries your own anonymousId)",
        ),
        (
            Some("a-1"),
            "Sillage-Anonymous-Id: must be a lower-case UUID (the SDK's random anonymousId)",
        ),
        (
            Some(""),
            "Sillage-Anonymous-Id: must be a lower-case UUID (the SDK's random anonymousId)",
        ),
        (
            Some("6F1C1D9E-2B4A-4C3E-9F7A-0D5E8B2A1C34"),
            "Sillage-Anonymous-Id: must be a lower-case UUID (the SDK's random anonymousId)",
        ),
        (
            Some("6f1c1d9e-2b4a-4c3e-9f7a-0d5e8b2a1c3"),
            "Sillage-Anonymous-Id: must be a lower-case UUID (the SDK's random anonymousId)",
        ),
    ];
    for (id, err) in bad {
        let a = call(&e, me(*id, None)).await;
        assert_eq!(
            (a.status, a.error().as_str()),
            (StatusCode::BAD_REQUEST, *err),
            "{id:?}"
        );
    }
    let a = call(
        &e,
        Request::get("/v1/me/events?limit=201")
            .header(VISITOR_HEADER, ME)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        a.error(),
        "limit: must be a whole number from 1 to 200, not \"201\""
    );
}

#[tokio::test]
async fn the_visitor_view_is_off_unless_turned_on() {
    let e = Env::new();
    post(&e, json!({"batch": [event_of("m", ME)]}).to_string()).await;
    let a = call(&e, me(Some(ME), None)).await;
    assert_eq!(
        (a.status, a.error().as_str()),
        (
            StatusCode::NOT_FOUND,
            "the visitor view is off (start the collector with --visitor-view)"
        )
    );
}

#[tokio::test]
async fn the_visitor_view_is_cross_origin_only_for_origins_listed_by_name() {
    // With the default `*`, no origin may read it cross-origin.
    let e = Env::with(|o| o.visitor_view = true);
    let a = call(&e, me(Some(ME), Some("https://evil.example"))).await;
    assert!(!has_cors(&a.headers), "{:?}", a.headers);
    let e = Env::with(|o| {
        o.visitor_view = true;
        o.origins = vec!["https://shop.example".into()];
    });
    let a = call(&e, me(Some(ME), Some("https://shop.example"))).await;
    assert_eq!(
        a.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://shop.example"
    );
    let a = call(&e, me(Some(ME), Some("https://evil.example"))).await;
    assert!(a.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    let pre = Request::builder()
        .method("OPTIONS")
        .uri("/v1/me/events")
        .header(header::ORIGIN, "https://shop.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, VISITOR_HEADER)
        .body(Body::empty())
        .unwrap();
    let a = call(&e, pre).await;
    assert_eq!(
        a.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://shop.example"
    );
    assert!(a.headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .contains(VISITOR_HEADER));
}

#[tokio::test]
async fn the_visitor_view_is_rate_limited_per_address() {
    let e = Env::with(|o| o.visitor_view = true);
    let burst = sillage_collector::VISITOR_RATE.burst as usize;
    for i in 0..burst {
        assert_eq!(
            call(&e, me(Some(ME), None)).await.status,
            StatusCode::OK,
            "request {i}"
        );
    }
    let a = call(&e, me(Some(OTHER), None)).await;
    assert_eq!(
        a.status,
        StatusCode::TOO_MANY_REQUESTS,
        "another id from the same address"
    );
    assert_eq!(a.headers[header::RETRY_AFTER], "1");
}
