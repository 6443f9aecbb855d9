//! The HTML sanitiser's fixtures, read the same way by the native tests
//! (`tests/it/html.rs`) and the browser tests (`tests/browser/html.rs`).

/// Ordinary content and its exact canonical output: `html`, `want`.
pub fn ordinary() -> Vec<[String; 2]> {
    objects(include_str!("../fixtures/html.json"), ["html", "want"])
}

/// The XSS corpus: `name`, `html`.
pub fn corpus() -> Vec<[String; 2]> {
    objects(include_str!("../fixtures/xss.json"), ["name", "html"])
}

/// The elements and the attributes that must never reach the page,
/// whatever the allow-lists say.
pub fn forbidden() -> (Vec<String>, Vec<String>) {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/forbidden.json")).unwrap();
    let list = |k: &str| {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    (list("elements"), list("attributes"))
}

/// The string fields `keys` of each object of a JSON array.
fn objects<const N: usize>(text: &str, keys: [&str; N]) -> Vec<[String; N]> {
    let all: Vec<serde_json::Value> = serde_json::from_str(text).unwrap();
    all.iter()
        .map(|v| keys.map(|k| v[k].as_str().expect(k).to_string()))
        .collect()
}

/// Text or an attribute value as the canonical rendering writes it: `&`,
/// `<`, `>` escaped in text, `&` and `"` in attribute values.
pub fn escape(s: &str, attr: bool) -> String {
    let s = s.replace('&', "&amp;");
    if attr {
        s.replace('"', "&quot;")
    } else {
        s.replace('<', "&lt;").replace('>', "&gt;")
    }
}

/// The URLs an attribute value holds, for the oracles: the whole value of
/// a URL attribute, and every token of a `srcset` (at least the candidates
/// a browser sees).
pub fn urls<'a>(name: &str, value: &'a str) -> Vec<&'a str> {
    match name {
        "href" | "src" | "cite" | "xlink:href" => vec![value],
        "srcset" => value
            .split(|c: char| c == ',' || c.is_ascii_whitespace())
            .collect(),
        _ => vec![],
    }
}

/// Elements written without an end tag.
pub const VOID: &[&str] = &["br", "hr", "img", "source", "wbr"];
