//! Upstream's error responses: a `metav1.Status` as JSON for 401 (`responsewriters.Unauthorized`)
//! and 403 (`responsewriters.Forbidden` → `ForbiddenStatusError`), plain text for 500
//! (`responsewriters.InternalError`).

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;
use serde_json::json;

/// `{"kind":"Status",…,"reason":"Unauthorized","code":401}`.
pub fn unauthorized(pretty: bool) -> Response<Full<Bytes>> {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    });
    status_json(StatusCode::UNAUTHORIZED, &body, false, pretty)
}

/// `forbidden: User "<name>" cannot <verb> path "<path>"[: <reason>]`.
pub fn forbidden(
    user: &str,
    verb: &str,
    path: &str,
    reason: &str,
    pretty: bool,
) -> Response<Full<Bytes>> {
    let subject = sanitize(&format!(
        "User {} cannot {verb} path {}",
        go_quote(user),
        go_quote(path)
    ));
    let message = if reason.is_empty() {
        format!("forbidden: {subject}")
    } else {
        format!("forbidden: {subject}: {reason}")
    };
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Forbidden",
        "details": {},
        "code": 403,
    });
    status_json(StatusCode::FORBIDDEN, &body, true, pretty)
}

/// `http.Error(w, "Internal Server Error: <quoted RequestURI>: <err>", 500)`.
pub fn internal_error(request_uri: &str, error: &str) -> Response<Full<Bytes>> {
    let text = sanitize(&format!(
        "Internal Server Error: {}: {error}",
        go_quote(request_uri)
    ));
    Response::builder()
        .status(StatusCode::INTERNAL_SERVER_ERROR)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header("X-Content-Type-Options", "nosniff")
        .body(Full::new(Bytes::from(format!("{text}\n"))))
        .unwrap_or_default()
}

/// `negotiation.isPrettyPrint`: `?pretty=<bool>` decides; else clients whose User-Agent starts
/// with `curl`, `Wget` or `Mozilla/5.0` get indented JSON.
pub fn wants_pretty(query: Option<&str>, user_agent: Option<&str>) -> bool {
    if let Some(query) = query.filter(|q| q.contains("pretty")) {
        let value = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("pretty="))
            .unwrap_or_default();
        if !value.is_empty() {
            return matches!(value, "1" | "t" | "T" | "TRUE" | "true" | "True");
        }
    }
    let agent = user_agent.unwrap_or_default();
    agent.starts_with("curl") || agent.starts_with("Wget") || agent.starts_with("Mozilla/5.0")
}

/// Go's encoder output: fields in struct order, HTML characters escaped; compact with a
/// trailing newline (`json.Encoder`), or indented by two spaces without one (`json.MarshalIndent`).
fn status_json(
    code: StatusCode,
    body: &serde_json::Value,
    nosniff: bool,
    pretty: bool,
) -> Response<Full<Bytes>> {
    const ORDER: [&str; 8] = [
        "kind",
        "apiVersion",
        "metadata",
        "status",
        "message",
        "reason",
        "details",
        "code",
    ];
    let fields: Vec<String> = ORDER
        .iter()
        .filter_map(|key| {
            body.get(*key).map(|value| {
                if pretty {
                    format!("  \"{key}\": {value}")
                } else {
                    format!("\"{key}\":{value}")
                }
            })
        })
        .collect();
    let out = if pretty {
        format!("{{\n{}\n}}", fields.join(",\n"))
    } else {
        format!("{{{}}}\n", fields.join(","))
    };
    let mut builder = Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "application/json");
    if nosniff {
        builder = builder.header("X-Content-Type-Options", "nosniff");
    }
    builder
        .body(Full::new(Bytes::from(escape_html(&out))))
        .unwrap_or_default()
}

/// `responsewriters`' sanitizer: `&`, `<`, `>` as HTML entities.
fn sanitize(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Go's JSON encoder escapes `<`, `>`, `&`, U+2028 and U+2029 (they only occur inside strings).
fn escape_html(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Go's `%q` for printable text: double quotes, backslash escapes.
fn go_quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests;
