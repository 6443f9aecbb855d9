//! Warnings about a config that parses but cannot do what its author meant.
//!
//! [`crate::config::parse`] reports what it cannot use (an unknown
//! operator, a bad action: the rule is skipped). A condition can be well
//! formed and still never match: a value outside a closed vocabulary
//! (`"stage": "considration"`), or an attribute that does not exist
//! (`"Stage"`, a site attribute nobody declared), which every condition sees
//! as `null`. [`check`] finds those, each with its JSON path and, when a
//! known name is close, a did-you-mean:
//!
//! - attribute paths in `rules[].when` and `audiences.*` that are neither
//!   built in ([`crate::decide::attributes::built_in_paths`]) nor declared in
//!   the config's `attributes` (a declared name covers every path below it);
//! - values compared with the attributes whose vocabulary is closed
//!   (`stage`, `device`, `channel`) by equality, `$eq`, `$ne`, `$in`, `$nin`,
//!   `$ini`, `$nini`, `$regex` and `$regexi`;
//! - event names in the stage model (`stages.signals[].when.event` and
//!   `sinceEvent.event`) that are near misses of the journey vocabulary
//!   ([`crate::track::journey_events::near_miss`]).
//!
//! [`declared`] reads the config's `attributes` list (its bad entries are
//! errors), which only this module uses.
//!
//! Why warnings and not errors: the config is still usable as written, and
//! a site may mean it (an event name of its own close to a Spec one). The
//! CLI (`sillage check`, `sillage explain`) runs this; the web shell never
//! calls it, so the wasm does not carry it. It keeps the shipping dialect
//! (no `format!`, no `str` substring search) so a debug build could.

use crate::config::Config;
use crate::decide::attributes::{built_in_paths, Shape, BUILT_IN, DEVICES, STAGES};
use crate::decide::condition::JsHost;
use crate::profile::model::StageModel;
use crate::support::diag::{did_you_mean, index_path, key_path, type_error, Diagnostic, Tpl};
use crate::support::json::Json;
use crate::support::strsearch::CharSearch;
use crate::t;
use crate::track::touchpoint::CHANNELS;

/// The attribute paths a config's conditions may use: the built-in ones and
/// the site's declared ones, plus the stage model's signal ids (to explain
/// `signals.<id>`).
#[derive(Clone, Debug)]
pub struct Known {
    /// `(path, shape, declared by the site)`.
    paths: Vec<(String, Shape, bool)>,
    signal_ids: Vec<String>,
}

/// The closed vocabularies: attribute, its values, what one value is.
const VOCABULARIES: [(&str, &[&str], &str); 3] = [
    ("stage", &STAGES, "stage"),
    ("device", &DEVICES, "device class"),
    ("channel", CHANNELS, "channel group"),
];

/// The closest of `known` to `word`, ignoring case: the same word first,
/// then a plausible typo (`PURCHSE`), then the only name it begins
/// (`consider`).
fn suggest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    if let Some(k) = known.iter().find(|k| k.eq_ignore_ascii_case(word)) {
        return Some(k);
    }
    let word = word.to_ascii_lowercase();
    let lower: Vec<String> = known.iter().map(|k| k.to_ascii_lowercase()).collect();
    let refs: Vec<&str> = lower.iter().map(String::as_str).collect();
    let i = match did_you_mean(&word, &refs) {
        Some(hit) => refs.iter().position(|r| *r == hit)?,
        None if word.len() >= 3 => {
            let mut starts = refs
                .iter()
                .enumerate()
                .filter(|(_, r)| r.starts_with(&word));
            match (starts.next(), starts.next()) {
                (Some((i, _)), None) => i,
                _ => return None,
            }
        }
        None => return None,
    };
    known.get(i).copied()
}

fn is_index(seg: &str) -> bool {
    seg == "length" || (!seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()))
}

impl Known {
    /// The built-in paths, the site's `declared` ones and `model`'s signals.
    pub fn new(declared: &[&str], model: &StageModel) -> Known {
        let mut paths: Vec<(String, Shape, bool)> = built_in_paths()
            .into_iter()
            .map(|(p, s)| (p, s, false))
            .collect();
        for name in declared {
            let mut prefix = String::new();
            let mut segs = name.split('.').peekable();
            while let Some(seg) = segs.next() {
                prefix = key_path(&prefix, seg);
                let shape = if segs.peek().is_none() {
                    Shape::Open
                } else {
                    Shape::Object
                };
                match paths.iter_mut().find(|(p, _, _)| *p == prefix) {
                    // A built-in name: the config parser reports it.
                    Some((_, _, false)) => break,
                    Some((_, s, true)) => {
                        if shape == Shape::Open {
                            *s = Shape::Open;
                        }
                    }
                    None => paths.push((prefix.clone(), shape, true)),
                }
            }
        }
        Known {
            paths,
            signal_ids: model.signals.iter().map(|s| s.id.clone()).collect(),
        }
    }

