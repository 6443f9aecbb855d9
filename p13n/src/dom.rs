//! Slots in the page: the elements the core decides about (each numbered
//! once), what the core is told of them, and the patches it sends back.
//!
//! Markup contract: a slot is `<section data-sillage-slot="hero">default
//! content</section>`; a variant is `<template
//! data-sillage-variant="hero/returning-runner">`; `recommend` fills a slot
//! through its `<template data-sillage-item>`, whose
//! `[data-sillage-field]` elements receive `title`, `price`, `url` and
//! `image`.
//!
//! The page's own nodes are moved, never replaced by copies: a patch first
//! takes the children it replaces out of the document (the same node
//! objects, kept with their listeners, framework references, form state)
//! and writes down how to undo each step; restoring the default puts those
//! very nodes back, reorders move the existing children, attributes and
//! classes get their old values back. Nothing Sillage does leaves a copy of
//! a page node where the original was. (A `<video>` taken out of the
//! document pauses, as it would anywhere.)

use std::cell::{Cell, RefCell};

use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Document, DocumentFragment, Element, Node};

use super::{html, send, Message};
use sillage_core::sdk::{Patch, PatchOp, SlotId, SlotSnapshot, SlotsFound, SlotsWhy};
use sillage_core::support::strsearch::CharSearch;
use sillage_webhost as env;

const SLOT: &str = "[data-sillage-slot]";
const READY: &str = "data-sillage-ready";
const APPLIED: &str = "data-sillage-applied";
const SHOWN: &str = "data-sillage-shown";
const GENERATED: &str = "data-sillage-generated";

/// How to undo one step.
enum Undo {
    /// The target's children were taken out (`saved`, the page's own
    /// nodes) and `ours` put in.
    Children {
        target: Element,
        saved: DocumentFragment,
        ours: Vec<Node>,
    },
    /// An attribute's old value (`None`: absent).
    Attr {
        target: Element,
        name: String,
        old: Option<String>,
    },
    /// Whether the target had the class, and a `class` attribute at all.
    Class {
        target: Element,
        class: String,
        had: bool,
        attr: bool,
    },
    /// The children's order before a reorder.
    Order { target: Element, before: Vec<Node> },
    /// Nodes a recommendation added.
    Added(Vec<Node>),
}

struct Slot {
    id: SlotId,
    el: Element,
    /// Undo steps, in the order they were done.
    undo: Vec<Undo>,
    /// The child nodes a patch left, to notice the page taking them back.
    own: Vec<Node>,
}

thread_local! {
    static SLOTS: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
    static NEXT: Cell<SlotId> = const { Cell::new(1) };
    static WATCH: RefCell<Option<web_sys::MutationObserver>> = const { RefCell::new(None) };
    static FRAME: Cell<bool> = const { Cell::new(false) };
}

fn document() -> Option<Document> {
    web_sys::window()?.document()
}

fn elements(list: web_sys::NodeList) -> Vec<Element> {
    (0..list.length())
        .filter_map(|i| list.item(i).and_then(|n| n.dyn_into::<Element>().ok()))
        .collect()
}

fn children(el: &Node) -> Vec<Node> {
    let kids = el.child_nodes();
    (0..kids.length()).filter_map(|i| kids.item(i)).collect()
}

/// The id of `el`, numbering it if new.
fn id_of(el: &Element) -> SlotId {
    SLOTS.with(|s| {
        let mut s = s.borrow_mut();
        if let Some(slot) = s.iter().find(|x| &x.el == el) {
            return slot.id;
        }
        let id = NEXT.with(|n| n.replace(n.get() + 1));
        s.push(Slot {
            id,
            el: el.clone(),
            undo: Vec::new(),
            own: Vec::new(),
        });
        id
    })
}

fn element(id: SlotId) -> Option<Element> {
    SLOTS.with(|s| s.borrow().iter().find(|x| x.id == id).map(|x| x.el.clone()))
}

