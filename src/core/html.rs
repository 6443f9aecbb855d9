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

/// What an attribute's value must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// Any text.
    Text,
    /// A URL that [`url_allowed`] accepts (not an image).
    Url,
    /// An image URL: [`url_allowed`] with `image`.
    ImageUrl,
    /// A `srcset`: every candidate URL is an allowed image URL.
    Srcset,
    /// `_blank` or `_self`.
    Target,
    /// Link types without `opener`.
    Rel,
}

/// Attributes kept: `(element or "*" for any, attribute, value rule)`.
pub const ATTRIBUTES: &[(&str, &str, Value)] = &[
    ("*", "class", Value::Text),
    ("*", "title", Value::Text),
    ("*", "lang", Value::Text),
    ("*", "dir", Value::Text),
    ("*", "role", Value::Text),
    ("*", "aria-label", Value::Text),
    ("*", "aria-hidden", Value::Text),
    ("*", "data-sillage-track", Value::Text),
    ("*", "data-sillage-props", Value::Text),
    ("a", "href", Value::Url),
    ("a", "target", Value::Target),
    ("a", "rel", Value::Rel),
    ("a", "hreflang", Value::Text),
    ("img", "src", Value::ImageUrl),
    ("img", "srcset", Value::Srcset),
    ("img", "sizes", Value::Text),
    ("img", "alt", Value::Text),
    ("img", "width", Value::Text),
    ("img", "height", Value::Text),
    ("img", "loading", Value::Text),
    ("img", "decoding", Value::Text),
    ("source", "srcset", Value::Srcset),
    ("source", "sizes", Value::Text),
    ("source", "media", Value::Text),
    ("source", "type", Value::Text),
    ("source", "width", Value::Text),
    ("source", "height", Value::Text),
    ("blockquote", "cite", Value::Url),
    ("q", "cite", Value::Url),
    ("del", "cite", Value::Url),
    ("ins", "cite", Value::Url),
    ("del", "datetime", Value::Text),
    ("ins", "datetime", Value::Text),
    ("time", "datetime", Value::Text),
    ("ol", "start", Value::Text),
    ("ol", "reversed", Value::Text),
    ("ol", "type", Value::Text),
    ("li", "value", Value::Text),
    ("td", "colspan", Value::Text),
    ("td", "rowspan", Value::Text),
    ("th", "colspan", Value::Text),
    ("th", "rowspan", Value::Text),
    ("th", "scope", Value::Text),
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
/// The scheme is read the way a browser's URL parser reads it: leading and
/// trailing C0 controls and spaces are ignored, tabs and newlines anywhere are
/// ignored, and the scheme is compared case-insensitively, so `
/// jav\tascript:` and `JaVaScRiPt:` are both `javascript:`. Decode character
/// references first (attribute values from markup are decoded by the
/// tokenizer).
pub fn url_allowed(value: &str, image: bool) -> bool {
    let mut chars = value
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'));
    let mut scheme = String::new();
    loop {
        match chars.next() {
            Some(':') => break,
            Some(c)
                if c.is_ascii_alphabetic()
                    || (!scheme.is_empty()
                        && (c.is_ascii_digit() || matches!(c, '+' | '-' | '.'))) =>
            {
                scheme.push(c.to_ascii_lowercase())
            }
            // No scheme: a relative reference, resolved against the page.
            _ => return true,
        }
    }
    match scheme.as_str() {
        "" | "http" | "https" => true,
        "data" if image => {
            let mime: String = chars.take(12).collect::<String>().to_ascii_lowercase();
            DATA_IMAGES.split(' ').any(|t| {
                mime.strip_prefix(t)
                    .is_some_and(|r| r.starts_with(';') || r.starts_with(','))
            })
        }
        _ => false,
    }
}

/// Whether a `srcset` holds only allowed image URLs. Every token between
/// whitespace and commas must pass [`url_allowed`] (descriptors such as `2x`
/// read as relative URLs). Browsers keep commas inside a candidate URL, but
/// a scheme ends before any comma, so this split sees every scheme they see;
/// it is stricter only for a `data:` URL whose type is followed directly by
/// its comma (`data:image/png,...`: write `data:image/png;base64,...`).
fn srcset_allowed(value: &str) -> bool {
    value
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .all(|t| url_allowed(t, true))
}

/// Checks an attribute for an element (names compared ASCII
/// case-insensitively): the attribute's name as spelt in [`ATTRIBUTES`], or
/// why it is refused. Shared by the sanitiser and the `setAttribute` action.
pub fn check_attribute(tag: &str, name: &str, value: &str) -> Result<&'static str, Refusal> {
    let Some(&(_, name, rule)) = ATTRIBUTES.iter().find(|(t, n, _)| {
        (*t == "*" || t.eq_ignore_ascii_case(tag)) && n.eq_ignore_ascii_case(name)
    }) else {
        return Err(Refusal::Name);
    };
    let ok = match rule {
        Value::Text => true,
        Value::Url => url_allowed(value, false),
        Value::ImageUrl => url_allowed(value, true),
        Value::Srcset => srcset_allowed(value),
        Value::Target => ["_blank", "_self"]
            .iter()
            .any(|t| t.eq_ignore_ascii_case(value)),
        Value::Rel => !value
            .split(|c: char| c.is_ascii_whitespace())
            .any(|t| t.eq_ignore_ascii_case("opener")),
    };
    if ok {
        Ok(name)
    } else {
        Err(Refusal::Value)
    }
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

/// The distinct attribute names of [`ATTRIBUTES`].
pub fn attribute_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for (_, n, _) in ATTRIBUTES {
        if !names.contains(n) {
            names.push(n);
        }
    }
    names
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

/// The word of a space-separated `list` equal to `name`.
fn listed(list: &'static str, name: &str) -> Option<&'static str> {
    list.split(' ').find(|w| *w == name)
}

fn classify(name: &str) -> Class {
    if let Some(t) = listed(ELEMENTS, name) {
        Class::Keep(t)
    } else if listed(DROPPED, name).is_some() || name.contains(':') {
        Class::Drop
    } else {
        Class::Unwrap
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
        if text.is_empty() {
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
    /// (names lower case, values decoded), and says what became of it.
    pub fn open(&mut self, name: &str, attrs: &[(String, String)]) -> Open {
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
        let mut el = Element {
            tag,
            attrs: Vec::new(),
            children: Vec::new(),
        };
        for (n, v) in attrs {
            if let Ok(n) = check_attribute(tag, n, v) {
                if !el.attrs.iter().any(|(k, _)| *k == n) {
                    el.attrs.push((n, v.clone()));
                }
            }
        }
        let target = el.attrs.iter().find(|(k, _)| *k == "target");
        if let Some(rel) = forced_rel(tag, target.map(|(_, v)| v.as_str())) {
            match el.attrs.iter_mut().find(|(k, _)| *k == "rel") {
                Some(slot) => slot.1 = rel.to_string(),
                None => el.attrs.push(("rel", rel.to_string())),
            }
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
                    self.open("tbody", &[]);
                }
                if matches!(tag, "td" | "th") && listed(SECTIONS, self.top()).is_some() {
                    self.open("tr", &[]);
                }
            }
            _ => {}
        }
        true
    }

    /// A start tag from the tokenizer; `true` when the element is removed
    /// with its content (skip up to its end tag).
    fn start_tag(&mut self, name: &str, attrs: &[(String, String)], self_closing: bool) -> bool {
        // The HTML parser reads <image> as <img>.
        let name = if name == "image" { "img" } else { name };
        match classify(name) {
            Class::Drop => {
                !(listed(VOID, name).is_some()
                    || (self_closing && (name == "svg" || name == "math")))
            }
            Class::Unwrap => false,
            Class::Keep(tag) => {
                if self.implied(tag)
                    && self.open(tag, attrs) == Open::Kept
                    && listed(VOID, tag).is_some()
                {
                    self.close();
                }
                false
            }
        }
    }

    /// An end tag from the tokenizer: closes the innermost open element of
    /// that name, if any.
    fn end_tag(&mut self, name: &str) {
        if let Some(i) = self.stack.iter().rposition(|e| e.tag == name) {
            self.close_to(i);
        }
    }
}

/// Sanitises an HTML fragment (as the content of a `<div>` in a page's body)
/// into allowed nodes. Never fails; see the module docs for what is kept.
pub fn sanitize(input: &str) -> Fragment {
    let (src, clamped) = clamp(input);
    let mut b = Builder::new();
    b.truncated = clamped;
    let mut tok = Tokenizer { s: src, i: 0 };
    // A removed element whose content is being skipped, and its nesting.
    let mut skip: Option<(String, usize)> = None;
    while let Some(token) = tok.next() {
        if b.full() {
            b.truncated = true;
            break;
        }
        if let Some((name, depth)) = &mut skip {
            match token {
                Token::Start(n, _, false) if n == *name => *depth += 1,
                Token::End(n) if n == *name => {
                    *depth -= 1;
                    if *depth == 0 {
                        skip = None;
                    }
                }
                _ => {}
            }
            continue;
        }
        match token {
            Token::Text(t) => b.text(&t),
            Token::Start(n, attrs, self_closing) => {
                if b.start_tag(&n, &attrs, self_closing) {
                    skip = Some((n, 1));
                }
            }
            Token::End(n) => b.end_tag(&n),
        }
    }
    b.finish()
}

enum Token {
    Start(String, Vec<(String, String)>, bool),
    End(String),
    Text(String),
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

impl Tokenizer<'_> {
    fn byte(&self, at: usize) -> Option<u8> {
        self.s.as_bytes().get(at).copied()
    }

    fn slice(&self, from: usize, to: usize) -> &str {
        self.s.get(from..to).unwrap_or("")
    }

    /// The position of `pat` at or after `from`.
    fn find(&self, from: usize, pat: &[u8]) -> Option<usize> {
        let rest = self.s.as_bytes().get(from..)?;
        rest.windows(pat.len())
            .position(|w| w == pat)
            .map(|j| from + j)
    }

    /// Moves past the next `pat` at or after `from`, or to the end.
    fn skip_past(&mut self, from: usize, pat: &[u8]) {
        self.i = self.find(from, pat).map_or(self.s.len(), |j| j + pat.len());
    }

    fn next(&mut self) -> Option<Token> {
        loop {
            let i = self.i;
            if self.byte(i)? != b'<' {
                return Some(self.text(i));
            }
            let after = |k: usize| self.byte(i + k);
            match after(1) {
                Some(c) if c.is_ascii_alphabetic() => {
                    self.i = i + 1;
                    if let Some(t) = self.tag(false) {
                        return Some(t);
                    }
                }
                Some(b'/') => match after(2) {
                    Some(c) if c.is_ascii_alphabetic() => {
                        self.i = i + 2;
                        if let Some(t) = self.tag(true) {
                            return Some(t);
                        }
                    }
                    Some(b'>') => self.i = i + 3,
                    None => return Some(self.text(i)),
                    _ => self.skip_past(i + 2, b">"),
                },
                Some(b'!') if after(2) == Some(b'-') && after(3) == Some(b'-') => {
                    // A comment; `<!-->` and `<!--->` are complete ones.
                    match (after(4), after(5)) {
                        (Some(b'>'), _) => self.i = i + 5,
                        (Some(b'-'), Some(b'>')) => self.i = i + 6,
                        _ => {
                            let end = [&b"-->"[..], b"--!>"]
                                .iter()
                                .filter_map(|p| self.find(i + 4, p).map(|j| j + p.len()))
                                .min();
                            self.i = end.unwrap_or(self.s.len());
                        }
                    }
                }
                // Doctypes, CDATA sections, processing instructions: bogus
                // comments up to the next `>`.
                Some(b'!' | b'?') => self.skip_past(i + 2, b">"),
                _ => return Some(self.text(i)),
            }
        }
    }

    /// Text from `from` up to the next `<` after it.
    fn text(&mut self, from: usize) -> Token {
        let end = self.find(from + 1, b"<").unwrap_or(self.s.len());
        self.i = end;
        Token::Text(decode(self.slice(from, end), false))
    }

    /// A tag whose name starts at `self.i`. `None` when there is nothing to
    /// emit: the input ended inside the tag (browsers drop such a tag), or a
    /// raw-text element was skipped whole.
    fn tag(&mut self, end: bool) -> Option<Token> {
        let b = self.s.as_bytes();
        let len = b.len();
        let mut i = self.i;
        let until = |i: &mut usize, stop: &dyn Fn(u8) -> bool| {
            while b.get(*i).is_some_and(|&c| !stop(c)) {
                *i += 1;
            }
        };
        until(&mut i, &|c| is_ws(c) || c == b'/' || c == b'>');
        let name = self.slice(self.i, i).to_ascii_lowercase();
        let mut attrs: Vec<(String, String)> = Vec::new();
        let mut self_closing = false;
        loop {
            until(&mut i, &|c| !is_ws(c));
            match b.get(i) {
                None => {
                    self.i = len;
                    return None;
                }
                Some(b'>') => {
                    i += 1;
                    break;
                }
                Some(b'/') => {
                    i += 1;
                    if b.get(i) == Some(&b'>') {
                        self_closing = true;
                        i += 1;
                        break;
                    }
                    continue;
                }
                _ => {}
            }
            // A name may start with `=`.
            let n0 = i;
            i += 1;
            until(&mut i, &|c| is_ws(c) || matches!(c, b'/' | b'>' | b'='));
            let attr = self.slice(n0, i).to_ascii_lowercase();
            until(&mut i, &|c| !is_ws(c));
            let mut value = String::new();
            if b.get(i) == Some(&b'=') {
                i += 1;
                until(&mut i, &|c| !is_ws(c));
                match b.get(i) {
                    Some(&q @ (b'"' | b'\'')) => {
                        let Some(e) = self.find(i + 1, &[q]) else {
                            self.i = len;
                            return None;
                        };
                        value = decode(self.slice(i + 1, e), true);
                        i = e + 1;
                    }
                    Some(b'>') | None => {}
                    _ => {
                        let v0 = i;
                        until(&mut i, &|c| is_ws(c) || c == b'>');
                        value = decode(self.slice(v0, i), true);
                    }
                }
            }
            // The first of duplicate attributes wins.
            if !attrs.iter().any(|(k, _)| *k == attr) {
                attrs.push((attr, value));
            }
        }
        self.i = i;
        if end {
            return Some(Token::End(name));
        }
        if name == "plaintext" {
            self.i = len;
            return None;
        }
        if listed(RAW_TEXT, &name).is_some() {
            self.skip_raw(&name);
            return None;
        }
        Some(Token::Start(name, attrs, self_closing))
    }

    /// Skips a raw-text element's content and its end tag.
    fn skip_raw(&mut self, name: &str) {
        let mut from = self.i;
        while let Some(j) = self.find(from, b"</") {
            let n = j + 2 + name.len();
            if self.slice(j + 2, n).eq_ignore_ascii_case(name)
                && self
                    .byte(n)
                    .is_some_and(|c| is_ws(c) || c == b'/' || c == b'>')
            {
                self.i = n;
                self.tag(true);
                return;
            }
            from = j + 2;
        }
        self.i = self.s.len();
    }
}

/// Named character references decoded (a subset: the common ones and those
/// used to hide URL schemes), with `;`.
const ENTITIES: &[(&str, char)] = &[
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("nbsp", '\u{a0}'),
    ("copy", '\u{a9}'),
    ("reg", '\u{ae}'),
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
    ("middot", '\u{b7}'),
    ("euro", '\u{20ac}'),
    ("pound", '\u{a3}'),
    ("yen", '\u{a5}'),
    ("cent", '\u{a2}'),
    ("deg", '\u{b0}'),
    ("times", '\u{d7}'),
    ("divide", '\u{f7}'),
    ("shy", '\u{ad}'),
    ("Tab", '\t'),
    ("NewLine", '\n'),
    ("colon", ':'),
    ("semi", ';'),
    ("sol", '/'),
    ("bsol", '\\'),
    ("lpar", '('),
    ("rpar", ')'),
    ("period", '.'),
    ("comma", ','),
    ("excl", '!'),
    ("quest", '?'),
    ("num", '#'),
    ("equals", '='),
    ("lowbar", '_'),
    ("grave", '`'),
];

/// Names decoded even without `;` (HTML's legacy ones, among the above).
const LEGACY: &[&str] = &["amp", "lt", "gt", "quot", "nbsp", "copy", "reg"];

/// Decodes character references (the named subset above and all numeric
/// ones), and normalises newlines; NUL is dropped in text and replaced in
/// attribute values. In attribute values a legacy name followed by an
/// alphanumeric or `=` is left alone, as browsers do.
fn decode(s: &str, attr: bool) -> String {
    if !s.contains(['&', '\r', '\0']) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        rest = rest.get(c.len_utf8()..).unwrap_or("");
        match c {
            '\r' => {
                out.push('\n');
                rest = rest.strip_prefix('\n').unwrap_or(rest);
            }
            '\0' if attr => out.push('\u{fffd}'),
            '\0' => {}
            '&' => match reference(rest, attr) {
                Some((ch, used)) => {
                    out.push(ch);
                    rest = rest.get(used..).unwrap_or("");
                }
                None => out.push('&'),
            },
            c => out.push(c),
        }
    }
    out
}

/// The character a reference after `&` stands for, and the bytes it used.
fn reference(s: &str, attr: bool) -> Option<(char, usize)> {
    let b = s.as_bytes();
    if let Some(num) = s.strip_prefix('#') {
        let hex = num.starts_with(['x', 'X']);
        let digits = num.as_bytes().get(usize::from(hex)..).unwrap_or(&[]);
        let radix = if hex { 16 } else { 10 };
        let n = digits
            .iter()
            .take_while(|c| (**c as char).is_digit(radix))
            .count();
        if n == 0 {
            return None;
        }
        let mut v: u32 = 0;
        for &c in digits.get(..n)? {
            let d = (c as char).to_digit(radix).unwrap_or(0);
            v = v.saturating_mul(radix).saturating_add(d).min(0x11_0000);
        }
        let used = 1 + usize::from(hex) + n;
        let used = used + usize::from(b.get(used) == Some(&b';'));
        let ch = char::from_u32(v)
            .filter(|&c| c != '\0')
            .unwrap_or('\u{fffd}');
        return Some((ch, used));
    }
    let run = b
        .iter()
        .take(32)
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    let name = s.get(..run)?;
    if b.get(run) == Some(&b';') {
        if let Some((_, ch)) = ENTITIES.iter().find(|(n, _)| *n == name) {
            return Some((*ch, run + 1));
        }
    }
    let legacy = LEGACY
        .iter()
        .filter(|l| name.starts_with(**l))
        .max_by_key(|l| l.len())?;
    let next = b.get(legacy.len());
    if attr && next.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'=') {
        return None;
    }
    let (_, ch) = ENTITIES.iter().find(|(n, _)| n == legacy)?;
    Some((*ch, legacy.len()))
}
