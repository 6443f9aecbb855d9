//! Content from config as HTML, made safe: a small HTML tokenizer and tree
//! builder that return a *sanitised fragment as data* ([`Node`]s), and the
//! allow-list checks that every path shares ([`url_allowed`],
//! [`attribute_allowed`], [`ELEMENTS`], [`ATTRIBUTES`]).
//!
//! Why a tree as data, and not sanitised HTML text:
//! - The web shell builds DOM nodes from the tree with `createElement`,
//!   `setAttribute` and `createTextNode`. No HTML string sink is ever used, so
//!   it works on pages that enforce Trusted Types, and the page gets exactly
//!   the tree checked here: nothing is serialised and parsed again, so there
//!   is nothing for mutation XSS to mutate.
//! - Safety rests on the allow-lists, not on parsing fidelity. Whatever the
//!   tokenizer makes of hostile markup, only allowed elements with allowed
//!   attributes and allowed URLs come out. Fidelity matters for ordinary
//!   content only, where the common tree-building rules are followed (implied
//!   `</p>`, `</li>`, `</td>`, table sections, nested links).
//! - Where the browser has the Sanitizer API, the shell lets the browser parse
//!   (in an inert document) and walks the result into the same [`Builder`]
//!   through [`Builder::open`], so both paths answer alike for elements,
//!   attributes, URLs and `target`.
//!
//! Elements are kept ([`ELEMENTS`]), removed with their content ([`DROPPED`]:
//! scripts, styles, frames, plugins, forms and their controls, templates,
//! SVG and MathML, document metadata, raw-text elements), or unwrapped
//! (anything else: the tags go, the text stays). Attributes are kept only
//! from [`ATTRIBUTES`], so no `on*`, `style`, `srcdoc`, `action` or
//! `formaction`. URLs go through [`url_allowed`] after character references
//! are decoded, the way a browser reads them.
//!
//! Bounded and total: input past [`MAX_INPUT`] bytes is ignored, elements
//! deeper than [`MAX_DEPTH`] are unwrapped, nothing past [`MAX_NODES`] nodes
//! is kept ([`Fragment::truncated`] says so), the work is linear in the input,
//! and no input panics.

use crate::support::strsearch::CharSearch;

/// Bytes of input read; the rest is ignored.
pub const MAX_INPUT: usize = 64 * 1024;
/// Deepest element nesting kept; deeper elements are unwrapped.
pub const MAX_DEPTH: usize = 32;
/// Most nodes (elements and text nodes) in a fragment.
pub const MAX_NODES: usize = 2_000;

/// Elements kept (HTML namespace, lower case), separated by spaces.
pub const ELEMENTS: &str = concat!(
    "a abbr address article aside b blockquote br caption cite code dd del details div dl ",
    "dt em figcaption figure footer h1 h2 h3 h4 h5 h6 header hr i img ins kbd li mark nav ",
    "ol p picture pre q s section small source span strong sub summary sup table tbody td ",
    "tfoot th thead time tr u ul wbr",
);

/// Elements removed together with their content, separated by spaces. Names holding a `:` are
/// removed too; every other element not in [`ELEMENTS`] is unwrapped.
pub const DROPPED: &str = concat!(
    "annotation-xml applet base button datalist embed fieldset foreignobject form ",
    "frameset iframe input keygen link malignmark math meta mglyph noembed noframes ",
    "noscript object optgroup option output param plaintext portal script select style ",
    "svg template textarea title xmp",
);

/// Attributes kept: `(element, or "*" for any, names separated by spaces)`.
/// What a value must be depends on the name alone: `href` and `cite` are
/// URLs ([`url_allowed`]), `src` an image URL, `srcset` image URLs, `target`
/// `_blank` or `_self`, `rel` link types without `opener`; other values are
/// text.
pub const ATTRIBUTES: &[(&str, &str)] = &[
    (
        "*",
        "class title lang dir role aria-label aria-hidden data-sillage-track data-sillage-props",
    ),
    ("a", "href target rel hreflang"),
    ("img", "src srcset sizes alt width height loading decoding"),
    ("source", "srcset sizes media type width height"),
    ("blockquote", "cite"),
    ("q", "cite"),
    ("del", "cite datetime"),
    ("ins", "cite datetime"),
    ("time", "datetime"),
    ("ol", "start reversed type"),
    ("li", "value"),
    ("td", "colspan rowspan"),
    ("th", "colspan rowspan scope"),
];