/// What the core is told of a slot: its element children's topics as the
/// page made them, that is as undoing the current patch (which the next
/// patch does first) puts them back: the order before a reorder, the
/// children a replace took out; never what a rule put there.
fn snapshot(el: &Element) -> SlotSnapshot {
    let id = id_of(el);
    let node: &Node = el;
    let default = SLOTS.with(|s| {
        s.borrow().iter().find(|x| x.id == id).and_then(|x| {
            x.undo.iter().find_map(|u| match u {
                Undo::Order { target, before } if target == el => Some(before.clone()),
                Undo::Children { target, saved, .. } if target == el => Some(children(saved)),
                _ => None,
            })
        })
    });
    let kids: Vec<Element> = default
        .unwrap_or_else(|| children(el))
        .into_iter()
        // Still the page's: in the slot, or taken out by a later step.
        .filter(|n| {
            n.parent_node()
                .is_some_and(|p| &p == node || p.node_type() == Node::DOCUMENT_FRAGMENT_NODE)
        })
        .filter_map(|n| n.dyn_into::<Element>().ok())
        .filter(|e| !e.has_attribute(GENERATED))
        .collect();
    SlotSnapshot {
        id,
        name: el.get_attribute("data-sillage-slot").unwrap_or_default(),
        children: kids
            .iter()
            .map(|k| env::lower(&k.get_attribute("data-sillage-topics").unwrap_or_default()))
            .collect(),
    }
}

fn report(slots: Vec<Element>, why: SlotsWhy) {
    let doc = document();
    let timed_out = doc
        .as_ref()
        .and_then(|d| d.document_element())
        .is_some_and(|h| h.has_attribute("data-sillage-timeout"));
    let found = SlotsFound {
        slots: slots.iter().map(snapshot).collect(),
        why,
        tz_offset_min: js_sys::Date::new_0().get_timezone_offset(),
        timed_out,
    };
    send(Message::Slots(found));
}

fn all_slots() -> Vec<Element> {
    document()
        .and_then(|d| d.query_selector_all(SLOT).ok())
        .map(elements)
        .unwrap_or_default()
}

/// In a microtask (after the calls the loader replays in this task): every
/// slot of the page.
pub fn find_slots_soon() {
    let run = Closure::once_into_js(|| report(all_slots(), SlotsWhy::Start));
    let p = js_sys::Promise::resolve(&JsValue::UNDEFINED);
    if let Ok(then) =
        Reflect::get(&p, &"then".into()).and_then(|t| t.dyn_into::<js_sys::Function>())
    {
        let _ = then.call1(&p, &run);
    }
}

/// The next animation frame: every live slot (the core decides which).
pub fn request_frame() {
    if FRAME.with(|f| f.replace(true)) {
        return;
    }
    let Some(w) = web_sys::window() else { return };
    let cb = Closure::once_into_js(|| {
        FRAME.with(|f| f.set(false));
        let gone: Vec<Slot> = SLOTS.with(|s| {
            let (live, gone) = std::mem::take(&mut *s.borrow_mut())
                .into_iter()
                .partition(|x| x.el.is_connected());
            *s.borrow_mut() = live;
            gone
        });
        // A slot out of the document (a view a router keeps alive, a slot
        // inside content a rule took out) gets the page's own nodes back
        // before it is forgotten: if it comes back, it is a new slot with its
        // default, decided afresh.
        for x in gone {
            undo(x.undo);
            mark(&x.el, None);
        }
        report(all_slots(), SlotsWhy::Frame);
    });
    let _ = w.request_animation_frame(cb.unchecked_ref());
}

/// `data-sillage-ready`.
pub fn reveal(id: SlotId) {
    if let Some(el) = element(id) {
        if !el.has_attribute(READY) {
            let _ = el.set_attribute(READY, "");
        }
    }
}

