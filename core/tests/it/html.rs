//! Content from config as HTML: ordinary content keeps its shape (exact
//! canonical output), every XSS payload comes out harmless (checked against
//! an independent oracle: the `url` crate's WHATWG parser and fixed lists),
//! the shared allow-list checks, and the limits.

use proptest::prelude::*;
use sillage_core::support::html::{
    attribute_allowed, check_attribute, sanitize, url_allowed, Fragment, Node, Refusal, ELEMENTS,
    MAX_DEPTH, MAX_INPUT, MAX_NODES,
};

#[path = "../../../tests/support/html_fixtures.rs"]
mod fixtures;

use fixtures::{corpus, escape, forbidden, ordinary, urls, VOID};

/// The canonical text of a fragment: HTML with `&`, `<`, `>` escaped in
/// text and `&`, `"` in attribute values, void elements without end tags.
/// The browser tests render the DOM the same way.
fn render(nodes: &[Node], out: &mut String) {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(&escape(t, false)),
            Node::Element(e) => {
                out.push('<');
                out.push_str(e.tag);
                for (k, v) in &e.attrs {
                    out.push_str(&format!(" {k}=\"{}\"", escape(v, true)));
                }
                out.push('>');
                if !VOID.contains(&e.tag) {
                    render(&e.children, out);
                    out.push_str(&format!("</{}>", e.tag));
                }
            }
        }
    }
}

fn canonical(html: &str) -> String {
    let mut out = String::new();
    render(&sanitize(html).nodes, &mut out);
    out
}

#[test]
fn ordinary_content_keeps_its_shape() {
    let cases = ordinary();
    assert!(cases.len() >= 30);
    for [html, want] in cases {
        assert_eq!(canonical(&html), want, "input: {html:?}");
    }
}

/// Whether a URL attribute value could run script or load something else
/// than an http(s) resource or an allowed image, read by the `url` crate
/// against an https page.
fn url_is_safe(value: &str, image: bool) -> bool {
    let base = url::Url::parse("https://shop.example/dir/page").unwrap();
    match base.join(value) {
        Ok(u) => match u.scheme() {
            "http" | "https" => true,
            "data" if image => ["png", "gif", "jpeg", "webp", "avif"].iter().any(|t| {
                let p = u.path().to_ascii_lowercase();
                p.starts_with(&format!("image/{t};")) || p.starts_with(&format!("image/{t},"))
            }),
            _ => false,
        },
        // A URL the browser cannot resolve goes nowhere.
        Err(_) => true,
    }
}

/// Every problem an independent reading finds in a fragment.
fn problems(nodes: &[Node], depth: usize, out: &mut Vec<String>) {
    let (elements, attributes) = forbidden();
    for n in nodes {
        let Node::Element(e) = n else { continue };
        if elements.iter().any(|t| t == e.tag) || !ELEMENTS.split(' ').any(|t| t == e.tag) {
            out.push(format!("element <{}>", e.tag));
        }
        if depth > MAX_DEPTH {
            out.push(format!("depth {depth}"));
        }
        for (k, v) in &e.attrs {
            if k.starts_with("on") || attributes.iter().any(|a| a == k) {
                out.push(format!("attribute {k}"));
            }
            let image = e.tag == "img" || e.tag == "source";
            for u in urls(k, v) {
                if !url_is_safe(u, image) {
                    out.push(format!("{k}={u:?}"));
                }
            }
            if *k == "target" && v.eq_ignore_ascii_case("_blank") {
                let rel = e.attrs.iter().find(|(k, _)| *k == "rel");
                if rel.map(|(_, v)| v.as_str()) != Some("noopener noreferrer") {
                    out.push("target=_blank without rel=noopener noreferrer".into());
                }
            }
            if *k == "target" && !["_blank", "_self"].contains(&v.to_ascii_lowercase().as_str()) {
                out.push(format!("target={v}"));
            }
        }
        problems(&e.children, depth + 1, out);
    }
}

fn check_safe(name: &str, html: &str) -> Fragment {
    let f = sanitize(html);
    let mut found = Vec::new();
    problems(&f.nodes, 1, &mut found);
    assert!(found.is_empty(), "{name}: {found:?} in {:?}", f.nodes);
    f
}