/// `data:` image types allowed in image URLs (no SVG: it can hold script).
const DATA_IMAGES: &str = "image/png image/gif image/jpeg image/webp image/avif";

/// Elements whose content is not markup: skipped up to their end tag.
const RAW_TEXT: &str = "script style xmp iframe noembed noframes noscript textarea title";

/// Elements without content or end tag, among those kept or removed.
const VOID: &str = "br hr img wbr source input meta link base embed param keygen";

/// Kept elements a `<li>`, `<dd>` or `<dt>` looks through for an open item.
const INLINE: &str = concat!(
    "a abbr address b cite code del div em i ins kbd mark p picture q s small span strong ",
    "sub sup time u",
);

/// Start tags that close an open `<p>`.
const CLOSES_P: &str = concat!(
    "address article aside blockquote dd details div dl dt figcaption figure footer h1 h2 ",
    "h3 h4 h5 h6 header hr li nav ol p pre section summary table ul",
);

const HEADINGS: &str = "h1 h2 h3 h4 h5 h6";
const TABLE_SCOPE: &str = "caption table td th";
const SECTIONS: &str = "tbody thead tfoot";

/// A node of a sanitised fragment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// An allowed element.
    Element(Element),
    /// Text, with character references decoded: to be set as text.
    Text(String),
}

/// An allowed element with its allowed attributes, in source order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    /// The tag name, from [`ELEMENTS`].
    pub tag: &'static str,
    /// Attribute names (from [`ATTRIBUTES`]) and their checked values.
    pub attrs: Vec<(&'static str, String)>,
    /// The children.
    pub children: Vec<Node>,
}

/// A sanitised fragment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fragment {
    /// The top-level nodes.
    pub nodes: Vec<Node>,
    /// Whether a limit cut something off ([`MAX_INPUT`], [`MAX_DEPTH`],
    /// [`MAX_NODES`]).
    pub truncated: bool,
}

/// Why an attribute was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The attribute is not allowed on this element.
    Name,
    /// The attribute is allowed but not this value (a URL's scheme, a
    /// `target`, a `rel` with `opener`).
    Value,
}

impl Refusal {
    /// A lower-case message without a trailing period.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Name => "attribute not allowed on this element",
            Refusal::Value => {
                "value not allowed (URLs must be http(s) or relative, target _blank or _self)"
            }
        }
    }
}

/// Whether a URL attribute's value is safe: a relative URL, `http:`,
/// `https:`, or for images a `data:` URL of a PNG, GIF, JPEG, WebP or AVIF.
///
/// The scheme is read the way a browser's URL parser reads it: leading C0
/// controls and spaces are ignored, tabs and newlines anywhere are ignored,
/// and the scheme is compared case-insensitively, so ` jav\tascript:` and
/// `JaVaScRiPt:` are both `javascript:`. Decode character references first
/// (attribute values from markup are decoded by the tokenizer).
pub fn url_allowed(value: &str, image: bool) -> bool {
    url_ok(value.as_bytes(), image)
}