/// The slot (and recommended item) a click landed in, if personalized.
pub fn slot_of(target: &Element) -> Option<(SlotId, Option<String>)> {
    let slot = target.closest("[data-sillage-applied]").ok().flatten()?;
    let item = target
        .closest("[data-sillage-item-id]")
        .ok()
        .flatten()
        .and_then(|i| i.get_attribute("data-sillage-item-id"));
    Some((id_of(&slot), item))
}

/// Drops the observer's records of our own changes.
fn forget_own_mutations() {
    WATCH.with(|w| {
        if let Some(o) = w.borrow().as_ref() {
            let _ = o.take_records();
        }
    });
}

/// Watches for slots added to the page and for content the page takes back
/// from a slot.
pub fn observe() {
    if WATCH.with(|w| w.borrow().is_some()) {
        return;
    }
    let Some(doc) = document() else { return };
    let cb = Closure::<dyn FnMut(Array)>::new(|records: Array| {
        let mut added = Vec::new();
        let mut lost = Vec::new();
        for r in records.iter() {
            if let Some(slot) = Reflect::get(&r, &"target".into())
                .ok()
                .and_then(|t| t.dyn_into::<Element>().ok())
                .and_then(|t| t.closest(SLOT).ok().flatten())
            {
                if let Some(l) = content_lost(&slot) {
                    if !lost.contains(&l) {
                        lost.push(l);
                    }
                }
            }
            let Ok(nodes) = Reflect::get(&r, &"addedNodes".into()) else {
                continue;
            };
            let nodes: web_sys::NodeList = nodes.unchecked_into();
            for el in elements(nodes) {
                if el.matches(SLOT).unwrap_or(false) && !added.contains(&el) {
                    added.push(el.clone());
                }
                if let Ok(inner) = el.query_selector_all(SLOT) {
                    for e in elements(inner) {
                        if !added.contains(&e) {
                            added.push(e);
                        }
                    }
                }
            }
        }
        for (id, all) in lost {
            send(Message::Lost(id, all));
        }
        if !added.is_empty() {
            report(added, SlotsWhy::Added);
        }
    });
    let Ok(obs) = web_sys::MutationObserver::new(cb.as_ref().unchecked_ref()) else {
        return;
    };
    let init = web_sys::MutationObserverInit::new();
    init.set_child_list(true);
    init.set_subtree(true);
    if let Some(root) = doc.document_element() {
        let _ = obs.observe_with_options(&root, &init);
    }
    cb.forget();
    WATCH.with(|w| *w.borrow_mut() = Some(obs));
}

/// Whether the page removed what the last patch left in `slot`: `(id,
/// all)`. If it replaced all of it, what the page put there is the slot's
/// default now (the nodes taken out earlier are the page's to drop).
fn content_lost(slot: &Element) -> Option<(SlotId, bool)> {
    SLOTS.with(|s| {
        let mut s = s.borrow_mut();
        let x = s.iter_mut().find(|x| &x.el == slot)?;
        if x.own.is_empty() {
            return None;
        }
        let node: &Node = slot;
        let kept = x
            .own
            .iter()
            .filter(|n| n.parent_node().is_some_and(|p| &p == node))
            .count();
        if kept == x.own.len() {
            return None;
        }
        let all = kept == 0;
        if all {
            let el = x.el.clone();
            x.undo.retain(|u| match u {
                Undo::Attr { target, .. } | Undo::Class { target, .. } => *target == el,
                _ => false,
            });
        }
        x.own.clear();
        Some((x.id, all))
    })
}

/// Takes the undo steps of slot `id` (to run them with no borrow held:
/// DOM changes may run page code).
fn take_undo(id: SlotId) -> Vec<Undo> {
    SLOTS.with(|s| {
        s.borrow_mut()
            .iter_mut()
            .find(|x| x.id == id)
            .map(|x| {
                x.own.clear();
                std::mem::take(&mut x.undo)
            })
            .unwrap_or_default()
    })
}