    fn find(&self, path: &str) -> Option<(Shape, bool)> {
        self.paths
            .iter()
            .find(|(p, _, _)| p == path)
            .map(|(_, s, d)| (*s, *d))
    }

    /// The names directly under `parent` (`""`: the top level).
    fn children(&self, parent: &str) -> Vec<&str> {
        self.paths
            .iter()
            .filter_map(|(p, _, _)| {
                let rest = if parent.is_empty() {
                    p.as_str()
                } else {
                    p.strip_prefix(parent)?.strip_prefix('.')?
                };
                (!rest.has_char(|c| c == '.')).then_some(rest)
            })
            .collect()
    }

    /// Why a condition on `path` sees `null` whatever the visitor does, or
    /// `None` when the path is built in or declared. The warning is at the
    /// document's root (`""`): the caller moves it to the condition's key.
    pub fn check_path(&self, path: &str) -> Option<Diagnostic> {
        let segs: Vec<&str> = path.split('.').collect();
        let mut parent = String::new();
        let mut shape = Shape::Object;
        let mut declared = false;
        for (i, seg) in segs.iter().enumerate() {
            match shape {
                Shape::Open => return None,
                Shape::List if is_index(seg) => {
                    parent = key_path(&parent, seg);
                    shape = Shape::Value;
                }
                Shape::List | Shape::Value => {
                    let tpl = if shape == Shape::List {
                        t!("unknown attribute \"{}\": \"{}\" is a list: only .0, .1, ... and .length reach into it (or test its items with $elemMatch)")
                    } else {
                        t!("unknown attribute \"{}\": \"{}\" is a single value with nothing below it")
                    };
                    return Some(Diagnostic::new("", tpl).arg(path).arg(&parent));
                }
                Shape::Object => {
                    let here = key_path(&parent, seg);
                    if let Some((s, d)) = self.find(&here) {
                        parent = here;
                        shape = s;
                        declared = d;
                        continue;
                    }
                    return Some(self.unknown(&segs, i, &parent, declared));
                }
            }
        }
        None
    }

    /// `unknown attribute "<path>" (did you mean "<path>"?): <why>`, for an
    /// unknown `segs[i]` under `parent` (at the root, as
    /// [`Known::check_path`]).
    fn unknown(&self, segs: &[&str], i: usize, parent: &str, declared: bool) -> Diagnostic {
        let seg = segs.get(i).copied().unwrap_or_default();
        let children = self.children(parent);
        // The path with the suggestion in place of `segs[i]`.
        let suggestion = suggest(seg, &children).map(|s| {
            let mut p = String::new();
            for (j, x) in segs.iter().enumerate() {
                if j > 0 {
                    p.push('.');
                }
                p.push_str(if j == i { s } else { x });
            }
            p
        });
        // Without and with the suggestion, and the arguments after it.
        let (plain, suggested, why): (Tpl, Tpl, Vec<String>) = if parent.is_empty() || declared {
            (
                t!("unknown attribute \"{}\": neither built in nor declared in the config's \"attributes\""),
                t!("unknown attribute \"{}\" (did you mean \"{}\"?): neither built in nor declared in the config's \"attributes\""),
                Vec::new(),
            )
        } else if parent == "signals" && self.signal_ids.iter().any(|id| id == seg) {
            (
                t!("unknown attribute \"{}\": \"{}\" is a signal of the stage model; signals.* holds the intent signals only"),
                t!("unknown attribute \"{}\" (did you mean \"{}\"?): \"{}\" is a signal of the stage model; signals.* holds the intent signals only"),
                vec![seg.to_string()],
            )
        } else {
            (
                t!("unknown attribute \"{}\": \"{}\" has only {}"),
                t!("unknown attribute \"{}\" (did you mean \"{}\"?): \"{}\" has only {}"),
                vec![parent.to_string(), children.join(", ")],
            )
        };
        let mut d = match suggestion {
            Some(s) => Diagnostic::new("", suggested).arg(&segs.join(".")).arg(&s),
            None => Diagnostic::new("", plain).arg(&segs.join(".")),
        };
        for a in why {
            d = d.arg(&a);
        }
        d
    }
}

