//! The API's reference as a page people read, at `/docs`: every route with
//! what it takes and answers, then every schema, rendered from
//! `infra/openapi.yaml` into `functions/dashboard/assets/api.html`. The
//! dashboard serves that file as written, under the page's own Content
//! Security Policy, so no YAML parser ships in a Lambda; a test keeps the
//! file equal to what this renders (`CALLOPS_WRITE_API_PAGE=1 cargo test -p
//! callops api_page` writes it again after the document changes).

use serde_json::Value;

/// Text made safe inside HTML, in an element or a quoted attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The value `$ref` points at in the document (`#/components/...`), or the value itself.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => doc.pointer(pointer).unwrap_or(value),
        None => value,
    }
}

/// A schema as a type a person reads: `string (date-time)`, `one of A, B`, a link to a named schema, `array of ...`.
fn type_of(schema: &Value) -> String {
    if let Some(name) = schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/")) {
        return format!("<a href=\"#schema-{0}\">{0}</a>", escape(name));
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values.iter().map(|v| format!("<code>{}</code>", escape(v.to_string().trim_matches('"')))).collect();
        return format!("one of {}", values.join(", "));
    }
    for combined in ["oneOf", "anyOf", "allOf"] {
        if let Some(options) = schema.get(combined).and_then(Value::as_array) {
            return options.iter().map(type_of).collect::<Vec<_>>().join(" or ");
        }
    }
    let kind = match schema.get("type") {
        Some(Value::Array(kinds)) => kinds.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" or "),
        Some(Value::String(kind)) => kind.clone(),
        _ => "any".to_string(),
    };
    let kind = match (kind.as_str(), schema.get("items")) {
        (k, Some(items)) if k.starts_with("array") => format!("array of {}", type_of(items)),
        _ => escape(&kind),
    };
    match schema.get("format").and_then(Value::as_str) {
        Some(format) => format!("{kind} ({})", escape(format)),
        None => kind,
    }
}

/// A table of an object schema's properties: name, type, required, what it is.
fn properties(doc: &Value, schema: &Value) -> String {
    let schema = resolve(doc, schema);
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return format!("<p>{}</p>", type_of(schema));
    };
    let required: Vec<&str> = schema.get("required").and_then(Value::as_array).map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let rows: String = props
        .iter()
        .map(|(name, prop)| {
            let about = prop.get("description").and_then(Value::as_str).unwrap_or_default();
            let needed = if required.contains(&name.as_str()) { "yes" } else { "" };
            format!("<tr><td><code>{}</code></td><td>{}</td><td>{needed}</td><td>{}</td></tr>", escape(name), type_of(prop), escape(about))
        })
        .collect();
    format!("<table class=\"rows-table\"><thead><tr><th>Field</th><th>Type</th><th>Required</th><th>What it is</th></tr></thead><tbody>{rows}</tbody></table>")
}

/// One route: what it is for, who may call it, what it takes and what it answers.
fn operation(doc: &Value, method: &str, path: &str, op: &Value) -> String {
    let id = op.get("operationId").and_then(Value::as_str).unwrap_or(path);
    let mut html = format!(
        "<section class=\"api-op\" id=\"op-{}\"><h2><span class=\"method\">{}</span> <code>{}</code></h2>",
        escape(id),
        method.to_uppercase(),
        escape(path)
    );
    for key in ["summary", "description"] {
        if let Some(text) = op.get(key).and_then(Value::as_str) {
            html.push_str(&format!("<p>{}</p>", escape(text.trim())));
        }
    }
    let public = op.get("security").and_then(Value::as_array).is_some_and(Vec::is_empty);
    html.push_str(if public {
        "<p class=\"meta\">No token needed.</p>"
    } else {
        "<p class=\"meta\">Needs a bearer token with the practice's <code>org_id</code>.</p>"
    });
    if let Some(params) = op.get("parameters").and_then(Value::as_array).filter(|p| !p.is_empty()) {
        let rows: String = params
            .iter()
            .map(|p| resolve(doc, p))
            .map(|p| {
                let text = |key: &str| p.get(key).and_then(Value::as_str).unwrap_or_default();
                let needed = if p.get("required").and_then(Value::as_bool).unwrap_or(false) { "yes" } else { "" };
                let kind = p.get("schema").map(type_of).unwrap_or_default();
                format!(
                    "<tr><td><code>{}</code></td><td>{}</td><td>{kind}</td><td>{needed}</td><td>{}</td></tr>",
                    escape(text("name")),
                    escape(text("in")),
                    escape(text("description"))
                )
            })
            .collect();
        html.push_str(&format!(
            "<h3>Parameters</h3><table class=\"rows-table\"><thead><tr><th>Name</th><th>In</th><th>Type</th><th>Required</th><th>What it is</th></tr></thead><tbody>{rows}</tbody></table>"
        ));
    }
    if let Some(body) = op.get("requestBody").map(|b| resolve(doc, b))
        && let Some(content) = body.get("content").and_then(Value::as_object)
    {
        for (media, spec) in content {
            html.push_str(&format!("<h3>Body <span class=\"meta\">{}</span></h3>", escape(media)));
            if let Some(schema) = spec.get("schema") {
                html.push_str(&properties(doc, schema));
            }
        }
    }
    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        let items: String = responses
            .iter()
            .map(|(code, answer)| {
                let answer = resolve(doc, answer);
                let about = answer.get("description").and_then(Value::as_str).unwrap_or_default();
                let shape = answer
                    .get("content")
                    .and_then(Value::as_object)
                    .and_then(|c| c.values().next())
                    .and_then(|c| c.get("schema"))
                    .map(|s| format!(": {}", type_of(s)))
                    .unwrap_or_default();
                format!("<li><code>{}</code> {}{shape}</li>", escape(code), escape(about.trim()))
            })
            .collect();
        html.push_str(&format!("<h3>Answers</h3><ul>{items}</ul>"));
    }
    html.push_str("</section>");
    html
}