/// Undoes steps, last first: the page's own nodes go back.
fn undo(steps: Vec<Undo>) {
    for u in steps.into_iter().rev() {
        match u {
            Undo::Children {
                target,
                saved,
                ours,
            } => {
                for n in ours {
                    if n.parent_node().is_some_and(|p| p == *target) {
                        let _ = target.remove_child(&n);
                    }
                }
                let first = target.first_child();
                let _ = target.insert_before(&saved, first.as_ref());
            }
            Undo::Attr { target, name, old } => {
                let _ = match old {
                    Some(v) => target.set_attribute(&name, &v),
                    None => target.remove_attribute(&name),
                };
            }
            Undo::Class {
                target,
                class,
                had,
                attr,
            } => {
                let _ = if had {
                    target.class_list().add_1(&class)
                } else {
                    target.class_list().remove_1(&class)
                };
                // `addClass` on an element without the attribute created
                // it: an empty one goes too.
                if !attr && target.get_attribute("class").is_some_and(|c| c.is_empty()) {
                    let _ = target.remove_attribute("class");
                }
            }
            Undo::Order { target, before } => {
                for n in before {
                    if n.parent_node().is_some_and(|p| p == *target) {
                        let _ = target.append_child(&n);
                    }
                }
            }
            Undo::Added(nodes) => {
                for n in nodes {
                    if let Some(p) = n.parent_node() {
                        let _ = p.remove_child(&n);
                    }
                }
            }
        }
    }
}

fn mark(el: &Element, mark: Option<&(String, String)>) {
    match mark {
        Some((rule, label)) => {
            let _ = el.set_attribute(APPLIED, rule);
            let _ = el.set_attribute(SHOWN, label);
        }
        None => {
            let _ = el.remove_attribute(APPLIED);
            let _ = el.remove_attribute(SHOWN);
        }
    }
}

/// `Effect::Restore`: the slot's default content back, marked or not.
pub fn restore(id: SlotId, m: Option<&(String, String)>) {
    undo(take_undo(id));
    if let Some(el) = element(id) {
        mark(&el, m);
    }
    reveal(id);
    forget_own_mutations();
}

/// `Effect::Apply`: undo what was there, apply the steps (moving the page's
/// own nodes out of the way, never copying them), mark, reveal, and tell
/// the core how it went.
pub fn apply(id: SlotId, patch: &Patch) {
    undo(take_undo(id));
    let (Some(el), Some(doc)) = (element(id), document()) else {
        return;
    };
    let name = el.get_attribute("data-sillage-slot").unwrap_or_default();
    let mut journal = Vec::new();
    let mut errors = Vec::new();
    let mut done = 0;
    for step in &patch.steps {
        let targets = match &step.selector {
            None => Ok(vec![el.clone()]),
            Some(sel) => el.query_selector_all(sel).map(elements).map_err(|_| {
                let mut m = String::from("invalid selector \"");
                m.push_str(sel);
                m.push('"');
                m
            }),
        };
        match targets {
            Ok(list) => {
                for t in list {
                    match run(&doc, &name, &t, &step.op, &mut journal) {
                        Ok(()) => done += 1,
                        Err(why) => errors.push(why),
                    }
                }
            }
            Err(why) => errors.push(why),
        }
    }
    if done == 0 {
        // Nothing took: the default stays as it was.
        undo(journal);
        mark(&el, None);
    } else {
        mark(&el, patch.mark.as_ref());
        let own = children(&el);
        SLOTS.with(|s| {
            if let Some(x) = s.borrow_mut().iter_mut().find(|x| x.id == id) {
                x.undo = journal;
                x.own = own;
            }
        });
    }
    reveal(id);
    forget_own_mutations();
    send(Message::Applied(id, done, errors));
}

/// Takes `t`'s children out (kept, unchanged, to be put back) and puts
/// `content` in.
fn replace_children(t: &Element, content: &Node, journal: &mut Vec<Undo>, doc: &Document) {
    let saved = doc.create_document_fragment();
    for n in children(t) {
        let _ = saved.append_child(&n);
    }
    let ours: Vec<Node> = match content.dyn_ref::<DocumentFragment>() {
        Some(f) => {
            let kids = f.child_nodes();
            (0..kids.length()).filter_map(|i| kids.item(i)).collect()
        }
        None => vec![content.clone()],
    };
    let _ = t.append_child(content);
    journal.push(Undo::Children {
        target: t.clone(),
        saved,
        ours,
    });
}

