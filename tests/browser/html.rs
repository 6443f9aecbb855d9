//! Content from config in the page (`p13n/src/html.rs`): the exact
//! canonical output of `tests/fixtures/html.json`; no payload of `tests/fixtures/xss.json` runs
//! (a window flag stays unset) or leaves anything unsafe in the DOM, whether
//! it goes in as HTML, as text or as an attribute value; nothing uses an HTML
//! string sink (checked in a frame that enforces Trusted Types); large and
//! deep inputs stay bounded. The DOM is judged by the browser itself: the
//! namespace of each element and URLs resolved by `new URL`.

use js_sys::{Function, Reflect};
use sillage_core::support::html::{MAX_DEPTH, MAX_NODES};
use sillage_p13n::html::{set_attribute_checked, set_html, set_text};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;
use web_sys::{Document, Element, Node};

use super::sleep;

const XHTML: &str = "http://www.w3.org/1999/xhtml";

#[path = "../support/html_fixtures.rs"]
mod fixtures;

use fixtures::{corpus, escape, forbidden, ordinary, urls, VOID};

fn document() -> Document {
    web_sys::window().unwrap().document().unwrap()
}

/// A new `<div>` at the end of `doc`'s body.
fn container(doc: &Document) -> Element {
    let el = doc.create_element("div").unwrap();
    doc.body().unwrap().append_child(&el).unwrap();
    el
}

/// The canonical text of `node`'s children, as `tests/it/html.rs` renders
/// the core's tree.
fn render(node: &Node, out: &mut String) {
    let children = node.child_nodes();
    for i in 0..children.length() {
        let n = children.item(i).unwrap();
        if n.node_type() == Node::ELEMENT_NODE {
            let el = n.unchecked_ref::<Element>();
            let tag = el.local_name();
            out.push_str(&format!("<{tag}"));
            for name in el.get_attribute_names().iter() {
                let name = name.as_string().unwrap();
                let value = el.get_attribute(&name).unwrap();
                out.push_str(&format!(" {name}=\"{}\"", escape(&value, true)));
            }
            out.push('>');
            if !VOID.contains(&tag.as_str()) {
                render(&n, out);
                out.push_str(&format!("</{tag}>"));
            }
        } else if n.node_type() == Node::TEXT_NODE {
            out.push_str(&escape(&n.node_value().unwrap(), false));
        } else {
            out.push_str("<!-- not an element or text -->");
        }
    }
}

fn canonical(el: &Element) -> String {
    let mut out = String::new();
    render(el, &mut out);
    out
}

/// `value` resolved by the browser against the page, or "" if it cannot be.
fn resolve(value: &str) -> String {
    let f = Function::new_with_args(
        "u",
        "try { return new URL(u, document.baseURI).href } catch (e) { return '' }",
    );
    f.call1(&JsValue::NULL, &value.into())
        .unwrap()
        .as_string()
        .unwrap()
}

fn url_is_safe(value: &str, image: bool) -> bool {
    let url = resolve(value).to_ascii_lowercase();
    url.is_empty()
        || url.starts_with("http:")
        || url.starts_with("https:")
        || (image
            && ["png", "gif", "jpeg", "webp", "avif"]
                .iter()
                .any(|t| url.starts_with(&format!("data:image/{t};"))))
}

