//! `@Upload`: multipart bodies, their files and fields; 413, 415, 400.

use bytes::Bytes;
use omnitron::ErrorCode;
use omnitron::http::{
    AppOptions, HttpApp, HttpService, InjectRequest, Method, Request, Response, RouteSpec, UploadSpec,
};
use serde_json::{Value, json};

use crate::send;

const BOUNDARY: &str = "----omnitron-test-7MA4YWxkTrZu0gW";

/// One part: field name, file name, content type, bytes.
type Part<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, filename, ctype, data) in parts {
        out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let mut d = format!("Content-Disposition: form-data; name=\"{name}\"");
        if let Some(f) = filename {
            d.push_str(&format!("; filename=\"{f}\""));
        }
        out.extend_from_slice(d.as_bytes());
        out.extend_from_slice(b"\r\n");
        if let Some(t) = ctype {
            out.extend_from_slice(format!("Content-Type: {t}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

fn content_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// What the handler saw: the files (without their bytes) and the body.
async fn describe(req: Request) -> Result<Response, omnitron::http::HttpError> {
    let input = req.input().unwrap();
    let files: Vec<Value> = input
        .files
        .iter()
        .map(|f| {
            json!({"field": f.field, "filename": f.filename, "type": f.content_type, "size": f.data.len(),
            "head": String::from_utf8_lossy(&f.data[..f.data.len().min(8)])})
        })
        .collect();
    Ok(Response::json(200, &json!({ "files": files, "body": input.body })))
}

fn app() -> HttpService {
    HttpApp::new(AppOptions::default())
        .route(
            RouteSpec::new(Method::POST, "/avatar").upload(UploadSpec {
                max_size: 1024,
                mime_types: vec!["image/*".into(), "application/pdf".into()],
                field: "avatar".into(),
            }),
            describe,
        )
        .route(
            RouteSpec::new(Method::POST, "/big").upload(UploadSpec {
                max_size: 3 * 1024 * 1024,
                mime_types: vec![],
                field: "file".into(),
            }),
            describe,
        )
        .route(RouteSpec::new(Method::POST, "/plain"), |req: Request| async move {
            Ok(Response::json(200, &json!({ "size": req.body().len() })))
        })
        .build()
        .unwrap()
}

async fn post(svc: &HttpService, path: &str, ctype: &str, body: Vec<u8>) -> (u16, Value) {
    let r = svc
        .inject(InjectRequest::new(Method::POST, path).header("content-type", ctype).body(body))
        .await
        .unwrap();
    (r.status(), serde_json::from_slice(r.body()).unwrap_or(Value::Null))
}

#[tokio::test]
async fn files_and_fields_reach_the_handler() {
    let svc = app();
    let body = multipart(&[
        ("title", None, None, b"Holiday"),
        ("tags", None, None, b"sea"),
        ("tags", None, None, b"sun"),
        ("avatar", Some("me \\\"1\\\".png"), Some("image/png"), b"\x89PNG\r\n\x1a\nrest"),
    ]);
    let (status, v) = post(&svc, "/avatar", &content_type(), body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["body"], json!({"title": "Holiday", "tags": ["sea", "sun"]}));
    assert_eq!(v["files"][0]["field"], "avatar");
    assert_eq!(v["files"][0]["filename"], "me \"1\".png");
    assert_eq!(v["files"][0]["type"], "image/png");
    assert_eq!(v["files"][0]["size"], 12);
    // The file may be the only part; "no file chosen" parts are skipped.
    let body = multipart(&[
        ("avatar", Some(""), Some("application/octet-stream"), b""),
        ("avatar", Some("a.pdf"), Some("application/pdf"), b"%PDF"),
    ]);
    let (status, v) = post(&svc, "/avatar", &content_type(), body).await;
    assert_eq!((status, v["files"].as_array().unwrap().len()), (200, 1));
}

#[tokio::test]
async fn wrong_uploads_get_413_415_and_400() {
    let svc = app();
    let problem = |(status, v): (u16, Value)| (status, v["code"].as_str().unwrap_or("").to_string());
    let code = |c: ErrorCode| c.as_str().to_string();

    let big = vec![b'x'; 1025];
    let r = post(
        &svc,
        "/avatar",
        &content_type(),
        multipart(&[("avatar", Some("a.png"), Some("image/png"), &big)]),
    )
    .await;
    assert_eq!(problem(r), (413, code(ErrorCode::BodyTooLarge)));

    let r = post(&svc, "/avatar", "application/json", b"{}".to_vec()).await;
    assert_eq!(problem(r), (415, code(ErrorCode::UnsupportedMediaType)));
    let r = post(
        &svc,
        "/avatar",
        &content_type(),
        multipart(&[("avatar", Some("a.txt"), Some("text/plain"), b"hi")]),
    )
    .await;
    assert_eq!(problem(r), (415, code(ErrorCode::UnsupportedMediaType)));
    // No content type on a file part means text/plain (RFC 7578).
    let r =
        post(&svc, "/avatar", &content_type(), multipart(&[("avatar", Some("a.png"), None, b"hi")])).await;
    assert_eq!(problem(r), (415, code(ErrorCode::UnsupportedMediaType)));

    // The field is named as the schemas' failures name theirs.
    let field = |r: &(u16, Value)| (r.1["errors"][0]["in"].clone(), r.1["errors"][0]["path"].clone());
    let r = post(&svc, "/avatar", &content_type(), multipart(&[("title", None, None, b"no file")])).await;
    assert_eq!(field(&r), (json!("body"), json!("/avatar")), "{r:?}");
    assert_eq!(problem(r), (400, code(ErrorCode::ValidationFailed)));
    let r = post(
        &svc,
        "/avatar",
        &content_type(),
        multipart(&[("other", Some("a.png"), Some("image/png"), b"x")]),
    )
    .await;
    assert_eq!(field(&r), (json!("body"), json!("/other")), "{r:?}");
    assert_eq!(problem(r), (400, code(ErrorCode::ValidationFailed)));

    // Malformed bodies: a 400, never a panic or a hang.
    let good = multipart(&[("avatar", Some("a.png"), Some("image/png"), b"x")]);
    for (ctype, body) in [
        ("multipart/form-data".to_string(), good.clone()),
        (content_type(), good[..good.len() - 10].to_vec()),
        (content_type(), b"garbage".to_vec()),
        (content_type(), Vec::new()),
        (content_type(), format!("--{BOUNDARY}\r\nX-Nothing: 1\r\n\r\nx\r\n--{BOUNDARY}--").into_bytes()),
        (
            content_type(),
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--{BOUNDARY}--")
                .into_bytes(),
        ),
        (content_type(), vec![0xff; 300]),
    ] {
        let r = post(&svc, "/avatar", &ctype, body).await;
        assert_eq!(r.0, 400, "{r:?}");
    }
    let ok = post(&svc, "/avatar", &content_type(), good).await;
    assert_eq!(ok.0, 200, "the server still serves");
}

#[tokio::test]
async fn an_upload_route_takes_a_body_above_the_server_limit_up_to_its_own() {
    let svc = app();
    let server = svc.listen("127.0.0.1:0").await.unwrap();
    let a = server.local_addr();
    let file = vec![b'z'; 2 * 1024 * 1024];
    let body = multipart(&[("file", Some("z.bin"), Some("application/octet-stream"), &file)]);
    let ct = content_type();
    let r = send(a, Method::POST, "/big", &[("content-type", ct.as_str())], body).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["files"][0]["size"], 2 * 1024 * 1024);
    // The same bytes to a route without @Upload are over the server's 1 MiB.
    let r = send(a, Method::POST, "/plain", &[], Bytes::from(file)).await;
    assert_eq!(r.status, 413);
    server.shutdown().await;
}