/// Like [`replace_children`], for content a function writes into the
/// emptied element.
fn fill(
    t: &Element,
    journal: &mut Vec<Undo>,
    doc: &Document,
    write: impl FnOnce(&Element) -> Result<(), String>,
) -> Result<(), String> {
    let saved = doc.create_document_fragment();
    for n in children(t) {
        let _ = saved.append_child(&n);
    }
    match write(t) {
        Ok(()) => {
            journal.push(Undo::Children {
                target: t.clone(),
                saved,
                ours: children(t),
            });
            Ok(())
        }
        Err(why) => {
            // Refused: the page's nodes go straight back.
            let first = t.first_child();
            let _ = t.insert_before(&saved, first.as_ref());
            Err(why)
        }
    }
}

fn attr(t: &Element, name: &str, journal: &mut Vec<Undo>) {
    journal.push(Undo::Attr {
        target: t.clone(),
        name: name.to_string(),
        old: t.get_attribute(name),
    });
}

/// The content of `<template data-sillage-variant="slot/variant">`, copied
/// (a template's content is inert, never a page node).
fn variant_content(doc: &Document, slot: &str, variant: &str) -> Option<Node> {
    let list = doc
        .query_selector_all("template[data-sillage-variant]")
        .ok()?;
    for t in elements(list) {
        let name = t.get_attribute("data-sillage-variant").unwrap_or_default();
        if name.split_at_char('/') == Some((slot, variant)) {
            let content: Node = Reflect::get(&t, &"content".into()).ok()?.unchecked_into();
            return content.clone_node_with_deep(true).ok();
        }
    }
    None
}

/// One step on one target.
fn run(
    doc: &Document,
    slot: &str,
    t: &Element,
    op: &PatchOp,
    journal: &mut Vec<Undo>,
) -> Result<(), String> {
    let owned = |s: &str| s.to_string();
    match op {
        PatchOp::Variant(v) => {
            let content = variant_content(doc, slot, v).ok_or_else(|| {
                let mut m = String::from("no <template data-sillage-variant=\"");
                m.push_str(slot);
                m.push('/');
                m.push_str(v);
                m.push_str("\"> in the page");
                m
            })?;
            replace_children(t, &content, journal, doc);
            Ok(())
        }
        PatchOp::Html(h) => fill(t, journal, doc, |t| {
            html::set_html(t, h).map(|_| ()).map_err(owned)
        }),
        PatchOp::Text(text) => fill(t, journal, doc, |t| html::set_text(t, text).map_err(owned)),
        PatchOp::SetAttribute(name, value) => {
            let old = t.get_attribute(name);
            let rel = t.get_attribute("rel");
            html::set_attribute_checked(t, name, value).map_err(|why| {
                let mut m = String::from("setAttribute ");
                m.push_str(name);
                m.push_str(": ");
                m.push_str(why);
                m
            })?;
            journal.push(Undo::Attr {
                target: t.clone(),
                name: name.clone(),
                old,
            });
            if t.get_attribute("rel") != rel {
                journal.push(Undo::Attr {
                    target: t.clone(),
                    name: "rel".into(),
                    old: rel,
                });
            }
            Ok(())
        }
        PatchOp::AddClass(c) | PatchOp::RemoveClass(c) => {
            let had = t.class_list().contains(c);
            let attr = t.has_attribute("class");
            let r = match op {
                PatchOp::AddClass(_) => t.class_list().add_1(c),
                _ => t.class_list().remove_1(c),
            };
            r.map_err(|_| owned("bad class name"))?;
            journal.push(Undo::Class {
                target: t.clone(),
                class: c.clone(),
                had,
                attr,
            });
            Ok(())
        }
        PatchOp::Hide | PatchOp::Show => {
            attr(t, "hidden", journal);
            let r = match op {
                PatchOp::Hide => t.set_attribute("hidden", ""),
                _ => t.remove_attribute("hidden"),
            };
            r.map_err(|_| owned("cannot hide or show"))
        }
        PatchOp::Order(order) => {
            reorder(t, order, journal);
            Ok(())
        }
        PatchOp::SortBy(interests) => {
            let kids = t.children();
            let topics: Vec<Vec<String>> = (0..kids.length())
                .filter_map(|i| kids.item(i))
                .map(|k| {
                    let raw =
                        env::lower(&k.get_attribute("data-sillage-topics").unwrap_or_default());
                    sillage_core::track::topics::normalize([raw.as_str()])
                })
                .collect();
            let order = sillage_core::decide::render::order_by_affinity(&topics, interests);
            reorder(t, &order, journal);
            Ok(())
        }
        PatchOp::Recommend(items) => recommend(t, items, journal),
    }
}