fn url_ok(value: &[u8], image: bool) -> bool {
    // The first bytes that count, lower case: the scheme and what follows.
    let mut head = [0u8; 16];
    let mut n = 0;
    let mut colon = None;
    for &c in value {
        if matches!(c, b'\t' | b'\n' | b'\r') || (n == 0 && c <= b' ') {
            continue;
        }
        let c = c.to_ascii_lowercase();
        if colon.is_none() {
            if c == b':' && n > 0 {
                colon = Some(n);
            } else if !(c.is_ascii_lowercase()
                || (n > 0 && (c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.'))))
            {
                // No scheme: a relative reference, resolved against the page.
                return true;
            }
        }
        if let Some(h) = head.get_mut(n) {
            *h = c;
        }
        n += 1;
    }
    let Some(k) = colon else {
        return true;
    };
    let rest = head.get(k + 1..).unwrap_or(&[]);
    match head.get(..k) {
        Some(b"http" | b"https") => true,
        Some(b"data") if image => Words(DATA_IMAGES).any(|t| {
            rest.starts_with(t.as_bytes()) && matches!(rest.get(t.len()), Some(b';' | b','))
        }),
        _ => false,
    }
}

/// Checks an attribute for an element (names compared ASCII
/// case-insensitively): the attribute's name as spelt in [`ATTRIBUTES`], or
/// why it is refused. Shared by the sanitiser and the `setAttribute` action.
///
/// A `srcset` is split at whitespace and commas and every token must be an
/// allowed image URL (descriptors such as `2x` read as relative URLs).
/// Browsers keep commas inside a candidate URL, but a scheme ends before any
/// comma, so this split sees every scheme they see; it is stricter only for
/// a `data:` URL whose type is followed directly by its comma
/// (`data:image/png,...`: write `data:image/png;base64,...`).
pub fn check_attribute(tag: &str, name: &str, value: &str) -> Result<&'static str, Refusal> {
    let name = ATTRIBUTES
        .iter()
        .filter(|(t, _)| *t == "*" || t.eq_ignore_ascii_case(tag))
        .find_map(|(_, names)| Words(names).find(|n| n.eq_ignore_ascii_case(name)))
        .ok_or(Refusal::Name)?;
    let v = value.as_bytes();
    let ok = match name {
        "href" | "cite" => url_ok(v, false),
        "src" => url_ok(v, true),
        "srcset" => v
            .split(|c| *c == b',' || is_ws(*c))
            .all(|t| url_ok(t, true)),
        "target" => value.eq_ignore_ascii_case("_blank") || value.eq_ignore_ascii_case("_self"),
        "rel" => !v
            .split(|c| is_ws(*c))
            .any(|t| t.eq_ignore_ascii_case(b"opener")),
        _ => true,
    };
    if ok {
        Ok(name)
    } else {
        Err(Refusal::Value)
    }
}

/// [`check_attribute`] for an element whose tag is not known yet (a
/// `setAttribute` action in the config, checked at load): the attribute must
/// be allowed on some element, with a safe value there. The page checks it
/// again against the real element.
pub fn check_attribute_anywhere(name: &str, value: &str) -> Result<&'static str, Refusal> {
    let tag = ATTRIBUTES
        .iter()
        .find(|(_, names)| Words(names).any(|n| n.eq_ignore_ascii_case(name)))
        .map_or("*", |(t, _)| *t);
    check_attribute(tag, name, value)
}

/// Every attribute name some element may carry, for messages.
pub fn attribute_names() -> impl Iterator<Item = &'static str> {
    ATTRIBUTES.iter().flat_map(|(_, names)| Words(names))
}

/// Whether `name="value"` may be set on a `tag` element.
pub fn attribute_allowed(tag: &str, name: &str, value: &str) -> bool {
    check_attribute(tag, name, value).is_ok()
}

/// The `rel` a `tag` element must carry given its `target`: a link that
/// opens a new browsing context gets `noopener noreferrer`.
pub fn forced_rel(tag: &str, target: Option<&str>) -> Option<&'static str> {
    (tag.eq_ignore_ascii_case("a") && target.is_some_and(|t| t.eq_ignore_ascii_case("_blank")))
        .then_some("noopener noreferrer")
}

/// The longest prefix of `input` of at most [`MAX_INPUT`] bytes that ends on
/// a character boundary, and whether anything was cut.
pub fn clamp(input: &str) -> (&str, bool) {
    let mut end = input.len().min(MAX_INPUT);
    while !input.is_char_boundary(end) {
        end -= 1;
    }
    (input.get(..end).unwrap_or(""), end < input.len())
}

/// What [`Builder::open`] did with an element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Open {
    /// Kept: its children follow, then [`Builder::close`].
    Kept,
    /// Unwrapped: its children follow, with no [`Builder::close`].
    Unwrapped,
    /// Removed with its content: skip its children.
    Dropped,
}