/// The site's own attribute names declared in `doc`'s `attributes` (dot
/// paths allowed: `account.tier`). A bad entry is an error, pushed to `out`
/// with its JSON path, and left out.
///
/// Why here and not in `config::parse`: only `sillage check` reads the
/// list; the page has no use for it, so it accepts the key and carries no
/// code for it.
pub fn declared<'a>(doc: &'a Json, out: &mut Vec<Diagnostic>) -> Vec<&'a str> {
    let mut names = Vec::new();
    let items = match doc.get("attributes") {
        None => return names,
        Some(Json::Arr(items)) => items,
        Some(other) => {
            out.push(type_error(
                "attributes",
                t!("must be an array of attribute names, not {}"),
                other,
            ));
            return names;
        }
    };
    for (i, item) in items.iter().enumerate() {
        let at = index_path("attributes", i);
        let Json::Str(name) = item else {
            out.push(type_error(
                &at,
                t!("must be an attribute name (a string), not {}"),
                item,
            ));
            continue;
        };
        let first = name.split('.').next().unwrap_or_default();
        let d = if name.split('.').any(str::is_empty) {
            Diagnostic::new(
                at,
                t!("\"{}\" must be a name or a dot path (\"plan\", \"account.tier\")"),
            )
            .arg(name.as_str())
        } else if name.starts_with('$') {
            Diagnostic::new(
                at,
                t!("\"{}\" must not start with $ (conditions read that as an operator)"),
            )
            .arg(name.as_str())
        } else if !name.has_char(|c| c == '.') && BUILT_IN.contains(&first) {
            Diagnostic::new(
                at,
                t!("\"{}\" is a built-in attribute and cannot be replaced"),
            )
            .arg(name.as_str())
        } else if BUILT_IN.contains(&first) {
            Diagnostic::new(
                at,
                t!("\"{}\" is inside the built-in attribute \"{}\", which the site cannot replace or extend"),
            )
            .arg(name.as_str())
            .arg(first)
        } else {
            names.push(name.as_str());
            continue;
        };
        out.push(d);
    }
    names
}

/// Every warning about `doc` (whose parsed form is `cfg`): unknown
/// attribute paths, values outside a closed vocabulary, near-miss event
/// names. `host` runs `$regex` patterns against the vocabularies.
pub fn check(doc: &Json, cfg: &Config, host: &dyn JsHost) -> Vec<Diagnostic> {
    let declared = declared(doc, &mut Vec::new());
    let mut l = Linter {
        known: Known::new(&declared, &cfg.stages),
        host,
        out: Vec::new(),
    };
    if let Some(Json::Obj(audiences)) = doc.get("audiences") {
        for (name, cond) in audiences {
            l.cond(cond, &key_path("audiences", name));
        }
    }
    if let Some(Json::Arr(rules)) = doc.get("rules") {
        for (i, rule) in rules.iter().enumerate() {
            if let Some(when) = rule.get("when") {
                l.cond(when, &key_path(&index_path("rules", i), "when"));
            }
        }
    }
    if let Some(Json::Arr(signals)) = doc.get("stages").and_then(|s| s.get("signals")) {
        for (i, signal) in signals.iter().enumerate() {
            let at = key_path(&index_path("stages.signals", i), "when");
            let Some(when) = signal.get("when") else {
                continue;
            };
            match when.get("event") {
                Some(Json::Str(e)) => l.event(e, &key_path(&at, "event")),
                Some(Json::Arr(items)) => {
                    for (j, e) in items.iter().enumerate() {
                        if let Json::Str(e) = e {
                            l.event(e, &index_path(&key_path(&at, "event"), j));
                        }
                    }
                }
                _ => {}
            }
            if let Some(Json::Str(e)) = when.get("sinceEvent").and_then(|s| s.get("event")) {
                l.event(e, &key_path(&at, "sinceEvent.event"));
            }
        }
    }
    l.out
}

struct Linter<'a> {
    known: Known,
    host: &'a dyn JsHost,
    out: Vec<Diagnostic>,
}

/// What a value outside the vocabulary means for the test that holds it.
#[derive(Clone, Copy)]
enum Test {
    /// Equality, `$eq`, `$regex`: never true.
    Equal,
    /// `$ne`: always true.
    NotEqual,
    /// An item of `$in`: never the one that matches.
    In,
    /// An item of `$nin`: never the one that excludes.
    NotIn,
}

