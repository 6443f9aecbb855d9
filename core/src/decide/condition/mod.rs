//! GrowthBook-compatible targeting conditions, compiled once and evaluated
//! many times.
//!
//! Why a compiled form: a page evaluates the same few rule conditions against
//! the visitor's attributes on every page view and every profile change. Walking
//! and re-interpreting the JSON each time (or cloning it, as GrowthBook's Rust
//! client does) wastes the visitor's CPU, so [`Condition::parse`] turns the JSON
//! into a small tree once: operators resolved to an enum, dot paths split,
//! version strings pre-padded, literal strings pre-lower-cased and pre-parsed as
//! numbers. [`Condition::eval`] then only reads the attributes and allocates
//! nothing on the common paths (and never formats text).
//!
//! Why exactly GrowthBook's semantics, JavaScript quirks included (`"5" > 4`,
//! `{"x": 0}` matching a missing `x`, `$in` intersecting array attributes): site
//! owners write conditions in GrowthBook's language and check them against its
//! docs and tools, so an answer that differs from GrowthBook's is a bug. The
//! shared conformance corpus (`tests/it/conditions.rs`) holds us to it.
//!
//! Parsing never fails: [`Condition::parse`] always yields a condition that
//! evaluates as GrowthBook would (an unknown operator is simply false), plus
//! [`Diagnostic`]s for what a site owner most likely got wrong;
//! [`check_condition`] adds regex validation through the [`JsHost`].
//!
//! Where GrowthBook's JavaScript would throw (a `null` condition, an `$or` of
//! `null`, ...), the whole condition evaluates to false. Deliberate differences
//! from JavaScript, all unreachable from JSON written by hand: attribute paths
//! never see inherited object properties (`toString`, `constructor`), and a saved
//! group that is neither an array nor a string counts as empty, and a condition
//! nested deeper than [`MAX_DEPTH`] levels is false.

mod js;

use crate::support::diag::{index_path, key_path, Diagnostic, Tpl};
use crate::support::json::Json;
use crate::support::strsearch::contains;
use crate::t;
use std::borrow::Cow;

/// The JavaScript built-ins the condition language leans on, supplied by the
/// host.
///
/// GrowthBook's answers are JavaScript's: `RegExp` for `$regex`,
/// `toLowerCase` for the case-insensitive operators, and number text
/// (`String(1.5)`, `Number("1e3")`) wherever values are coerced. The browser
/// has all of them, exact and already loaded, so the web shell implements this
/// trait with them and the wasm carries no regex engine, no float formatting
/// or parsing and no Unicode case tables (about 50 KB of wasm together). The
/// default methods are the Rust equivalents, used natively (tests, the CLI)
/// by `crate::native_js::NativeJs`.
pub trait JsHost {
    /// Whether `pattern` (JavaScript `RegExp` source, flag `i` when
    /// `case_insensitive`) matches somewhere in `input`; `None` when the
    /// pattern is invalid.
    fn is_match(&self, pattern: &str, case_insensitive: bool, input: &str) -> Option<bool>;

    /// `s.toLowerCase()`. (This default is for native hosts: the
    /// browser's host overrides it, so Rust's case tables never reach the
    /// wasm.)
    #[allow(clippy::disallowed_methods)]
    fn to_lower(&self, s: &str) -> String {
        s.to_lowercase()
    }

    /// Appends `String(n)` for a finite number that is not a small integer
    /// (the core writes those itself).
    fn push_number(&self, n: f64, out: &mut String) {
        js::push_num_fmt(out, n)
    }

    /// `parseFloat(s)` for a string already checked to be a decimal literal
    /// (`12`, `-1.5e3`, `.5`).
    fn parse_decimal(&self, s: &str) -> f64 {
        s.parse().unwrap_or(f64::NAN)
    }

    /// `JSON.parse(text)` as plain data; `None` when it is not JSON. (The
    /// core has no JSON parser: stored values and other tabs' events are
    /// parsed by the host.)
    fn parse_json(&self, text: &str) -> Option<Json>;
}

/// Evaluates `condition` against `attributes` in one go (parses, then
/// evaluates). Prefer [`Condition::parse`] once and [`Condition::eval`] per
/// call when a condition is evaluated more than once.
pub fn eval_condition(
    attributes: &Json,
    condition: &Json,
    saved_groups: &Json,
    host: &dyn JsHost,
) -> bool {
    Condition::parse(condition, host)
        .0
        .eval(attributes, saved_groups, host)
}