enum Class {
    Keep(&'static str),
    Unwrap,
    Drop,
}

/// The words of a space-separated list.
pub struct Words(pub &'static str);

impl Iterator for Words {
    type Item = &'static str;

    fn next(&mut self) -> Option<&'static str> {
        if self.0.is_empty() {
            return None;
        }
        let (word, rest) = self.0.split_at_char(' ').unwrap_or((self.0, ""));
        self.0 = rest;
        Some(word)
    }
}

/// The word of a space-separated `list` equal to `name`.
fn listed(list: &'static str, name: &str) -> Option<&'static str> {
    Words(list).find(|w| *w == name)
}

fn classify(name: &str) -> Class {
    if let Some(t) = listed(ELEMENTS, name) {
        Class::Keep(t)
    } else if listed(DROPPED, name).is_some() || name.bytes().any(|c| c == b':') {
        Class::Drop
    } else {
        Class::Unwrap
    }
}

/// What the sanitiser does with an element named `name` (lower case): keeps
/// it, unwraps it (keeps its content), or removes it with its content.
pub fn element_rule(name: &str) -> Open {
    match classify(name) {
        Class::Keep(_) => Open::Kept,
        Class::Unwrap => Open::Unwrapped,
        Class::Drop => Open::Dropped,
    }
}

/// Builds a sanitised fragment from a stream of elements and text. The
/// tokenizer feeds it in [`sanitize`]; the web shell feeds it a DOM that the
/// browser parsed, with [`Builder::open`], [`Builder::text`] and
/// [`Builder::close`].
#[derive(Default)]
pub struct Builder {
    roots: Vec<Node>,
    stack: Vec<Element>,
    nodes: usize,
    truncated: bool,
    /// From the tokenizer: a removed element whose content is being
    /// skipped, and its nesting.
    skip: Option<(String, usize)>,
}

impl Builder {
    /// An empty builder.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Whether [`MAX_NODES`] is reached: nothing more will be kept.
    pub fn full(&self) -> bool {
        self.nodes >= MAX_NODES
    }

    fn children(&mut self) -> &mut Vec<Node> {
        match self.stack.last_mut() {
            Some(e) => &mut e.children,
            None => &mut self.roots,
        }
    }

    /// Appends text (merged with text just before it).
    pub fn text(&mut self, text: &str) {
        if text.is_empty() || self.skip.is_some() {
            return;
        }
        if let Some(Node::Text(t)) = self.children().last_mut() {
            t.push_str(text);
        } else if self.full() {
            self.truncated = true;
        } else {
            self.nodes += 1;
            self.children().push(Node::Text(text.to_string()));
        }
    }

    /// Opens an element named `name` (lower case) with its attributes
    /// (distinct names, lower case; values decoded), and says what became of
    /// it.
    pub fn open(&mut self, name: &str, attrs: Vec<(String, String)>) -> Open {
        let tag = match classify(name) {
            Class::Keep(t) => t,
            Class::Unwrap => return Open::Unwrapped,
            Class::Drop => return Open::Dropped,
        };
        if self.full() {
            self.truncated = true;
            return Open::Dropped;
        }
        if self.stack.len() >= MAX_DEPTH {
            self.truncated = true;
            return Open::Unwrapped;
        }
        let target = attrs.iter().find(|(n, _)| n == "target");
        let rel = forced_rel(tag, target.map(|(_, v)| v.as_str()));
        let mut el = Element {
            tag,
            attrs: Vec::new(),
            children: Vec::new(),
        };
        for (n, v) in attrs {
            if rel.is_some() && n == "rel" {
                continue;
            }
            if let Ok(n) = check_attribute(tag, &n, &v) {
                el.attrs.push((n, v));
            }
        }
        if let Some(rel) = rel {
            el.attrs.push(("rel", rel.to_string()));
        }
        self.nodes += 1;
        self.stack.push(el);
        Open::Kept
    }

    /// Closes the element opened last.
    pub fn close(&mut self) {
        if let Some(e) = self.stack.pop() {
            self.children().push(Node::Element(e));
        }
    }

    /// The fragment, closing what is still open.
    pub fn finish(mut self) -> Fragment {
        while !self.stack.is_empty() {
            self.close();
        }
        Fragment {
            nodes: self.roots,
            truncated: self.truncated,
        }
    }

    fn top(&self) -> &str {
        self.stack.last().map_or("", |e| e.tag)
    }

    /// Closes elements until only `len` are open.
    fn close_to(&mut self, len: usize) {
        while self.stack.len() > len {
            self.close();
        }
    }

    /// The index of the innermost open element named in `names`, unless one
    /// named in `bounds` is met first.
    fn find(&self, names: &'static str, bounds: &'static str) -> Option<usize> {
        for (i, e) in self.stack.iter().enumerate().rev() {
            if listed(names, e.tag).is_some() {
                return Some(i);
            }
            if listed(bounds, e.tag).is_some() {
                return None;
            }
        }
        None
    }

    /// Closes the innermost open `names` item (`li`, or `dd`/`dt`) unless a
    /// block other than `div`, `p`, `address` is met first.
    fn close_item(&mut self, names: &'static str) {
        for i in (0..self.stack.len()).rev() {
            let tag = self.stack.get(i).map_or("", |e| e.tag);
            if listed(names, tag).is_some() {
                self.close_to(i);
                return;
            }
            if listed(INLINE, tag).is_none() {
                return;
            }
        }
    }

    /// The tree-building rules for a start tag of a kept element, as the
    /// HTML parser applies them in a body; `false` when the tag is ignored
    /// (a table part outside a table).
    fn implied(&mut self, tag: &str) -> bool {
        if listed(CLOSES_P, tag).is_some() {
            if let Some(i) = self.find("p", TABLE_SCOPE) {
                self.close_to(i);
            }
        }
        match tag {
            "li" => self.close_item("li"),
            "dd" | "dt" => self.close_item("dd dt"),
            "a" => {
                if let Some(i) = self.find("a", "") {
                    self.close_to(i);
                }
            }
            _ if listed(HEADINGS, tag).is_some() && listed(HEADINGS, self.top()).is_some() => {
                self.close()
            }
            "caption" | "tbody" | "thead" | "tfoot" | "tr" | "td" | "th" => {
                let within = match tag {
                    "tr" => "tbody thead tfoot table",
                    "td" | "th" => "tr tbody thead tfoot table",
                    _ => "table",
                };
                let Some(i) = self.find(within, "") else {
                    return false;
                };
                self.close_to(i + 1);
                if matches!(tag, "tr" | "td" | "th") && self.top() == "table" {
                    self.open("tbody", Vec::new());
                }
                if matches!(tag, "td" | "th") && listed(SECTIONS, self.top()).is_some() {
                    self.open("tr", Vec::new());
                }
            }
            _ => {}
        }
        true
    }

    /// A start tag from the tokenizer.
    fn start_tag(&mut self, name: String, attrs: Vec<(String, String)>, self_closing: bool) {
        if let Some((skipped, depth)) = &mut self.skip {
            if *skipped == name && !self_closing {
                *depth += 1;
            }
            return;
        }
        // The HTML parser reads <image> as <img>.
        let name = if name == "image" { "img".into() } else { name };
        match classify(&name) {
            Class::Drop => {
                if !(listed(VOID, &name).is_some()
                    || (self_closing && (name == "svg" || name == "math")))
                {
                    self.skip = Some((name, 1));
                }
            }
            Class::Unwrap => {}
            Class::Keep(tag) => {
                if self.implied(tag)
                    && self.open(tag, attrs) == Open::Kept
                    && listed(VOID, tag).is_some()
                {
                    self.close();
                }
            }
        }
    }

    /// An end tag from the tokenizer: closes the innermost open element of
    /// that name, if any.
    fn end_tag(&mut self, name: &str) {
        if let Some((skipped, depth)) = &mut self.skip {
            if skipped == name {
                *depth -= 1;
                if *depth == 0 {
                    self.skip = None;
                }
            }
        } else if let Some(i) = self.stack.iter().rposition(|e| e.tag == name) {
            self.close_to(i);
        }
    }
}

/// Sanitises an HTML fragment (as the content of a `<div>` in a page's body)
/// into allowed nodes. Never fails; see the module docs for what is kept.
pub fn sanitize(input: &str) -> Fragment {
    let (src, clamped) = clamp(input);
    let mut b = Builder {
        truncated: clamped,
        ..Builder::default()
    };
    let mut t = Tokenizer { s: src, i: 0 };
    while t.i < src.len() {
        if b.full() {
            b.truncated = true;
            break;
        }
        t.step(&mut b);
    }
    b.skip = None;
    b.finish()
}

fn is_ws(c: u8) -> bool {
    matches!(c, b'\t' | b'\n' | 0x0C | b'\r' | b' ')
}

/// An HTML tokenizer for the data state of a body, with comments, bogus
/// comments and raw-text elements skipped. Every step moves forward.
struct Tokenizer<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Tokenizer<'a> {
    fn byte(&self, k: usize) -> Option<u8> {
        self.s.as_bytes().get(self.i + k).copied()
    }

    /// Where `pat` (ASCII case-insensitive) next starts.
    fn find(&self, pat: &[u8]) -> Option<usize> {
        let rest = self.s.as_bytes().get(self.i..)?;
        let j = rest
            .windows(pat.len())
            .position(|w| w.eq_ignore_ascii_case(pat))?;
        Some(self.i + j)
    }

    /// Moves past the next `pat`, or to the end.
    fn skip_past(&mut self, pat: &[u8]) {
        self.i = self.find(pat).map_or(self.s.len(), |j| j + pat.len());
    }

    /// Moves past the bytes that satisfy `f`, and returns them. `f` holds for
    /// every non-ASCII byte, so this always stops on a character boundary.
    fn eat(&mut self, f: fn(u8) -> bool) -> &'a str {
        let from = self.i;
        while self.byte(0).is_some_and(f) {
            self.i += 1;
        }
        self.s.get(from..self.i).unwrap_or("")
    }