#[test]
fn no_xss_payload_survives() {
    let payloads = corpus();
    assert!(payloads.len() >= 30);
    for [name, html] in &payloads {
        check_safe(name, html);
        // As an attribute value of every URL attribute, unescaped.
        for (tag, attr) in [("a", "href"), ("img", "src"), ("img", "srcset")] {
            let tagged = format!("<{tag} {attr}=\"{}\">", html.replace('"', "&quot;"));
            check_safe(name, &tagged);
        }
    }
}

#[test]
fn the_oracle_sees_what_the_payloads_hide() {
    // The oracle itself must catch the obfuscations the corpus relies on,
    // or the test above would prove nothing.
    for bad in [
        "javascript:x",
        " \u{1}JaVa\tScRiPt:x",
        "java\nscript:x",
        "vbscript:x",
        "data:text/html,x",
    ] {
        assert!(!url_is_safe(bad, false), "{bad:?}");
        assert!(!url_allowed(bad, false), "{bad:?}");
    }
    assert!(!url_is_safe("data:image/svg+xml,x", true));
    let mut found = Vec::new();
    let bad = Node::Element(sillage_core::support::html::Element {
        tag: "a",
        attrs: vec![("href", "jav&#x09;ascript:x".replace("&#x09;", "\t"))],
        children: vec![],
    });
    problems(&[bad], 1, &mut found);
    assert_eq!(found.len(), 1);
}

#[test]
fn url_rules() {
    let cases: &[(&str, bool, bool)] = &[
        // (value, as an image, allowed)
        ("/shoes?size=42#top", false, true),
        ("shoes/trail", false, true),
        ("../up", false, true),
        ("//cdn.example.com/x.png", true, true),
        ("", false, true),
        ("?q=1", false, true),
        ("#frag", false, true),
        (":not-a-scheme", false, true),
        ("1http:x", false, true),
        ("a b:c", false, true),
        ("http://example.com", false, true),
        ("HTTPS://EXAMPLE.COM", false, true),
        (" \t https://example.com ", false, true),
        ("javascript:alert(1)", false, false),
        ("JaVaScRiPt:alert(1)", false, false),
        ("jav\tascript:alert(1)", false, false),
        ("java\r\nscript:alert(1)", false, false),
        ("\u{0} \u{1f}javascript:alert(1)", false, false),
        ("javascript\n:alert(1)", false, false),
        ("vbscript:msgbox", false, false),
        ("mailto:a@example.com", false, false),
        ("tel:+331", false, false),
        ("ftp://example.com", false, false),
        ("blob:https://example.com/x", true, false),
        ("file:///etc/passwd", true, false),
        ("data:image/png;base64,AAAA", true, true),
        ("data:IMAGE/PNG;base64,AAAA", true, true),
        ("data:image/jpeg,xx", true, true),
        ("data:image/gif;base64,R0", true, true),
        ("data:image/webp;base64,UklG", true, true),
        ("data:image/avif;base64,AAAA", true, true),
        ("da\nta:image/png;base64,AAAA", true, true),
        ("data:image/png;base64,AAAA", false, false),
        ("data:image/svg+xml,<svg onload=x>", true, false),
        ("data:image/pngx,AAAA", true, false),
        ("data:image/png", true, false),
        ("data:text/html,<script>x</script>", true, false),
        ("data:,x", true, false),
    ];
    for (value, image, want) in cases {
        assert_eq!(url_allowed(value, *image), *want, "{value:?} image={image}");
        assert!(
            url_is_safe(value, *image) || !want,
            "the oracle disagrees on {value:?}"
        );
    }
}