/// Every problem in `condition`, with JSON paths under `path`: unknown
/// operators (with a suggestion), operator arguments of the wrong type, and
/// patterns that the host's `RegExp` rejects.
pub fn check_condition(condition: &Json, path: &str, host: &dyn JsHost) -> Vec<Diagnostic> {
    Condition::parse_checked(condition, path, host).1
}

/// A parsed condition, ready to evaluate.
#[derive(Clone, Debug)]
pub struct Condition {
    root: Cond,
}

impl Condition {
    /// Compiles `condition`; never fails. The diagnostics have paths relative
    /// to the condition itself (`""` is the condition).
    pub fn parse(condition: &Json, host: &dyn JsHost) -> (Condition, Vec<Diagnostic>) {
        Condition::parse_at(condition, "", host)
    }

    /// [`Condition::parse`] for a condition found at JSON path `path` in a
    /// larger document (`rules[3].when`), so diagnostics carry full paths.
    /// Regex patterns are not validated here; see [`check_condition`].
    pub fn parse_at(
        condition: &Json,
        path: &str,
        host: &dyn JsHost,
    ) -> (Condition, Vec<Diagnostic>) {
        Condition::compile(condition, path, host, false)
    }

    /// [`Condition::parse_at`] that also reports the patterns the host's
    /// `RegExp` rejects (what a config load wants: every problem, one pass).
    pub fn parse_checked(
        condition: &Json,
        path: &str,
        host: &dyn JsHost,
    ) -> (Condition, Vec<Diagnostic>) {
        Condition::compile(condition, path, host, true)
    }

    fn compile(
        condition: &Json,
        path: &str,
        host: &dyn JsHost,
        check_regexes: bool,
    ) -> (Condition, Vec<Diagnostic>) {
        let mut p = Parser::new(host);
        let root = p.cond(condition, path);
        if check_regexes {
            for (at, pattern, ci) in p.regexes {
                if host.is_match(&pattern, ci, "").is_none() {
                    p.diags.push(
                        Diagnostic::new(at, t!("invalid regular expression \"{}\"")).arg(&pattern),
                    );
                }
            }
        }
        (Condition { root }, p.diags)
    }

    /// Whether `attributes` satisfy the condition. `saved_groups` is an object
    /// of group id to array of values (anything else counts as no groups).
    pub fn eval(&self, attributes: &Json, saved_groups: &Json, host: &dyn JsHost) -> bool {
        let cx = Cx {
            groups: saved_groups,
            h: host,
        };
        cx.cond(&self.root, attributes).unwrap_or(false)
    }

    /// [`Condition::eval`] that says why not: `Ok(())` when the attributes
    /// satisfy the condition, `Err(Some(i))` when top-level clause `i` (in the
    /// order of [`clause_keys`]) is the first that fails, `Err(None)` when
    /// the condition is unusable (`null`, too deep) and so false.
    pub fn eval_why(
        &self,
        attributes: &Json,
        saved_groups: &Json,
        host: &dyn JsHost,
    ) -> Result<(), Option<usize>> {
        let cx = Cx {
            groups: saved_groups,
            h: host,
        };
        let Cond::All(clauses) = &self.root else {
            return Err(None);
        };
        for (i, clause) in clauses.iter().enumerate() {
            match cx.clause(clause, attributes) {
                Some(true) => {}
                Some(false) => return Err(Some(i)),
                None => return Err(None),
            }
        }
        Ok(())
    }
}

/// The keys of `condition`'s top-level clauses in evaluation order
/// (JavaScript's property order: integer-like keys first), so index `i` of
/// [`Condition::eval_why`] can be named.
pub fn clause_keys(condition: &Json) -> Vec<&str> {
    match condition {
        Json::Obj(m) => js::js_order(m)
            .into_iter()
            .map(|(k, _)| k.as_str())
            .collect(),
        _ => Vec::new(),
    }
}

/// Longer inputs never match a `$regex` (so no value can make a pattern
/// work for long).
pub const MAX_REGEX_INPUT: usize = 1024;

/// Operators allowed where a condition (an object of paths) is expected.
pub const LOGICAL_OPS: &[&str] = &["$and", "$or", "$nor", "$not"];

