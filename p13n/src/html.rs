//! Content from config into the page, without any HTML string sink.
//!
//! `innerHTML`, `outerHTML`, `insertAdjacentHTML`, `DOMParser`,
//! `createContextualFragment` and `document.write` are never used: they are
//! where XSS happens, and they throw on pages that enforce Trusted Types
//! (`require-trusted-types-for 'script'`). Instead the core's sanitised tree
//! ([`sillage_core::support::html`]) becomes nodes through `createElement`,
//! `setAttribute` and `createTextNode`, built in a `DocumentFragment` and
//! swapped in at once.
//!
//! Two ways to get the tree, both ending in the core's [`Builder`] and so
//! giving the same answer for elements, attributes, URLs and `target`:
//!
//! - [`Path::Sanitizer`], where the browser has the Sanitizer API
//!   (`Element.prototype.setHTML`): the browser parses, with its real parser,
//!   into an element of an *inert* document (no scripts run, no images load,
//!   no custom element reactions), under a Sanitizer config derived from the
//!   core's lists: `removeElements` from [`html::DROPPED`] (SVG and MathML in
//!   their namespaces), `attributes` from [`html::ATTRIBUTES`], no comments,
//!   no data attributes. The result is walked into the core's [`Builder`],
//!   which keeps only what its checks accept (the browser's sanitizer allows
//!   `data:text/html` links, named targets and forms, for example). The
//!   config lists the elements to remove rather than those to keep: the
//!   Sanitizer removes unlisted elements with their text, while the contract
//!   unwraps unknown ones; the walk applies the allow-list in any case.
//! - [`Path::Builder`] everywhere else: the core's own tokenizer
//!   ([`html::sanitize`]); and, with [`Path::Auto`], for content that may
//!   name an event handler attribute (`on…`). The browser's parser creates
//!   the element with its handler before the Sanitizer removes it, and
//!   Chromium reports each one to the page's Content-Security-Policy
//!   (`script-src-attr`), though nothing runs: a site with a report endpoint
//!   would see an attack that never happened. The core's tokenizer never
//!   creates what it drops. The test is a plain byte scan, deliberately
//!   wider than the HTML tokenizer (any `on` and a letter after whitespace,
//!   `/` or a quote: where an attribute name can start), so that it never
//!   misses one; ordinary text it catches ("only", "/online") just takes
//!   the other path, which gives the same nodes.

use js_sys::Reflect;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, Node};

use sillage_core::support::html::{self, Builder, Open};

const XHTML: &str = "http://www.w3.org/1999/xhtml";

/// How [`set_html_with`] gets the sanitised tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// The Sanitizer API where the browser has it, else the core's tokenizer.
    Auto,
    /// The browser's parser and Sanitizer API, then the core's checks.
    Sanitizer,
    /// The core's tokenizer and tree builder.
    Builder,
}

/// What [`set_html_with`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The path used ([`Path::Sanitizer`] or [`Path::Builder`]).
    pub path: Path,
    /// Whether a limit cut the content ([`html::MAX_INPUT`],
    /// [`html::MAX_DEPTH`], [`html::MAX_NODES`]).
    pub truncated: bool,
}

#[wasm_bindgen]
extern "C" {
    /// An element of a browser with the Sanitizer API.
    type SanitizerElement;
    #[wasm_bindgen(method, catch, js_name = setHTML)]
    fn set_html(this: &SanitizerElement, html: &str, options: &JsValue) -> Result<(), JsValue>;
}

/// Whether this browser has the Sanitizer API (`Element.prototype.setHTML`).
pub fn has_sanitizer_api() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.create_element("div").ok())
        .is_some_and(|el| has_set_html(&el))
}

fn has_set_html(el: &Element) -> bool {
    Reflect::get(el, &"setHTML".into()).is_ok_and(|f| f.is_function())
}

/// Replaces `el`'s children with the sanitised `html`, by the best path.
pub fn set_html(el: &Element, html: &str) -> Result<Applied, &'static str> {
    set_html_with(el, html, Path::Auto)
}