/// Everything unsafe in `root` and below, read from the live DOM.
fn problems(root: &Element) -> Vec<String> {
    let (forbidden_elements, forbidden_attributes) = forbidden();
    let mut out = Vec::new();
    let all = root.query_selector_all("*").unwrap();
    let mut elements: Vec<Element> = vec![root.clone()];
    for i in 0..all.length() {
        elements.push(all.item(i).unwrap().unchecked_into());
    }
    for el in elements {
        let tag = el.local_name();
        if el.namespace_uri().as_deref() != Some(XHTML) || forbidden_elements.contains(&tag) {
            out.push(format!("element <{tag}> in {:?}", el.namespace_uri()));
        }
        let image = tag == "img" || tag == "source";
        for name in el.get_attribute_names().iter() {
            let name = name.as_string().unwrap();
            let value = el.get_attribute(&name).unwrap();
            if name.starts_with("on") || forbidden_attributes.contains(&name) {
                out.push(format!("<{tag} {name}>"));
            }
            for u in urls(&name, &value) {
                if !url_is_safe(u, image) {
                    out.push(format!("<{tag} {name}={u:?}>"));
                }
            }
        }
        let target = el.get_attribute("target").unwrap_or_default();
        if !target.is_empty() && !target.eq_ignore_ascii_case("_self") {
            let rel = el.get_attribute("rel").unwrap_or_default();
            if !target.eq_ignore_ascii_case("_blank") || !rel.contains("noopener") {
                out.push(format!("<{tag} target={target} rel={rel}>"));
            }
        }
    }
    out
}

fn flag(window: &JsValue) -> JsValue {
    Reflect::get(window, &"__xss".into()).unwrap()
}

#[wasm_bindgen_test]
fn ordinary_content_gives_the_canonical_nodes() {
    let cases = ordinary();
    assert!(cases.len() >= 30);
    let el = container(&document());
    for [html, want] in &cases {
        let applied = set_html(&el, html).unwrap();
        assert!(!applied.truncated);
        assert_eq!(&canonical(&el), want, "input: {html:?}");
    }
    el.remove();
}

/// Every payload as HTML, as text, and as the value of
/// every attribute on the elements that carry URLs.
fn apply_corpus(doc: &Document, root: &Element) {
    for [name, payload] in corpus() {
        let el = container(doc);
        root.append_child(&el).unwrap();
        set_html(&el, &payload).unwrap_or_else(|e| panic!("{name}: {e}"));
        let el = container(doc);
        root.append_child(&el).unwrap();
        set_text(&el, &payload).unwrap();
        assert_eq!(el.child_nodes().length(), 1, "{name}");
        assert_eq!(el.first_child().unwrap().node_type(), Node::TEXT_NODE);
        assert_eq!(el.text_content().unwrap(), payload, "{name}");
        for tag in ["a", "img", "source", "blockquote", "div"] {
            let el = doc.create_element(tag).unwrap();
            root.append_child(&el).unwrap();
            for attr in [
                "href",
                "src",
                "srcset",
                "cite",
                "title",
                "target",
                "rel",
                "onerror",
                "onclick",
                "style",
                "srcdoc",
                "formaction",
                "action",
                "xlink:href",
            ] {
                match set_attribute_checked(&el, attr, &payload) {
                    Ok(()) => assert_eq!(el.get_attribute(attr).as_deref(), Some(&*payload)),
                    Err(e) => assert!(!e.contains("browser"), "{name}: {attr}: {e}"),
                }
            }
        }
    }
}

#[wasm_bindgen_test]
async fn no_xss_payload_runs_or_reaches_the_dom() {
    let window: JsValue = web_sys::window().unwrap().into();
    Reflect::delete_property(window.unchecked_ref::<js_sys::Object>(), &"__xss".into()).unwrap();
    // The flag works: a handler that does run sets it.
    let probe = document().create_element("img").unwrap();
    probe
        .set_attribute("onerror", "window.__xssProbe = 1")
        .unwrap();
    probe.set_attribute("src", "/no-such-image").unwrap();
    let doc = document();
    doc.body().unwrap().append_child(&probe).unwrap();
    let root = container(&doc);
    apply_corpus(&doc, &root);
    // Let images fail, frames load, timers fire.
    for _ in 0..40 {
        sleep(25).await;
        if !Reflect::get(&window, &"__xssProbe".into())
            .unwrap()
            .is_undefined()
        {
            break;
        }
    }
    sleep(200).await;
    assert_eq!(
        Reflect::get(&window, &"__xssProbe".into()).unwrap(),
        JsValue::from(1),
        "the probe handler did not run: the flag check would prove nothing"
    );
    assert!(flag(&window).is_undefined(), "a payload ran");
    assert_eq!(problems(&root), Vec::<String>::new());
    root.remove();
    probe.remove();
}