/// Operators allowed in an operator object applied to one value.
pub const VALUE_OPS: &[&str] = &[
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$ini",
    "$nini",
    "$all",
    "$alli",
    "$elemMatch",
    "$size",
    "$exists",
    "$type",
    "$regex",
    "$regexi",
    "$not",
    "$veq",
    "$vne",
    "$vgt",
    "$vgte",
    "$vlt",
    "$vlte",
    "$inGroup",
    "$notInGroup",
];

const TYPES: &[&str] = &["string", "number", "boolean", "object", "array", "null"];

// ---------------------------------------------------------------------------
// Compiled form

/// `evalCondition(obj, condition)`: a list of clauses that must all hold.
#[derive(Clone, Debug)]
enum Cond {
    /// `Object.entries(condition)` threw (`null`).
    Throw,
    All(Vec<Clause>),
}

#[derive(Clone, Debug)]
enum Clause {
    Or(List),
    Nor(List),
    And(List),
    Not(Box<Cond>),
    Path(Path, Value),
}

/// The argument of `$or`/`$and`/`$nor`.
#[derive(Clone, Debug)]
enum List {
    /// `null`: reading `.length` throws.
    Throw,
    /// A value without `.length` (object, number, boolean): the loop never
    /// runs, but `$or` treats it as empty and passes.
    NoLength,
    Items(Vec<Cond>),
}

/// A pre-split dot path.
#[derive(Clone, Debug)]
struct Path(Vec<(String, Option<u32>)>);

/// `evalConditionValue(condition, value)`.
#[derive(Clone, Debug)]
enum Value {
    /// A string literal: `String(value) === s`.
    Str(StrLit),
    /// A string literal under `$alli`: compared lower-cased.
    StrI(StrLit),
    /// A number: `value * 1 === n`.
    Num(f64),
    /// A boolean: `value !== null && !!value === b`.
    Bool(bool),
    /// `value === null`.
    Null,
    /// An array or a non-operator object: compared as `JSON.stringify` text.
    Literal(Json),
    /// An operator object: every operator must hold.
    Ops(Vec<Op>),
}

#[derive(Clone, Debug)]
struct StrLit {
    text: String,
    /// `Some(n)` when `text` is exactly `String(n)`, so numbers compare
    /// without formatting.
    as_num: Option<f64>,
}

impl StrLit {
    fn new(h: &dyn JsHost, text: String) -> StrLit {
        let n = js::str_to_num(h, &text);
        let as_num = (n.is_finite() && {
            let mut back = String::new();
            js::push_num(h, &mut back, n);
            back == text
        })
        .then_some(n);
        StrLit { text, as_num }
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// Too deep to compile: the whole condition is false.
    Throw,
    Const(bool),
    Version(VCmp, String),
    Eq(Json),
    Ne(Json),
    Rel(Rel, js::Prim<'static>),
    Exists(bool),
    In {
        items: Vec<Json>,
        negate: bool,
        fold: bool,
    },
    Group {
        key: String,
        negate: bool,
    },
    Not(Box<Value>),
    Size(Box<Value>),
    ElemMatch(ElemMatch),
    All(Vec<Value>),
    Regex {
        pattern: String,
        ci: bool,
    },
    Type(String),
}

#[derive(Clone, Copy, Debug)]
enum VCmp {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Clone, Copy, Debug)]
enum Rel {
    Lt,
    Lte,
    Gt,
    Gte,
}

#[derive(Clone, Debug)]
enum ElemMatch {
    /// `Object.keys(null)` throws once the attribute is an array.
    Throw,
    Value(Box<Value>),
    Cond(Box<Cond>),
}

// ---------------------------------------------------------------------------
// Parsing

struct Parser<'h> {
    h: &'h dyn JsHost,
    diags: Vec<Diagnostic>,
    regexes: Vec<(String, String, bool)>,
    depth: usize,
}

/// Conditions nested deeper than this evaluate to false, so neither parsing
/// nor evaluation can exhaust the stack.
pub const MAX_DEPTH: usize = 64;

const TOO_DEEP: Tpl = t!("condition nested deeper than 64 levels");

fn is_operator_object(v: &Json) -> bool {
    match v {
        Json::Obj(m) => !m.is_empty() && m.iter().all(|(k, _)| k.starts_with('$')),
        _ => false,
    }
}