/// Replaces `el`'s children with the sanitised `html` by `path`. Fails,
/// leaving `el` unchanged, on the elements [`set_text`] refuses (children of
/// an empty `<script>` run, those of a `<style>` are CSS), if
/// [`Path::Sanitizer`] is asked for and missing, or if the page refuses a
/// node.
pub fn set_html_with(el: &Element, html: &str, path: Path) -> Result<Applied, &'static str> {
    content_allowed(el)?;
    let doc = el.owner_document().ok_or("the element has no document")?;
    let path = match path {
        Path::Auto if may_name_handler(html) => Path::Builder,
        p => p,
    };
    let (fragment, path) = match path {
        Path::Builder => (html::sanitize(html), Path::Builder),
        _ => match browser_parse(&doc, html) {
            Some(f) => (f, Path::Sanitizer),
            None if path == Path::Auto => (html::sanitize(html), Path::Builder),
            None => return Err("the Sanitizer API is not available"),
        },
    };
    let nodes = doc.create_document_fragment();
    append(&doc, &nodes, &fragment.nodes).map_err(|_| "the page refused a node")?;
    el.set_text_content(None);
    el.append_child(&nodes)
        .map_err(|_| "the page refused a node")?;
    Ok(Applied {
        path,
        truncated: fragment.truncated,
    })
}

/// Whether `html` may name an event handler attribute: `on` (any case) and
/// a letter, after whitespace, `/` or a quote (wherever the HTML tokenizer
/// may start an attribute name, and more).
fn may_name_handler(html: &str) -> bool {
    html.as_bytes().windows(4).any(|w| {
        matches!(w, [b' ' | b'\t' | b'\n' | b'\x0c' | b'\r' | b'/' | b'"' | b'\'', o, n, c]
            if o.eq_ignore_ascii_case(&b'o') && n.eq_ignore_ascii_case(&b'n') && c.is_ascii_alphabetic())
    })
}

/// Sets `el`'s text (never parsed as HTML). Refused on elements whose text
/// is code or raw text (`script`, `style`, ...: [`html::DROPPED`]) and
/// outside the HTML namespace (an SVG `<script>`).
pub fn set_text(el: &Element, text: &str) -> Result<(), &'static str> {
    content_allowed(el)?;
    el.set_text_content(Some(text));
    Ok(())
}

/// Whether content may be put in `el`: an HTML element whose children are
/// neither code nor raw text.
fn content_allowed(el: &Element) -> Result<(), &'static str> {
    if el.namespace_uri().as_deref() != Some(XHTML)
        || html::element_rule(&tag_of(el)) == Open::Dropped
    {
        return Err("content cannot be set on this element");
    }
    Ok(())
}

/// Sets `name="value"` on `el` if the core's allow-list accepts it
/// ([`html::check_attribute`]), and `rel="noopener noreferrer"` on a link
/// that then opens a new browsing context. The error says why not.
pub fn set_attribute_checked(el: &Element, name: &str, value: &str) -> Result<(), &'static str> {
    if el.namespace_uri().as_deref() != Some(XHTML) {
        return Err("not an HTML element");
    }
    let tag = tag_of(el);
    let name = html::check_attribute(&tag, name, value).map_err(html::Refusal::message)?;
    let refused = |_| "the browser refused the attribute";
    el.set_attribute(name, value).map_err(refused)?;
    if let Some(rel) = html::forced_rel(&tag, el.get_attribute("target").as_deref()) {
        el.set_attribute("rel", rel).map_err(refused)?;
    }
    Ok(())
}

/// The browser parses `html` with the Sanitizer API in an inert document;
/// the result goes through the core's checks. `None` without the API (or if
/// it refuses the config).
fn browser_parse(doc: &Document, html: &str) -> Option<html::Fragment> {
    let inert = doc.implementation().ok()?.create_html_document().ok()?;
    let root = inert.create_element("div").ok()?;
    if !has_set_html(&root) {
        return None;
    }
    let (src, clamped) = html::clamp(html);
    root.unchecked_ref::<SanitizerElement>()
        .set_html(src, &sanitizer_options())
        .ok()?;
    let mut b = Builder::new();
    walk(&root, &mut b);
    let mut f = b.finish();
    f.truncated |= clamped;
    Some(f)
}

