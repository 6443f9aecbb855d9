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
//! One way to get the tree, the same in every browser: the core's own
//! tokenizer and tree builder ([`html::sanitize`]), whose allow-list decides
//! every element, attribute, URL and `target`. The DOM is then built node by
//! node from what the allow-list accepted and is never parsed again, so no
//! difference between parsers can smuggle anything in, and the browser's
//! parser never sees the content: an `on…` attribute the tokenizer drops is
//! never created, so a page's Content-Security-Policy reports nothing that
//! did not happen. (The browser's Sanitizer API was a second path where it
//! exists, through the same checks; it gave the same nodes for ordinary
//! content, and it cost 1.3 KB gzip in a build with no room left.)

use wasm_bindgen::JsValue;
use web_sys::{Document, Element, Node};

use sillage_core::support::html::{self, Open};

const XHTML: &str = "http://www.w3.org/1999/xhtml";

/// What [`set_html`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Applied {
    /// Whether a limit cut the content ([`html::MAX_INPUT`],
    /// [`html::MAX_DEPTH`], [`html::MAX_NODES`]).
    pub truncated: bool,
}

/// Replaces `el`'s children with the sanitised `html`. Fails, leaving
/// `el` unchanged, on the elements [`set_text`] refuses (children of an
/// empty `<script>` run, those of a `<style>` are CSS), or if the page
/// refuses a node.
pub fn set_html(el: &Element, html: &str) -> Result<Applied, &'static str> {
    content_allowed(el)?;
    let doc = el.owner_document().ok_or("the element has no document")?;
    let fragment = html::sanitize(html);
    let nodes = doc.create_document_fragment();
    append(&doc, &nodes, &fragment.nodes).map_err(|_| "the page refused a node")?;
    el.set_text_content(None);
    el.append_child(&nodes)
        .map_err(|_| "the page refused a node")?;
    Ok(Applied {
        truncated: fragment.truncated,
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

/// An element's name, lower case (`tagName` is upper case in HTML).
fn tag_of(el: &Element) -> String {
    el.tag_name().to_ascii_lowercase()
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