#[test]
fn attribute_rules() {
    use Refusal::{Name, Value};
    let cases: &[(&str, &str, &str, Result<&str, Refusal>)] = &[
        ("a", "href", "/x", Ok("href")),
        ("A", "HREF", "/x", Ok("href")),
        ("a", "href", "javascript:x", Err(Value)),
        ("a", "href", "data:image/png;base64,AA", Err(Value)),
        ("img", "src", "data:image/png;base64,AA", Ok("src")),
        ("img", "src", "data:image/svg+xml,x", Err(Value)),
        ("img", "srcset", "/a.png 1x, /b.png 2x", Ok("srcset")),
        (
            "img",
            "srcset",
            "data:image/png;base64,AA 1x,/b.png 2x",
            Ok("srcset"),
        ),
        ("img", "srcset", "/a.png 1x, javascript:x 2x", Err(Value)),
        ("img", "srcset", "/a.png,javascript:x", Err(Value)),
        ("source", "srcset", "javascript:x", Err(Value)),
        ("img", "href", "/x", Err(Name)),
        ("div", "src", "/x", Err(Name)),
        ("a", "target", "_blank", Ok("target")),
        ("a", "target", "_SELF", Ok("target")),
        ("a", "target", "_top", Err(Value)),
        ("a", "target", "named", Err(Value)),
        ("a", "rel", "nofollow noopener", Ok("rel")),
        ("a", "rel", "nofollow Opener", Err(Value)),
        ("p", "class", "x y", Ok("class")),
        ("custom-el", "title", "t", Ok("title")),
        ("p", "onclick", "x()", Err(Name)),
        ("img", "onerror", "x()", Err(Name)),
        ("p", "style", "color:red", Err(Name)),
        ("iframe", "srcdoc", "<b>", Err(Name)),
        ("form", "action", "/x", Err(Name)),
        ("button", "formaction", "/x", Err(Name)),
        ("p", "id", "x", Err(Name)),
        ("img", "name", "x", Err(Name)),
        ("p", "data-x", "1", Err(Name)),
        (
            "p",
            "data-sillage-track",
            "Clicked",
            Ok("data-sillage-track"),
        ),
        ("blockquote", "cite", "javascript:x", Err(Value)),
        ("video", "src", "/x.mp4", Err(Name)),
    ];
    for (tag, name, value, want) in cases {
        assert_eq!(
            check_attribute(tag, name, value),
            *want,
            "{tag} {name}={value:?}"
        );
        assert_eq!(attribute_allowed(tag, name, value), want.is_ok());
    }
}

/// The depth, the number of nodes and the text of a tree.
fn measure(nodes: &[Node]) -> (usize, usize, String) {
    let mut m = (0, 0, String::new());
    for n in nodes {
        match n {
            Node::Text(t) => {
                m.1 += 1;
                m.2.push_str(t);
            }
            Node::Element(e) => {
                let (d, c, t) = measure(&e.children);
                m.0 = m.0.max(d + 1);
                m.1 += c + 1;
                m.2.push_str(&t);
            }
        }
    }
    m
}

#[test]
fn limits_hold() {
    // Deep nesting: unwrapped past MAX_DEPTH, the text kept.
    let deep = format!("{}x{}", "<div>".repeat(5_000), "</div>".repeat(5_000));
    let f = sanitize(&deep);
    assert_eq!(measure(&f.nodes).0, MAX_DEPTH);
    assert_eq!(measure(&f.nodes).2, "x");
    assert!(f.truncated);
    // Unclosed nesting of other kinds.
    let f = sanitize(&"<ul><li><b><a href=/x><em>".repeat(5_000));
    assert!(measure(&f.nodes).0 <= MAX_DEPTH);
    // Many nodes: cut at MAX_NODES.
    let f = sanitize(&"<b>x</b>".repeat(5_000));
    assert_eq!(measure(&f.nodes).1, MAX_NODES);
    assert!(f.truncated);
    // Long input: only MAX_INPUT bytes are read, cut on a character boundary.
    let long = "é".repeat(MAX_INPUT);
    let f = sanitize(&long);
    assert_eq!(measure(&f.nodes).2.len(), MAX_INPUT);
    assert!(f.truncated);
    let f = sanitize("<p>small</p>");
    assert!(!f.truncated);
    // A removed element nested deep: skipped as a whole.
    let f = sanitize(&format!(
        "{}x{}after",
        "<svg>".repeat(3_000),
        "</svg>".repeat(3_000)
    ));
    assert_eq!(measure(&f.nodes).2, "after");
}