/// `{sanitizer: {comments: false, dataAttributes: false, removeElements,
/// attributes}}` from the core's lists, as JSON text.
fn sanitizer_options() -> JsValue {
    let mut json = String::from(
        "{\"sanitizer\":{\"comments\":false,\"dataAttributes\":false,\"removeElements\":[",
    );
    let mut seen = Vec::new();
    push_words(&mut json, &mut seen, html::DROPPED);
    // SVG and MathML in their namespaces (plain names are HTML ones).
    json.push_str(concat!(
        ",{\"name\":\"svg\",\"namespace\":\"http://www.w3.org/2000/svg\"}",
        ",{\"name\":\"math\",\"namespace\":\"http://www.w3.org/1998/Math/MathML\"}",
        "],\"attributes\":[",
    ));
    let mut seen = Vec::new();
    for (_, list) in html::ATTRIBUTES {
        push_words(&mut json, &mut seen, list);
    }
    json.push_str("]}}");
    js_sys::JSON::parse(&json).unwrap_or_default()
}

/// Appends the words of `list` not yet `seen` to a JSON array being written.
fn push_words(json: &mut String, seen: &mut Vec<&'static str>, list: &'static str) {
    for name in html::Words(list) {
        if !seen.contains(&name) {
            seen.push(name);
            if !json.ends_with('[') {
                json.push(',');
            }
            json.push('"');
            json.push_str(name);
            json.push('"');
        }
    }
}

/// An element's name, lower case (`tagName` is upper case in HTML).
fn tag_of(el: &Element) -> String {
    el.tag_name().to_ascii_lowercase()
}

/// Feeds the children of `root` to the builder in document order, without
/// recursion (the browser's tree may be deeper than the builder keeps).
/// Elements outside the HTML namespace are skipped with their content.
fn walk(root: &Node, b: &mut Builder) {
    // For each element entered: whether the builder kept it (close it after).
    let mut entered: Vec<bool> = Vec::new();
    let mut next = root.first_child();
    while let Some(node) = next {
        let mut opened = Open::Dropped;
        match node.node_type() {
            Node::TEXT_NODE => b.text(&node.text_content().unwrap_or_default()),
            Node::ELEMENT_NODE => {
                // Not `dyn_ref`: `instanceof` fails for a frame's nodes.
                let el = node.unchecked_ref::<Element>();
                if el.namespace_uri().as_deref() == Some(XHTML) {
                    opened = b.open(&tag_of(el), attributes(el));
                }
            }
            _ => {}
        }
        let child = match opened {
            Open::Dropped => None,
            _ => node.first_child(),
        };
        if let Some(child) = child {
            entered.push(opened == Open::Kept);
            next = Some(child);
            continue;
        }
        if opened == Open::Kept {
            b.close();
        }
        // The next node in document order, closing the elements left.
        let mut at = node;
        next = loop {
            if let Some(sibling) = at.next_sibling() {
                break Some(sibling);
            }
            match (entered.pop(), at.parent_node()) {
                (Some(kept), Some(parent)) => {
                    if kept {
                        b.close();
                    }
                    at = parent;
                }
                _ => break None,
            }
        };
    }
}

fn attributes(el: &Element) -> Vec<(String, String)> {
    let names = el.get_attribute_names();
    let mut out = Vec::new();
    for i in 0..names.length() {
        if let Some(name) = names.get(i).as_string() {
            let value = el.get_attribute(&name).unwrap_or_default();
            out.push((name, value));
        }
    }
    out
}

/// Appends the tree's nodes to `parent` (recursion bounded by
/// [`html::MAX_DEPTH`]).
fn append(doc: &Document, parent: &Node, nodes: &[html::Node]) -> Result<(), JsValue> {
    for n in nodes {
        match n {
            html::Node::Text(t) => {
                parent.append_child(&doc.create_text_node(t))?;
            }
            html::Node::Element(e) => {
                let el = doc.create_element(e.tag)?;
                for (k, v) in &e.attrs {
                    el.set_attribute(k, v)?;
                }
                append(doc, &el, &e.children)?;
                parent.append_child(&el)?;
            }
        }
    }
    Ok(())
}