#[wasm_bindgen_test]
async fn no_html_sink_is_used_under_trusted_types() {
    let doc = document();
    let frame = doc.create_element("iframe").unwrap();
    frame
        .set_attribute(
            "srcdoc",
            "<meta http-equiv=\"Content-Security-Policy\" \
             content=\"require-trusted-types-for 'script'\"><body></body>",
        )
        .unwrap();
    doc.body().unwrap().append_child(&frame).unwrap();
    let mut inner = None;
    for _ in 0..200 {
        sleep(10).await;
        let d = Reflect::get(&frame, &"contentDocument".into()).unwrap();
        if d.is_object() {
            // Another realm: `instanceof Document` is false there.
            let d: Document = d.unchecked_into();
            let ours = d.query_selector("meta").ok().flatten().is_some();
            if ours && d.ready_state() == "complete" && d.body().is_some() {
                inner = Some(d);
                break;
            }
        }
    }
    let inner = inner.expect("the frame loaded");
    let root = container(&inner);
    // Trusted Types are enforced: an HTML string sink throws there.
    assert!(
        Reflect::set(&root, &"innerHTML".into(), &"<b>x</b>".into()).is_err(),
        "the frame does not enforce Trusted Types: the test would prove nothing"
    );
    apply_corpus(&inner, &root);
    // Same answers as in the main document.
    let main = container(&doc);
    for [name, payload] in corpus() {
        set_html(&main, &payload).unwrap();
        set_html(&root, &payload).unwrap();
        assert_eq!(canonical(&root), canonical(&main), "{name}");
    }
    sleep(100).await;
    let frame_window = Reflect::get(&frame, &"contentWindow".into()).unwrap();
    assert!(
        flag(&frame_window).is_undefined(),
        "a payload ran in the frame"
    );
    main.remove();
    frame.remove();
}

fn depth(el: &Element) -> usize {
    let mut deepest = 0;
    let all = el.query_selector_all("*").unwrap();
    for i in 0..all.length() {
        let mut d = 0;
        let mut at = all.item(i).unwrap();
        while !at.is_same_node(Some(el)) {
            d += 1;
            at = at.parent_node().unwrap();
        }
        deepest = deepest.max(d);
    }
    deepest
}

#[wasm_bindgen_test]
fn large_and_deep_inputs_stay_bounded() {
    let doc = document();
    let el = container(&doc);
    let deep = format!("{}x{}", "<div>".repeat(5_000), "</div>".repeat(5_000));
    let nested_links = "<ul><li><b><a href=/x><em>".repeat(3_000);
    let many = "<p>x</p>".repeat(100_000);
    {
        let applied = set_html(&el, &deep).unwrap();
        assert!(applied.truncated);
        assert!(depth(&el) <= MAX_DEPTH, "depth {}", depth(&el));
        assert_eq!(el.text_content().unwrap(), "x");

        set_html(&el, &nested_links).unwrap();
        assert!(depth(&el) <= MAX_DEPTH);

        let start = js_sys::Date::now();
        let applied = set_html(&el, &many).unwrap();
        let ms = js_sys::Date::now() - start;
        assert!(applied.truncated);
        let nodes = el.query_selector_all("*").unwrap().length() as usize;
        assert!(nodes * 2 <= MAX_NODES, "{nodes} elements");
        assert!(ms < 2_000.0, "{ms} ms for an 800 KB input");
    }
    el.remove();
}