/// `Object.entries(v)` for a non-null value, in JavaScript property order.
fn entries(v: &Json) -> Vec<(String, Json)> {
    match v {
        Json::Obj(m) => js::js_order(m).into_iter().cloned().collect(),
        Json::Arr(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let mut k = String::new();
                crate::support::diag::push_usize(&mut k, i);
                (k, item.clone())
            })
            .collect(),
        Json::Str(s) => s
            .encode_utf16()
            .enumerate()
            .map(|(i, unit)| {
                let mut k = String::new();
                crate::support::diag::push_usize(&mut k, i);
                let c = String::from_utf16_lossy(&[unit]);
                (k, Json::Str(c))
            })
            .collect(),
        _ => Vec::new(),
    }
}

impl<'h> Parser<'h> {
    fn new(h: &'h dyn JsHost) -> Parser<'h> {
        Parser {
            h,
            diags: Vec::new(),
            regexes: Vec::new(),
            depth: 0,
        }
    }

    // The diagnostics are made here, not at the call sites, so that the
    // recursive parsing functions keep small stack frames in debug builds.

    /// Reports `tpl` filled with `args` at `path`.
    fn err(&mut self, path: &str, tpl: Tpl, args: &[&str]) {
        let mut d = Diagnostic::new(path, tpl);
        for a in args {
            d = d.arg(a);
        }
        self.diags.push(d);
    }

    /// Reports `tpl` (`"{}" needs <what>, got {}`) for operator `op` and its
    /// argument `v`.
    fn got(&mut self, path: &str, tpl: Tpl, op: &str, v: &Json) {
        self.err(path, tpl, &[op, v.type_name()]);
    }

    /// Reports `tpl` (`unknown <what> "{}"`) for `name`, with a suggestion
    /// from `known`.
    fn unknown(&mut self, path: &str, tpl: Tpl, name: &str, known: &[&str]) {
        self.diags.push(Diagnostic::unknown(path, tpl, name, known));
    }

    fn cond(&mut self, c: &Json, path: &str) -> Cond {
        if self.depth >= MAX_DEPTH {
            self.err(path, TOO_DEEP, &[]);
            return Cond::Throw;
        }
        self.depth += 1;
        let out = self.cond_inner(c, path);
        self.depth -= 1;
        out
    }

    fn cond_inner(&mut self, c: &Json, path: &str) -> Cond {
        match c {
            Json::Null => {
                self.err(path, t!("condition must be an object, got null"), &[]);
                return Cond::Throw;
            }
            Json::Obj(_) => {}
            other => {
                self.err(
                    path,
                    t!("condition must be an object, got {}"),
                    &[other.type_name()],
                );
            }
        }
        let mut clauses = Vec::new();
        for (k, v) in entries(c) {
            let clause = match k.as_str() {
                "$or" => Clause::Or(self.list(&v, &k, path)),
                "$nor" => Clause::Nor(self.list(&v, &k, path)),
                "$and" => Clause::And(self.list(&v, &k, path)),
                "$not" => Clause::Not(Box::new(self.cond(&v, &key_path(path, &k)))),
                _ => {
                    if k.starts_with('$') && matches!(c, Json::Obj(_)) {
                        if VALUE_OPS.contains(&k.as_str()) {
                            self.err(
                                path,
                                t!("operator \"{}\" must be applied to an attribute, as in {\"attr\": {\"{}\": ...}}"),
                                &[&k, &k],
                            );
                        } else {
                            self.unknown(path, t!("unknown operator \"{}\""), &k, LOGICAL_OPS);
                        }
                    }
                    let field = key_path(path, &k);
                    let p = Path(
                        k.split('.')
                            .map(|part| (part.to_string(), js::array_index(part)))
                            .collect(),
                    );
                    Clause::Path(p, self.value(&v, &field, false))
                }
            };
            clauses.push(clause);
        }
        Cond::All(clauses)
    }

    fn list(&mut self, v: &Json, op: &str, path: &str) -> List {
        let at = key_path(path, op);
        match v {
            Json::Arr(items) => List::Items(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, c)| self.cond(c, &index_path(&at, i)))
                    .collect(),
            ),
            Json::Null => {
                self.got(
                    path,
                    t!("\"{}\" needs an array of conditions, got {}"),
                    op,
                    v,
                );
                List::Throw
            }
            Json::Str(_) => {
                self.got(
                    path,
                    t!("\"{}\" needs an array of conditions, got {}"),
                    op,
                    v,
                );
                List::Items(entries(v).iter().map(|(_, c)| self.cond_quiet(c)).collect())
            }
            _ => {
                self.got(
                    path,
                    t!("\"{}\" needs an array of conditions, got {}"),
                    op,
                    v,
                );
                List::NoLength
            }
        }
    }

    /// Compiles without reporting (for values already reported as wrong).
    fn cond_quiet(&mut self, c: &Json) -> Cond {
        let n = self.diags.len();
        let r = self.regexes.len();
        let out = self.cond(c, "");
        self.diags.truncate(n);
        self.regexes.truncate(r);
        out
    }

    fn value(&mut self, v: &Json, path: &str, fold: bool) -> Value {
        if self.depth >= MAX_DEPTH {
            self.err(path, TOO_DEEP, &[]);
            return Value::Ops(vec![Op::Throw]);
        }
        self.depth += 1;
        let out = self.value_inner(v, path, fold);
        self.depth -= 1;
        out
    }

    fn value_inner(&mut self, v: &Json, path: &str, fold: bool) -> Value {
        match v {
            Json::Str(s) if fold => Value::StrI(StrLit::new(self.h, self.h.to_lower(s))),
            Json::Str(s) => Value::Str(StrLit::new(self.h, s.clone())),
            Json::Num(n) => Value::Num(*n),
            Json::Bool(b) => Value::Bool(*b),
            Json::Null => Value::Null,
            Json::Obj(m) if is_operator_object(v) => {
                let ops = js::js_order(m)
                    .into_iter()
                    .map(|(op, arg)| self.op(op, arg, path))
                    .collect();
                Value::Ops(ops)
            }
            Json::Obj(m) => {
                if m.iter().any(|(k, _)| k.starts_with('$')) {
                    self.err(
                        path,
                        t!("object mixes operators and attribute names, so it is compared as a literal value"),
                        &[],
                    );
                }
                Value::Literal(v.clone())
            }
            Json::Arr(_) => Value::Literal(v.clone()),
        }
    }

    fn op(&mut self, op: &str, arg: &Json, path: &str) -> Op {
        let sub = key_path(path, op);
        match op {
            "$veq" | "$vne" | "$vgt" | "$vgte" | "$vlt" | "$vlte" => {
                if !matches!(arg, Json::Str(_) | Json::Num(_)) {
                    self.got(path, t!("\"{}\" needs a version string, got {}"), op, arg);
                }
                let cmp = match op {
                    "$veq" => VCmp::Eq,
                    "$vne" => VCmp::Ne,
                    "$vgt" => VCmp::Gt,
                    "$vgte" => VCmp::Gte,
                    "$vlt" => VCmp::Lt,
                    _ => VCmp::Lte,
                };
                Op::Version(cmp, js::padded_version(self.h, arg))
            }
            "$eq" | "$ne" => {
                if matches!(arg, Json::Arr(_) | Json::Obj(_)) {
                    self.err(
                        path,
                        t!("\"{}\" compares by identity, so an {} never equals the attribute"),
                        &[op, arg.type_name()],
                    );
                }
                if op == "$eq" {
                    Op::Eq(arg.clone())
                } else {
                    Op::Ne(arg.clone())
                }
            }
            "$lt" | "$lte" | "$gt" | "$gte" => {
                if !matches!(arg, Json::Str(_) | Json::Num(_)) {
                    self.got(
                        path,
                        t!("\"{}\" needs a number or a string, got {}"),
                        op,
                        arg,
                    );
                }
                let rel = match op {
                    "$lt" => Rel::Lt,
                    "$lte" => Rel::Lte,
                    "$gt" => Rel::Gt,
                    _ => Rel::Gte,
                };
                let prim = match js::to_prim(self.h, arg) {
                    js::Prim::Str(s) => js::Prim::Str(Cow::Owned(s.into_owned())),
                    js::Prim::Num(n) => js::Prim::Num(n),
                };
                Op::Rel(rel, prim)
            }
            "$exists" => {
                if !matches!(arg, Json::Bool(_)) {
                    self.got(path, t!("\"{}\" needs a boolean, got {}"), op, arg);
                }
                Op::Exists(js::truthy(arg))
            }
            "$in" | "$nin" | "$ini" | "$nini" => match arg {
                Json::Arr(items) => {
                    let fold = op.ends_with('i');
                    let items = if fold {
                        items.iter().map(|i| fold_case(self.h, i)).collect()
                    } else {
                        items.clone()
                    };
                    Op::In {
                        items,
                        negate: op.starts_with("$n"),
                        fold,
                    }
                }
                _ => {
                    self.got(path, t!("\"{}\" needs an array, got {}"), op, arg);
                    Op::Const(false)
                }
            },
            "$inGroup" | "$notInGroup" => {
                if !matches!(arg, Json::Str(_)) {
                    self.got(
                        path,
                        t!("\"{}\" needs a saved group id (a string), got {}"),
                        op,
                        arg,
                    );
                }
                Op::Group {
                    key: js::to_string(self.h, arg).into_owned(),
                    negate: op == "$notInGroup",
                }
            }
            "$not" => {
                if !matches!(arg, Json::Obj(_)) {
                    self.got(
                        path,
                        t!("\"{}\" needs an object of operators, got {}"),
                        op,
                        arg,
                    );
                }
                Op::Not(Box::new(self.value(arg, &sub, false)))
            }
            "$size" => {
                if !matches!(arg, Json::Num(_) | Json::Obj(_)) {
                    self.got(
                        path,
                        t!("\"{}\" needs a number or an object of operators, got {}"),
                        op,
                        arg,
                    );
                }
                Op::Size(Box::new(self.value(arg, &sub, false)))
            }
            "$elemMatch" => match arg {
                Json::Null => {
                    self.got(path, t!("\"{}\" needs an object, got {}"), op, arg);
                    Op::ElemMatch(ElemMatch::Throw)
                }
                _ if is_operator_object(arg) => {
                    Op::ElemMatch(ElemMatch::Value(Box::new(self.value(arg, &sub, false))))
                }
                Json::Obj(_) => Op::ElemMatch(ElemMatch::Cond(Box::new(self.cond(arg, &sub)))),
                _ => {
                    self.got(path, t!("\"{}\" needs an object, got {}"), op, arg);
                    Op::ElemMatch(ElemMatch::Cond(Box::new(self.cond_quiet(arg))))
                }
            },
            "$all" | "$alli" => match arg {
                Json::Arr(items) => {
                    let fold = op == "$alli";
                    Op::All(
                        items
                            .iter()
                            .enumerate()
                            .map(|(i, item)| self.value(item, &index_path(&sub, i), fold))
                            .collect(),
                    )
                }
                _ => {
                    self.got(path, t!("\"{}\" needs an array, got {}"), op, arg);
                    Op::Const(false)
                }
            },
            "$regex" | "$regexi" => match arg {
                Json::Str(pattern) => {
                    let ci = op == "$regexi";
                    self.regexes.push((path.to_string(), pattern.clone(), ci));
                    if js::may_backtrack(pattern) {
                        self.err(
                            path,
                            t!("regular expression \"{}\" repeats a group that itself repeats or alternates, which can backtrack for seconds in the browser; it never matches (rewrite it without the nested repetition)"),
                            &[pattern],
                        );
                        return Op::Const(false);
                    }
                    Op::Regex {
                        pattern: pattern.clone(),
                        ci,
                    }
                }
                _ => {
                    self.got(path, t!("\"{}\" needs a pattern string, got {}"), op, arg);
                    Op::Const(false)
                }
            },
            "$type" => {
                match arg {
                    Json::Str(t) if TYPES.contains(&t.as_str()) => {}
                    Json::Str(t) => self.unknown(path, t!("unknown type \"{}\""), t, TYPES),
                    _ => self.got(path, t!("\"{}\" needs a type name, got {}"), op, arg),
                }
                Op::Type(match arg {
                    Json::Str(t) => t.clone(),
                    // Never equal to a type name.
                    _ => String::new(),
                })
            }
            _ => {
                self.unknown(path, t!("unknown operator \"{}\""), op, VALUE_OPS);
                Op::Const(false)
            }
        }
    }
}