/// Moves `t`'s element children into `order` (indexes into them).
fn reorder(t: &Element, order: &[usize], journal: &mut Vec<Undo>) {
    journal.push(Undo::Order {
        target: t.clone(),
        before: children(t),
    });
    let kids = t.children();
    let els: Vec<Element> = (0..kids.length()).filter_map(|i| kids.item(i)).collect();
    for i in order {
        if let Some(k) = els.get(*i) {
            let _ = t.append_child(k);
        }
    }
}

/// Fills `t` from the catalog through its `<template data-sillage-item>`.
fn recommend(
    t: &Element,
    items: &[sillage_core::sdk::RecommendedItem],
    journal: &mut Vec<Undo>,
) -> Result<(), String> {
    if items.is_empty() {
        return Err("recommend found nothing for this visitor".into());
    }
    let template = t
        .query_selector("template[data-sillage-item]")
        .ok()
        .flatten()
        .ok_or_else(|| "recommend needs a <template data-sillage-item> in the slot".to_string())?;
    let content: Node = Reflect::get(&template, &"content".into())
        .map_err(|_| "not a template".to_string())?
        .unchecked_into();
    let mut added = Vec::new();
    for item in items {
        let Ok(copy) = content.clone_node_with_deep(true) else {
            continue;
        };
        let frag: DocumentFragment = copy.unchecked_into();
        if let Ok(fields) = frag.query_selector_all("[data-sillage-field]") {
            for f in elements(fields) {
                let _ = match f.get_attribute("data-sillage-field").as_deref() {
                    Some("title") => html::set_text(&f, &item.title),
                    Some("price") => match &item.price {
                        Some(p) => html::set_text(&f, p),
                        None => Ok(()),
                    },
                    Some("url") => html::set_attribute_checked(&f, "href", &item.url),
                    Some("image") => match &item.image {
                        Some(src) => html::set_attribute_checked(&f, "src", src)
                            .and_then(|_| html::set_attribute_checked(&f, "alt", &item.title)),
                        None => Ok(()),
                    },
                    _ => Ok(()),
                };
            }
        }
        let kids = frag.children();
        for k in (0..kids.length()).filter_map(|i| kids.item(i)) {
            let _ = k.set_attribute(GENERATED, "");
            let _ = k.set_attribute("data-sillage-item-id", &item.id);
        }
        let nodes = frag.child_nodes();
        added.extend((0..nodes.length()).filter_map(|i| nodes.item(i)));
        let _ = t.append_child(&frag);
    }
    journal.push(Undo::Added(added));
    Ok(())
}

/// Test support: forgets the slots, as a reload would.
pub fn reset() {
    SLOTS.with(|s| s.borrow_mut().clear());
    WATCH.with(|w| {
        if let Some(o) = w.borrow_mut().take() {
            o.disconnect();
        }
    });
    FRAME.with(|f| f.set(false));
}
