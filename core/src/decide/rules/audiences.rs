//! Audiences: named conditions, evaluated once per decision into the
//! `audiences` attribute (the names that match), which rules and other
//! audiences test like any attribute
//! (`{"audiences": {"$elemMatch": {"$eq": "hot_runner"}}}`).
//!
//! Why resolved at load: an audience may use others, so they are put in
//! dependency order once (each sees the names matched before it) and cycles
//! are reported with their path (`audience cycle a -> b -> a`); the audiences
//! on a cycle never match. A reference is any string under an `audiences`
//! key of a condition, which is how the condition language names them.

use crate::decide::condition::{Condition, JsHost};
use crate::support::diag::{index_path, key_path, type_error, Diagnostic};
use crate::support::json::Json;
use crate::t;

/// The attribute that holds the matched audience names.
pub const ATTRIBUTE: &str = "audiences";
/// Most audiences in a config.
pub const MAX_AUDIENCES: usize = 200;

/// One named audience.
#[derive(Clone, Debug)]
pub struct Audience {
    /// Its name.
    pub name: String,
    /// Its condition.
    pub when: Condition,
}

/// The config's audiences, in evaluation (dependency) order.
#[derive(Clone, Debug, Default)]
pub struct Audiences {
    items: Vec<Audience>,
    /// Every declared name (also those skipped), to recognise references.
    declared: Vec<String>,
}

/// Every string under an `audiences` key in `cond`, with its JSON path.
pub(crate) fn references<'j>(cond: &'j Json, path: &str, out: &mut Vec<(String, &'j str)>) {
    fn strings<'j>(v: &'j Json, path: &str, out: &mut Vec<(String, &'j str)>) {
        match v {
            Json::Str(s) => out.push((path.to_string(), s)),
            Json::Arr(items) => {
                for (i, x) in items.iter().enumerate() {
                    strings(x, &index_path(path, i), out);
                }
            }
            Json::Obj(m) => {
                for (k, x) in m {
                    strings(x, &key_path(path, k), out);
                }
            }
            _ => {}
        }
    }
    match cond {
        Json::Arr(items) => {
            for (i, x) in items.iter().enumerate() {
                references(x, &index_path(path, i), out);
            }
        }
        Json::Obj(m) => {
            for (k, x) in m {
                let at = key_path(path, k);
                if k == ATTRIBUTE {
                    strings(x, &at, out);
                } else {
                    references(x, &at, out);
                }
            }
        }
        _ => {}
    }
}

/// Reports references to audiences that are not declared.
pub(crate) fn check_references(
    cond: &Json,
    path: &str,
    declared: &[String],
    out: &mut Vec<Diagnostic>,
) {
    let mut refs = Vec::new();
    references(cond, path, &mut refs);
    let names: Vec<&str> = declared.iter().map(String::as_str).collect();
    for (at, name) in refs {
        if !names.contains(&name) {
            out.push(Diagnostic::unknown(
                at,
                t!("unknown audience \"{}\""),
                name,
                &names,
            ));
        }
    }
}

impl Audiences {
    /// Parses the `audiences` section (an object of name to condition).
    pub fn parse(v: &Json, host: &dyn JsHost, out: &mut Vec<Diagnostic>) -> Audiences {
        let Json::Obj(entries) = v else {
            out.push(type_error(
                ATTRIBUTE,
                t!("must be an object of audience name to condition, not {}"),
                v,
            ));
            return Audiences::default();
        };
        let declared: Vec<String> = entries.iter().map(|(k, _)| k.clone()).collect();
        // Parse each; `None` for the bad ones.
        let mut parsed: Vec<Option<Condition>> = Vec::with_capacity(entries.len());
        let mut deps: Vec<Vec<usize>> = Vec::with_capacity(entries.len());
        for (i, (name, cond)) in entries.iter().enumerate() {
            let at = key_path(ATTRIBUTE, name);
            let before = out.len();
            if i >= MAX_AUDIENCES {
                if i == MAX_AUDIENCES {
                    out.push(Diagnostic::new(
                        at,
                        t!("more than 200 audiences: the rest are ignored"),
                    ));
                }
                parsed.push(None);
                deps.push(Vec::new());
                continue;
            }
            if name.trim().is_empty() {
                out.push(Diagnostic::new(
                    at.clone(),
                    t!("audience name must not be empty"),
                ));
            }
            let (c, diags) = Condition::parse_checked(cond, &at, host);
            out.extend(diags);
            check_references(cond, &at, &declared, out);
            let mut refs = Vec::new();
            references(cond, &at, &mut refs);
            let mut d: Vec<usize> = refs
                .iter()
                .filter_map(|(_, r)| declared.iter().position(|n| n == r))
                .collect();
            d.dedup();
            deps.push(d);
            parsed.push((out.len() == before).then_some(c));
        }
        // Depth-first order; a node met again while on the stack closes a cycle.
        const NEW: u8 = 0;
        const ON_STACK: u8 = 1;
        const DONE: u8 = 2;
        let n = entries.len();
        let mut state = vec![NEW; n];
        let mut order: Vec<usize> = Vec::with_capacity(n);
        let mut in_cycle = vec![false; n];
        for root in 0..n {
            if state[root] != NEW {
                continue;
            }
            // (node, next dependency to visit)
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            state[root] = ON_STACK;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                if let Some(&dep) = deps[node].get(*next) {
                    *next += 1;
                    match state[dep] {
                        NEW => {
                            state[dep] = ON_STACK;
                            stack.push((dep, 0));
                        }
                        ON_STACK => {
                            let start = stack.iter().position(|(x, _)| *x == dep).unwrap_or(0);
                            // The names on the cycle, `a -> b -> a`.
                            let mut cycle = String::new();
                            for (x, _) in stack.get(start..).unwrap_or(&[]) {
                                in_cycle[*x] = true;
                                cycle.push_str(&entries[*x].0);
                                cycle.push_str(" -> ");
                            }
                            cycle.push_str(&entries[dep].0);
                            out.push(
                                Diagnostic::new(
                                    key_path(ATTRIBUTE, &entries[dep].0),
                                    t!("audience cycle {}"),
                                )
                                .arg(&cycle),
                            );
                        }
                        _ => {}
                    }
                } else {
                    state[node] = DONE;
                    order.push(node);
                    stack.pop();
                }
            }
        }
        let mut slots: Vec<Option<Condition>> = parsed;
        let items = order
            .into_iter()
            .filter(|&i| !in_cycle[i])
            .filter_map(|i| {
                Some(Audience {
                    name: entries[i].0.clone(),
                    when: slots.get_mut(i)?.take()?,
                })
            })
            .collect();
        Audiences { items, declared }
    }

    /// The usable audiences, in evaluation order.
    pub fn iter(&self) -> impl Iterator<Item = &Audience> {
        self.items.iter()
    }

    /// Every declared name, usable or not.
    pub fn declared(&self) -> &[String] {
        &self.declared
    }

    /// Evaluates every audience against `attributes` (an object) and sets its
    /// `audiences` attribute to the names that match, in evaluation order.
    /// Each audience sees the names matched before it.
    pub fn apply(&self, attributes: &mut Json, host: &dyn JsHost) {
        attributes.set(ATTRIBUTE, Json::Arr(Vec::with_capacity(self.items.len())));
        for a in &self.items {
            if a.when.eval(attributes, &Json::Null, host) {
                if let Json::Obj(m) = attributes {
                    if let Some((_, Json::Arr(names))) = m.iter_mut().find(|(k, _)| k == ATTRIBUTE)
                    {
                        names.push(Json::Str(a.name.clone()));
                    }
                }
            }
        }
    }
}