/// `typeof v === "string" ? v.toLowerCase() : v`.
fn fold_case(h: &dyn JsHost, v: &Json) -> Json {
    match v {
        Json::Str(s) => Json::Str(h.to_lower(s)),
        other => other.clone(),
    }
}

// ---------------------------------------------------------------------------
// Evaluation. `None` means GrowthBook's JavaScript would have thrown.

struct Cx<'a> {
    groups: &'a Json,
    h: &'a dyn JsHost,
}

static NULL: Json = Json::Null;

/// GrowthBook's `getPath`: descends through objects and arrays (`"0"`,
/// `"length"`); anything missing is `null`.
fn get_path<'j>(obj: &'j Json, path: &Path) -> Cow<'j, Json> {
    let mut cur = obj;
    let n = path.0.len();
    for (i, (part, index)) in path.0.iter().enumerate() {
        match cur {
            Json::Obj(m) => match m.iter().find(|(k, _)| k == part) {
                Some((_, v)) => cur = v,
                None => return Cow::Borrowed(&NULL),
            },
            Json::Arr(items) => match index {
                Some(ix) if (*ix as usize) < items.len() => cur = &items[*ix as usize],
                _ if part == "length" => {
                    let len = Json::Num(items.len() as f64);
                    if i + 1 == n {
                        return Cow::Owned(len);
                    }
                    // A number has no properties.
                    return Cow::Borrowed(&NULL);
                }
                _ => return Cow::Borrowed(&NULL),
            },
            _ => return Cow::Borrowed(&NULL),
        }
    }
    Cow::Borrowed(cur)
}