    /// Reads one token (text, tag, comment) into the builder; at least one
    /// byte.
    fn step(&mut self, b: &mut Builder) {
        let c = self.byte(0).unwrap_or(b'<');
        let c1 = self.byte(1).unwrap_or(b' ');
        let c2 = self.byte(2);
        let end = c1 == b'/';
        if c != b'<'
            || !(c1.is_ascii_alphabetic() || matches!(c1, b'!' | b'?') || (end && c2.is_some()))
        {
            // Text, up to the next `<` after this byte (`</` at the end is
            // text too).
            let from = self.i;
            self.i += 1;
            self.eat(|c| c != b'<');
            b.text(&decode(self.s.get(from..self.i).unwrap_or(""), false));
        } else if c1.is_ascii_alphabetic() || (end && c2.is_some_and(|c| c.is_ascii_alphabetic())) {
            self.i += 1 + usize::from(end);
            self.tag(end, b);
        } else if c1 == b'!' && c2 == Some(b'-') && self.byte(3) == Some(b'-') {
            // A comment; `<!-->` and `<!--->` are complete ones.
            self.i += 4;
            if self.byte(0) == Some(b'>') {
                self.i += 1;
            } else if self.byte(0) == Some(b'-') && self.byte(1) == Some(b'>') {
                self.i += 2;
            } else {
                let short = self.find(b"-->").map_or(usize::MAX, |j| j + 3);
                let long = self.find(b"--!>").map_or(usize::MAX, |j| j + 4);
                self.i = short.min(long).min(self.s.len());
            }
        } else {
            // `</>`, doctypes, CDATA sections, processing instructions,
            // `</` + non-letter: bogus comments up to the next `>`.
            self.skip_past(b">");
        }
    }