impl Test {
    /// The warning for a value outside the vocabulary (`"<value>" is not a
    /// <what> ...; <consequence>`): with a suggestion, and with the list of
    /// the vocabulary.
    fn templates(self) -> (Tpl, Tpl) {
        match self {
            Test::Equal => (
                t!("\"{}\" is not a {} (did you mean \"{}\"?); this condition can never match"),
                t!("\"{}\" is not a {} (one of {}); this condition can never match"),
            ),
            Test::NotEqual => (
                t!("\"{}\" is not a {} (did you mean \"{}\"?); this condition always matches"),
                t!("\"{}\" is not a {} (one of {}); this condition always matches"),
            ),
            Test::In => (
                t!("\"{}\" is not a {} (did you mean \"{}\"?); this item can never match"),
                t!("\"{}\" is not a {} (one of {}); this item can never match"),
            ),
            Test::NotIn => (
                t!("\"{}\" is not a {} (did you mean \"{}\"?); this item excludes nobody"),
                t!("\"{}\" is not a {} (one of {}); this item excludes nobody"),
            ),
        }
    }
}

type Vocabulary = (&'static [&'static str], &'static str);

impl Linter<'_> {
    fn event(&mut self, name: &str, at: &str) {
        if let Some(d) = crate::track::journey_events::near_miss(at, name.trim()) {
            self.out.push(d);
        }
    }

    /// A condition (an object of attribute paths and logical operators).
    fn cond(&mut self, c: &Json, at: &str) {
        let Json::Obj(clauses) = c else {
            return;
        };
        for (k, v) in clauses {
            let here = key_path(at, k);
            match k.as_str() {
                "$or" | "$and" | "$nor" => {
                    if let Json::Arr(items) = v {
                        for (i, item) in items.iter().enumerate() {
                            self.cond(item, &index_path(&here, i));
                        }
                    }
                }
                "$not" => self.cond(v, &here),
                // Unknown operators are the parser's errors.
                _ if k.starts_with('$') => {}
                _ => match self.known.check_path(k) {
                    Some(mut d) => {
                        d.path = here;
                        self.out.push(d);
                    }
                    None => {
                        let vocab = VOCABULARIES
                            .iter()
                            .find(|(attr, _, _)| *attr == k)
                            .map(|(_, words, what)| (*words, *what));
                        if let Some(vocab) = vocab {
                            self.value(v, &here, vocab);
                        }
                    }
                },
            }
        }
    }

    /// What a condition compares the attribute with: a literal or an
    /// object of operators.
    fn value(&mut self, v: &Json, at: &str, vocab: Vocabulary) {
        let ops = match v {
            Json::Str(s) => return self.word(s, at, vocab, false, Test::Equal),
            Json::Obj(m) if !m.is_empty() && m.iter().all(|(k, _)| k.starts_with('$')) => m,
            _ => return,
        };
        for (op, arg) in ops {
            let here = key_path(at, op);
            match (op.as_str(), arg) {
                ("$eq", Json::Str(s)) => self.word(s, &here, vocab, false, Test::Equal),
                ("$ne", Json::Str(s)) => self.word(s, &here, vocab, false, Test::NotEqual),
                ("$in" | "$nin" | "$ini" | "$nini", Json::Arr(items)) => {
                    let fold = op.ends_with('i');
                    let test = if op.starts_with("$n") {
                        Test::NotIn
                    } else {
                        Test::In
                    };
                    for (i, item) in items.iter().enumerate() {
                        if let Json::Str(s) = item {
                            self.word(s, &index_path(&here, i), vocab, fold, test);
                        }
                    }
                }
                ("$regex" | "$regexi", Json::Str(pattern)) => {
                    self.pattern(pattern, op == "$regexi", &here, vocab)
                }
                ("$not", _) => self.value(arg, &here, vocab),
                _ => {}
            }
        }
    }

    fn word(&mut self, s: &str, at: &str, (words, what): Vocabulary, fold: bool, test: Test) {
        let h = self.host;
        let known = if fold {
            let lower = h.to_lower(s);
            words.iter().any(|w| h.to_lower(w) == lower)
        } else {
            words.contains(&s)
        };
        if known {
            return;
        }
        let (suggested, listed) = test.templates();
        let d = match suggest(s, words) {
            Some(x) => Diagnostic::new(at, suggested).arg(s).arg(what).arg(x),
            None => Diagnostic::new(at, listed)
                .arg(s)
                .arg(what)
                .arg(&words.join(", ")),
        };
        self.out.push(d);
    }

    fn pattern(&mut self, pattern: &str, ci: bool, at: &str, (words, what): Vocabulary) {
        // An invalid pattern (`None`) is the parser's error.
        if words
            .iter()
            .all(|w| self.host.is_match(pattern, ci, w) == Some(false))
        {
            self.out.push(
                Diagnostic::new(
                    at,
                    t!("the pattern \"{}\" matches no {} ({}); this condition can never match"),
                )
                .arg(pattern)
                .arg(what)
                .arg(&words.join(", ")),
            );
        }
    }
}