impl Cx<'_> {
    fn cond(&self, c: &Cond, obj: &Json) -> Option<bool> {
        let clauses = match c {
            Cond::Throw => return None,
            Cond::All(clauses) => clauses,
        };
        for clause in clauses {
            if !self.clause(clause, obj)? {
                return Some(false);
            }
        }
        Some(true)
    }

    fn clause(&self, clause: &Clause, obj: &Json) -> Option<bool> {
        match clause {
            Clause::Or(list) => self.or(list, obj),
            Clause::Nor(list) => Some(!self.or(list, obj)?),
            Clause::And(list) => self.and(list, obj),
            Clause::Not(inner) => Some(!self.cond(inner, obj)?),
            Clause::Path(path, value) => self.value(value, &get_path(obj, path)),
        }
    }

    fn or(&self, list: &List, obj: &Json) -> Option<bool> {
        match list {
            List::Throw => None,
            List::NoLength => Some(true),
            List::Items(items) if items.is_empty() => Some(true),
            List::Items(items) => {
                for c in items {
                    if self.cond(c, obj)? {
                        return Some(true);
                    }
                }
                Some(false)
            }
        }
    }

    fn and(&self, list: &List, obj: &Json) -> Option<bool> {
        match list {
            List::Throw => None,
            List::NoLength => Some(true),
            List::Items(items) => {
                for c in items {
                    if !self.cond(c, obj)? {
                        return Some(false);
                    }
                }
                Some(true)
            }
        }
    }

    fn value(&self, cv: &Value, v: &Json) -> Option<bool> {
        Some(match cv {
            Value::Str(lit) => str_eq(self.h, lit, v, false),
            Value::StrI(lit) => str_eq(self.h, lit, v, true),
            Value::Num(n) => js::to_num(self.h, v) == *n,
            Value::Bool(b) => !matches!(v, Json::Null) && js::truthy(v) == *b,
            Value::Null => matches!(v, Json::Null),
            Value::Literal(lit) => js::stringify_eq(v, lit),
            Value::Ops(ops) => {
                for op in ops {
                    if !self.op(op, v)? {
                        return Some(false);
                    }
                }
                true
            }
        })
    }

    fn op(&self, op: &Op, actual: &Json) -> Option<bool> {
        Some(match op {
            Op::Throw => return None,
            Op::Const(b) => *b,
            Op::Version(cmp, expected) => {
                let a = js::padded_version(self.h, actual);
                let o = js::cmp_utf16(&a, expected);
                match cmp {
                    VCmp::Eq => o.is_eq(),
                    VCmp::Ne => o.is_ne(),
                    VCmp::Gt => o.is_gt(),
                    VCmp::Gte => o.is_ge(),
                    VCmp::Lt => o.is_lt(),
                    VCmp::Lte => o.is_le(),
                }
            }
            Op::Eq(e) => js::strict_eq(actual, e),
            Op::Ne(e) => !js::strict_eq(actual, e),
            Op::Rel(rel, e) => {
                let h = self.h;
                let a = js::to_prim(h, actual);
                match rel {
                    Rel::Lt => js::less_than(h, &a, e) == Some(true),
                    Rel::Gt => js::less_than(h, e, &a) == Some(true),
                    // a <= b is !(b < a), false when undefined (NaN).
                    Rel::Lte => js::less_than(h, e, &a) == Some(false),
                    Rel::Gte => js::less_than(h, &a, e) == Some(false),
                }
            }
            Op::Exists(want) => !matches!(actual, Json::Null) == *want,
            Op::In {
                items,
                negate,
                fold,
            } => is_in(self.h, actual, items, *fold) != *negate,
            Op::Group { key, negate } => {
                let group = match self.groups {
                    Json::Obj(m) => m.iter().find(|(k, _)| k == key).map(|(_, g)| g),
                    _ => None,
                };
                let found = match group {
                    Some(Json::Arr(items)) => is_in(self.h, actual, items, false),
                    Some(Json::Str(s)) if !s.is_empty() => str_includes(self.h, s, actual),
                    _ => false,
                };
                found != *negate
            }
            Op::Not(inner) => !self.value(inner, actual)?,
            Op::Size(inner) => match actual {
                Json::Arr(items) => self.value(inner, &Json::Num(items.len() as f64))?,
                _ => false,
            },
            Op::ElemMatch(em) => {
                let Json::Arr(items) = actual else {
                    return Some(false);
                };
                for item in items {
                    if !js::truthy(item) {
                        continue;
                    }
                    let hit = match em {
                        ElemMatch::Throw => return None,
                        ElemMatch::Value(v) => self.value(v, item)?,
                        ElemMatch::Cond(c) => self.cond(c, item)?,
                    };
                    if hit {
                        return Some(true);
                    }
                }
                false
            }
            Op::All(expected) => {
                let Json::Arr(items) = actual else {
                    return Some(false);
                };
                for e in expected {
                    let mut passed = false;
                    for item in items {
                        if self.value(e, item)? {
                            passed = true;
                            break;
                        }
                    }
                    if !passed {
                        return Some(false);
                    }
                }
                true
            }
            Op::Regex { pattern, ci } => {
                let input = js::to_string(self.h, actual);
                // A bounded input bounds the work of any (checked) pattern.
                if input.len() > MAX_REGEX_INPUT && input.chars().nth(MAX_REGEX_INPUT).is_some() {
                    return Some(false);
                }
                self.h.is_match(pattern, *ci, &input).unwrap_or(false)
            }
            Op::Type(t) => {
                let name = match actual {
                    Json::Null => "null",
                    Json::Arr(_) => "array",
                    Json::Obj(_) => "object",
                    other => other.type_name(),
                };
                name == t
            }
        })
    }
}