    /// A tag whose name starts here, into the builder. Nothing when the
    /// input ends inside the tag (browsers drop such a tag); a raw-text
    /// element is skipped whole.
    fn tag(&mut self, end: bool, b: &mut Builder) {
        let name = self
            .eat(|c| !is_ws(c) && c != b'/' && c != b'>')
            .to_ascii_lowercase();
        let mut attrs: Vec<(String, String)> = Vec::new();
        let mut self_closing = false;
        loop {
            self.eat(is_ws);
            match self.byte(0) {
                None => return,
                Some(b'>') => break,
                Some(b'/') => {
                    self.i += 1;
                    self_closing = self.byte(0) == Some(b'>');
                    continue;
                }
                _ => {}
            }
            // A name may start with `=`.
            let from = self.i;
            self.i += 1;
            self.eat(|c| !is_ws(c) && !matches!(c, b'/' | b'>' | b'='));
            let attr = self.s.get(from..self.i).unwrap_or("").to_ascii_lowercase();
            self.eat(is_ws);
            let mut value = String::new();
            if self.byte(0) == Some(b'=') {
                self.i += 1;
                self.eat(is_ws);
                let raw = match self.byte(0) {
                    Some(q @ (b'"' | b'\'')) => {
                        self.i += 1;
                        let from = self.i;
                        let Some(to) = self.find(&[q]) else {
                            self.i = self.s.len();
                            return;
                        };
                        self.i = to + 1;
                        self.s.get(from..to).unwrap_or("")
                    }
                    _ => self.eat(|c| !is_ws(c) && c != b'>'),
                };
                value = decode(raw, true);
            }
            // The first of duplicate attributes wins.
            if !attrs.iter().any(|(k, _)| *k == attr) {
                attrs.push((attr, value));
            }
        }
        self.i += 1;
        if end {
            b.end_tag(&name);
        } else if name == "plaintext" {
            self.i = self.s.len();
        } else if listed(RAW_TEXT, &name).is_some() {
            // Skip to an end tag of that name followed by space, `/` or `>`.
            let mut pat = String::from("</");
            pat.push_str(&name);
            loop {
                self.skip_past(pat.as_bytes());
                match self.byte(0) {
                    None => break,
                    Some(c) if is_ws(c) || c == b'/' || c == b'>' => {
                        self.tag(true, &mut Builder::default());
                        break;
                    }
                    _ => {}
                }
            }
        } else {
            b.start_tag(name, attrs, self_closing);
        }
    }
}