/// The whole page.
pub fn render(doc: &Value) -> String {
    let text = |pointer: &str| doc.pointer(pointer).and_then(Value::as_str).unwrap_or_default().trim().to_string();
    let mut routes = Vec::new();
    for (path, item) in doc.get("paths").and_then(Value::as_object).into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            routes.push((path.as_str(), method.as_str(), op));
        }
    }
    let contents: String = routes
        .iter()
        .map(|(path, method, op)| {
            let id = op.get("operationId").and_then(Value::as_str).unwrap_or(path);
            let summary = op.get("summary").and_then(Value::as_str).unwrap_or_default();
            format!("<li><a href=\"#op-{}\"><span class=\"method\">{}</span> {}</a> {}</li>", escape(id), method.to_uppercase(), escape(path), escape(summary))
        })
        .collect();
    let body: String = routes.iter().map(|(path, method, op)| operation(doc, method, path, op)).collect();
    let schemas: String = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, schema)| {
            let about = schema.get("description").and_then(Value::as_str).map(|d| format!("<p>{}</p>", escape(d.trim()))).unwrap_or_default();
            format!("<section class=\"api-op\" id=\"schema-{0}\"><h2>{0}</h2>{about}{1}</section>", escape(name), properties(doc, schema))
        })
        .collect();
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title} API</title>\n<link rel=\"stylesheet\" href=\"assets/app.css\">\n</head>\n<body class=\"api-doc\">\n<main>\n<h1>{title} API <span class=\"meta\">{version}</span></h1>\n<p>{about}</p>\n<p><a href=\"./\">The dashboard</a></p>\n<nav><h2>Routes</h2><ul class=\"api-contents\">{contents}</ul></nav>\n{body}\n<h1 id=\"schemas\">Schemas</h1>\n{schemas}\n</main>\n</body>\n</html>\n",
        title = escape(&text("/info/title")),
        version = escape(&text("/info/version")),
        about = escape(&text("/info/description")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "../../functions/dashboard/assets/api.html";

    #[test]
    fn the_served_api_page_is_the_openapi_document_rendered() {
        let rendered = render(crate::openapi());
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PAGE);
        if std::env::var_os("CALLOPS_WRITE_API_PAGE").is_some() {
            std::fs::write(&path, &rendered).unwrap();
        }
        let served = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            served == rendered,
            "functions/dashboard/assets/api.html is not infra/openapi.yaml rendered: run CALLOPS_WRITE_API_PAGE=1 cargo test -p callops api_page"
        );
    }

    #[test]
    fn the_page_names_every_route_and_escapes_what_the_document_says() {
        let rendered = render(crate::openapi());
        for route in crate::gateway::routes() {
            let (method, path) = route.key.split_once(' ').unwrap();
            assert!(rendered.contains(&format!("<span class=\"method\">{method}</span> {}</a>", escape(path))), "{} is missing", route.key);
        }
        let hostile = serde_json::json!({"info": {"title": "<script>x</script>"}, "paths": {"/a": {"get": {"summary": "\"><img src=x onerror=y>"}}}});
        let page = render(&hostile);
        assert!(!page.contains("<script>x") && !page.contains("<img"), "{page}");
    }
}