#[wasm_bindgen_test]
fn set_attribute_checks_names_values_and_namespaces() {
    let doc = document();
    let html = |tag: &str| doc.create_element(tag).unwrap();
    let svg = |tag: &str| {
        doc.create_element_ns(Some("http://www.w3.org/2000/svg"), tag)
            .unwrap()
    };
    let cases: Vec<(Element, &str, &str, bool)> = vec![
        (html("a"), "href", "https://example.com/x", true),
        (html("a"), "HREF", "/relative", true),
        (html("a"), "href", "javascript:alert(1)", false),
        (html("a"), "href", " \tjava\nscript:alert(1)", false),
        (html("a"), "href", "data:text/html,x", false),
        (
            html("img"),
            "src",
            "data:image/png;base64,iVBORw0KGgo=",
            true,
        ),
        (html("img"), "src", "data:image/svg+xml,<svg/>", false),
        (html("img"), "srcset", "/a.png 1x, javascript:x 2x", false),
        (html("img"), "onerror", "x()", false),
        (html("div"), "style", "color:red", false),
        (html("div"), "class", "promo", true),
        (html("iframe"), "srcdoc", "<b>", false),
        (html("a"), "target", "evil", false),
        (svg("a"), "href", "/x", false),
        (svg("svg"), "class", "x", false),
    ];
    for (el, name, value, ok) in cases {
        let got = set_attribute_checked(&el, name, value);
        assert_eq!(
            got.is_ok(),
            ok,
            "<{}> {name}={value:?}: {got:?}",
            el.local_name()
        );
        let name = name.to_ascii_lowercase();
        assert_eq!(el.get_attribute(&name).is_some(), ok, "{name}");
    }
    let a = html("a");
    set_attribute_checked(&a, "rel", "nofollow").unwrap();
    set_attribute_checked(&a, "target", "_blank").unwrap();
    assert_eq!(a.get_attribute("rel").unwrap(), "noopener noreferrer");
    assert!(set_attribute_checked(&a, "rel", "opener").is_err());
    assert_eq!(a.get_attribute("rel").unwrap(), "noopener noreferrer");
}

#[wasm_bindgen_test]
fn set_text_is_text_and_never_code() {
    let doc = document();
    let div = doc.create_element("div").unwrap();
    set_text(&div, "<b>bold</b> &amp;").unwrap();
    assert_eq!(div.child_element_count(), 0);
    assert_eq!(div.text_content().unwrap(), "<b>bold</b> &amp;");
    for tag in ["script", "style", "iframe", "template"] {
        let el = doc.create_element(tag).unwrap();
        assert!(set_text(&el, "window.__xss = 1").is_err(), "{tag}");
        assert_eq!(el.text_content().unwrap(), "", "{tag}");
    }
    let svg_script = doc
        .create_element_ns(Some("http://www.w3.org/2000/svg"), "script")
        .unwrap();
    assert!(set_text(&svg_script, "window.__xss = 1").is_err());
}

#[wasm_bindgen_test]
async fn html_is_never_put_in_code_elements() {
    // An empty <script> runs the text it is given once connected; the text
    // of a <style> is CSS.
    let doc = document();
    let window: JsValue = web_sys::window().unwrap().into();
    let mut targets = Vec::new();
    for tag in ["script", "style", "textarea", "title", "iframe", "noscript"] {
        let el = doc.create_element(tag).unwrap();
        doc.body().unwrap().append_child(&el).unwrap();
        targets.push(el);
    }
    targets.push(
        doc.create_element_ns(Some("http://www.w3.org/2000/svg"), "script")
            .unwrap(),
    );
    for el in &targets {
        let got = set_html(el, "window.__xss = 1");
        assert!(got.is_err(), "<{}>", el.local_name());
        assert_eq!(el.child_nodes().length(), 0, "<{}>", el.local_name());
    }
    sleep(50).await;
    assert!(flag(&window).is_undefined(), "a script ran");
    for el in targets {
        el.remove();
    }
}