/// `String(v) === lit` (lower-cased first when `fold`).
fn str_eq(h: &dyn JsHost, lit: &StrLit, v: &Json, fold: bool) -> bool {
    match v {
        Json::Str(s) if fold => {
            if s.is_ascii() && lit.text.is_ascii() {
                s.eq_ignore_ascii_case(&lit.text)
            } else {
                h.to_lower(s) == lit.text
            }
        }
        Json::Str(s) => *s == lit.text,
        Json::Num(n) => lit.as_num == Some(*n),
        Json::Null => lit.text == "null",
        Json::Bool(b) => lit.text == if *b { "true" } else { "false" },
        Json::Obj(_) if fold => lit.text == "[object object]",
        Json::Obj(_) => lit.text == "[object Object]",
        Json::Arr(_) => {
            let s = js::to_string(h, v);
            if fold {
                h.to_lower(&s) == lit.text
            } else {
                *s == lit.text
            }
        }
    }
}

/// GrowthBook's `isIn`: intersection when the attribute is an array.
/// `expected` is already case-folded when `fold`.
fn is_in(h: &dyn JsHost, actual: &Json, expected: &[Json], fold: bool) -> bool {
    let member = |a: &Json| -> bool {
        match a {
            Json::Str(s) if fold => {
                let folded = h.to_lower(s);
                expected
                    .iter()
                    .any(|e| matches!(e, Json::Str(x) if *x == folded))
            }
            _ => expected.iter().any(|e| js::same_value_zero(a, e)),
        }
    };
    match actual {
        Json::Arr(items) => items.iter().any(member),
        _ => member(actual),
    }
}

/// `"group string".includes(actual)` for a saved group stored as a string.
fn str_includes(h: &dyn JsHost, group: &str, actual: &Json) -> bool {
    match actual {
        Json::Arr(items) => items.iter().any(|i| contains(group, &js::to_string(h, i))),
        _ => contains(group, &js::to_string(h, actual)),
    }
}