/// Named character references decoded (a subset: the common ones and those
/// used to hide URL schemes), with `;`; numeric ones are all decoded.
const ENTITIES: &[(&str, char)] = &[
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("nbsp", '\u{a0}'),
    ("copy", '\u{a9}'),
    ("reg", '\u{ae}'),
    ("apos", '\''),
    ("trade", '\u{2122}'),
    ("hellip", '\u{2026}'),
    ("mdash", '\u{2014}'),
    ("ndash", '\u{2013}'),
    ("lsquo", '\u{2018}'),
    ("rsquo", '\u{2019}'),
    ("ldquo", '\u{201c}'),
    ("rdquo", '\u{201d}'),
    ("laquo", '\u{ab}'),
    ("raquo", '\u{bb}'),
    ("bull", '\u{2022}'),
    ("euro", '\u{20ac}'),
    ("times", '\u{d7}'),
    ("Tab", '\t'),
    ("NewLine", '\n'),
    ("colon", ':'),
];

/// How many of the first [`ENTITIES`] are also decoded without `;` (HTML's
/// legacy names).
const LEGACY: usize = 7;

/// Decodes character references and normalises newlines; NUL is dropped in
/// text and replaced in attribute values. In attribute values a legacy name
/// followed by an alphanumeric or `=` is left alone, as browsers do.
fn decode(s: &str, attr: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.bytes().position(|c| matches!(c, b'&' | b'\r' | 0)) {
        out.push_str(rest.get(..i).unwrap_or(""));
        let tail = rest.get(i + 1..).unwrap_or("");
        let (c, used) = match rest.as_bytes().get(i) {
            Some(b'&') => {
                reference(tail.as_bytes(), attr).map_or((Some('&'), 0), |(c, n)| (Some(c), n))
            }
            Some(b'\r') => (Some('\n'), usize::from(tail.starts_with('\n'))),
            _ => (attr.then_some('\u{fffd}'), 0),
        };
        out.extend(c);
        rest = tail.get(used..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// The character a reference after `&` stands for, and the bytes it used.
fn reference(b: &[u8], attr: bool) -> Option<(char, usize)> {
    let semicolon = |i: usize| i + usize::from(b.get(i) == Some(&b';'));
    if b.first() == Some(&b'#') {
        let hex = matches!(b.get(1), Some(b'x' | b'X'));
        let start = 1 + usize::from(hex);
        let mut i = start;
        let mut v: u32 = 0;
        while let Some(&c) = b.get(i) {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' | b'A'..=b'F' if hex => (c | 0x20) - b'a' + 10,
                _ => break,
            };
            v = (v * if hex { 16 } else { 10 } + u32::from(d)).min(0x11_0000);
            i += 1;
        }
        let c = char::from_u32(v)
            .filter(|c| *c != '\0')
            .unwrap_or('\u{fffd}');
        return (i > start).then_some((c, semicolon(i)));
    }
    let run = b.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
    let name = b.get(..run)?;
    if b.get(run) == Some(&b';') {
        if let Some((_, c)) = ENTITIES.iter().find(|(n, _)| n.as_bytes() == name) {
            return Some((*c, run + 1));
        }
    }
    // A legacy name the run starts with (`&ampx` is `&x`; none is a prefix
    // of another).
    let (n, c) = ENTITIES
        .get(..LEGACY)?
        .iter()
        .find(|(n, _)| name.starts_with(n.as_bytes()))?;
    let next = b.get(n.len());
    if attr && next.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'=') {
        return None;
    }
    Some((*c, n.len()))
}