#[test]
fn removed_elements_take_their_content_and_unknown_ones_keep_it() {
    let cases = [
        ("<svg><p>in svg</p></svg>after", "after"),
        ("<svg/>after", "after"),
        ("<form><p>in form</p></form>after", "after"),
        ("<template><template>x</template>y</template>after", "after"),
        ("<select><option>o</select>after", "after"),
        (
            "<script>a</script><style>b</style><title>c</title>after",
            "after",
        ),
        ("<textarea></TEXTAREA x>after", "after"),
        ("<script>\"</script\">\"</script>after", "after"),
        (
            "<input value=x>after<meta charset=x><link rel=x><base href=/x>",
            "after",
        ),
        (
            "<center>c</center><font color=red>f</font><my-card>m</my-card>",
            "cfm",
        ),
        ("<svg:p>namespaced</svg:p>after", "after"),
        ("<plaintext><b>all text</b>", ""),
        ("<iframe>no end tag", ""),
        ("<p>x</p", "<p>x</p>"),
        ("<p>x<", "<p>x&lt;</p>"),
        ("<p>x</", "<p>x&lt;/</p>"),
        ("a</>b<//>c", "abc"),
        ("<!doctype html><p>d</p>", "<p>d</p>"),
        ("<!-- unclosed <p>x</p>", ""),
        ("<!---->a<!--->b<!-->c<!-- x --!>d", "abcd"),
        ("<image src=/i.png>", "<img src=\"/i.png\">"),
        ("<img src=/a.png src=javascript:x>", "<img src=\"/a.png\">"),
        ("<img src=javascript:x src=/a.png>", "<img>"),
        ("<a href=/x =y>l</a>", "<a href=\"/x\">l</a>"),
        ("<p\nclass\n=\nx\n>t</p>", "<p class=\"x\">t</p>"),
        (
            "<p title='a&ampb' class=\"a&amp=b\">&ampb</p>",
            "<p title=\"a&amp;ampb\" class=\"a&amp;amp=b\">&amp;b</p>",
        ),
        (
            "<p title=\"&#0;&#xD800;&#x110000;&#99999999999;\">&#0;</p>",
            "<p title=\"\u{fffd}\u{fffd}\u{fffd}\u{fffd}\">\u{fffd}</p>",
        ),
        ("a\r\nb\rc\0d", "a\nb\ncd"),
        (
            "<p>&#x41&#66;&#x;&#;&#a</p>",
            "<p>AB&amp;#x;&amp;#;&amp;#a</p>",
        ),
    ];
    for (html, want) in cases {
        assert_eq!(canonical(html), want, "input: {html:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Markup soup never panics, stays bounded and never lets anything
    /// unsafe through.
    #[test]
    fn any_markup_is_safe(parts in prop::collection::vec(prop::sample::select(vec![
        "<", ">", "/", "=", "\"", "'", " ", "\t", "\n", "&", "#", ";", "x", "-", "!", "?", "\0",
        "é", "<p>", "</p>", "<a href=", "<img src=", "javascript:", "jav&#x09;ascript:", "data:",
        "image/png,", "image/svg+xml,", "http://e/", "onerror=", " style=", "<svg>", "</svg>",
        "<script>", "</script>", "<style>", "</style", "<!--", "-->", "<![CDATA[", "]]>",
        "<table>", "<tr>", "<td>", "<li>", "<ul>", "<template>", "<math>", "<noscript>", "&lt;",
        "&amp", "&#106;", " target=_blank", " rel=opener", " srcset=", "<b>", "<div>", "</div>",
        "<textarea>", "<plaintext>", "<form>", "</form>",
    ]), 0..80)) {
        let html: String = parts.concat();
        let f = sanitize(&html);
        let mut found = Vec::new();
        problems(&f.nodes, 1, &mut found);
        prop_assert!(found.is_empty(), "{:?}: {:?}", html, found);
        prop_assert!(measure(&f.nodes).0 <= MAX_DEPTH);
        prop_assert!(measure(&f.nodes).1 <= MAX_NODES);
    }

    /// Arbitrary text never panics.
    #[test]
    fn any_text_is_total(s in any::<String>()) {
        let f = sanitize(&s);
        let mut found = Vec::new();
        problems(&f.nodes, 1, &mut found);
        prop_assert!(found.is_empty());
    }
}
