/*! Sillage journey panel (MIT OR Apache-2.0) */
// A debugging overlay for any page with Sillage: what the SDK worked out on
// this device and why. It is a separate ES module, never part of the SDK or
// its size budget: the loader imports it (from beside itself) only when the
// URL has ?sillage_debug=1 and the config says "debug": true, and the demo
// store imports it from its "Journey panel" button.
//
// It reads only the public API: sillage.profile(), sillage.debug() and
// sillage.on("stage"), every second while open. It builds its DOM with
// createElement and textContent (no innerHTML, no inline style: bars are
// <meter> elements, the look is in sillage-panel.css), so it works under a
// strict Content-Security-Policy with Trusted Types. It never throws into the
// page: every step is guarded, and a failure is one console warning.

const STAGES = ['discovery', 'consideration', 'purchase', 'post_purchase', 'loyalty'];
const STAGE_NAMES = {
  discovery: 'Discovery',
  consideration: 'Consideration',
  purchase: 'Purchase',
  post_purchase: 'Post-purchase',
  loyalty: 'Loyalty',
};
const POLL_MS = 1000;

let root = null; // the panel's <aside>, while open
let body = null;
let timer = 0;
let last = ''; // what was drawn last, to redraw only on change
let warned = false;
let listening = false;

function warn(e) {
  if (warned) return;
  warned = true;
  try {
    console.warn('sillage panel:', e && e.message ? e.message : e);
  } catch (_) {
    /* nothing to report to */
  }
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function add(parent, ...children) {
  for (const c of children) if (c) parent.appendChild(c);
  return parent;
}

function pct(x) {
  return Math.round((Number(x) || 0) * 100) + '%';
}

function ago(at, now) {
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 60) return 'just now';
  if (s < 3600) return Math.round(s / 60) + ' min ago';
  if (s < 86400) return Math.round(s / 3600) + ' h ago';
  const d = Math.round(s / 86400);
  return d + (d === 1 ? ' day ago' : ' days ago');
}

function clock(at) {
  try {
    return new Date(at).toLocaleString('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
  } catch (_) {
    return String(at);
  }
}

function bar(label, value, cls, title) {
  const row = el('div', 'sp-bar' + (cls ? ' ' + cls : ''));
  const m = el('meter');
  m.min = 0;
  m.max = 1;
  m.value = Math.max(0, Math.min(1, Number(value) || 0));
  m.title = title || pct(value);
  add(row, el('span', 'sp-bar-label', label), m, el('span', 'sp-bar-value', pct(value)));
  return row;
}

function section(title, hint) {
  const s = el('section', 'sp-section');
  const h = el('h3', null, title);
  if (hint) add(h, el('span', 'sp-hint', ' ' + hint));
  return add(s, h);
}

/** The touchpoint timeline: every landing from the profile's recent list, with its source when the profile names it. */
function timeline(p, now) {
  const s = section('Touchpoints', '(landings on this device)');
  const touches = [p.firstTouch, p.lastTouch].filter(Boolean);
  const landings = (p.recent || []).filter((r) => r[1] === 'landing');
  const list = el('ol', 'sp-timeline');
  for (const r of landings.slice(-8)) {
    const at = r[0];
    const channel = r[3] || 'Direct';
    const known = touches.find((t) => Math.abs(t.at - at) < 1000);
    const source = known ? known.source + (known.campaign ? ' · ' + known.campaign : '') : channel === 'Direct' ? '(direct)' : '';
    const li = el('li', 'sp-touch');
    li.setAttribute('data-channel', channel);
    add(li, el('strong', 'sp-channel', channel), el('span', 'sp-source', source ? ' ' + source : ''), el('span', 'sp-path', ' → ' + r[2]), el('span', 'sp-time', clock(at) + ' (' + ago(at, now) + ')'));
    list.appendChild(li);
  }
  if (!landings.length) list.appendChild(el('li', 'sp-empty', 'none yet'));
  const counts = el('p', 'sp-small', (p.sessions || 0) + ' sessions · ' + (p.pageviews || 0) + ' page views · channels seen: ' + ((p.channels || []).join(', ') || 'none'));
  return add(s, list, counts);
}

function stages(p) {
  const s = section('Journey stage', '(probabilities, on this device)');
  const now = el('p', 'sp-stage', STAGE_NAMES[p.stage] || p.stage);
  now.setAttribute('data-stage', p.stage);
  add(s, now);
  for (const st of STAGES) {
    s.appendChild(bar(STAGE_NAMES[st], (p.stageProbabilities || {})[st], st === p.stage ? 'sp-current' : ''));
  }
  const why = el('ul', 'sp-reasons');
  for (const r of p.reasons || []) why.appendChild(el('li', null, r.text));
  if (!(p.reasons || []).length) why.appendChild(el('li', 'sp-empty', 'no signal yet'));
  return add(s, el('p', 'sp-small', 'Why:'), why);
}

function interests(p) {
  const s = section('Interests', '(fade over 14 days)');
  const entries = Object.entries(p.interests || {}).slice(0, 5);
  for (const [topic, v] of entries) s.appendChild(bar(topic, v));
  if (!entries.length) s.appendChild(el('p', 'sp-empty', 'none yet'));
  return s;
}

function signals(p, now) {
  const s = section('Signals');
  const list = el('ul', 'sp-signals');
  for (const [name, v] of Object.entries(p.signals || {})) {
    const on = v && v.value !== false && v.value !== 0;
    const li = el('li', on ? 'sp-on' : 'sp-off', name + (on && v.at ? ' (' + ago(v.at, now) + ')' : ''));
    li.setAttribute('data-signal', name);
    li.setAttribute('data-on', on ? 'true' : 'false');
    list.appendChild(li);
  }
  const cart = p.cart || {};
  const order = p.lastOrder;
  const c = el('p', 'sp-small', 'Cart: ' + (cart.items || 0) + ' items, ' + (cart.value || 0) + ' ' + (cart.currency || '') + ' · orders: ' + (p.orders || 0) + (order ? ' (last ' + ago(order.at, now) + ')' : ''));
  return add(s, list, c);
}

/** Whether the page has a slot of that name (names are plain: no quote, no slash, no space). */
function onPage(name) {
  try {
    return !!document.querySelector('[data-sillage-slot="' + String(name).replace(/["\\]/g, '') + '"]');
  } catch (_) {
    return false;
  }
}

function slots(d) {
  const s = section('Personalization', '(each slot on this page)');
  const rows = (d && d.slots) || [];
  const here = rows.filter((r) => onPage(r.slot));
  const list = el('ul', 'sp-slots');
  for (const r of here) {
    const li = el('li', 'sp-slot');
    li.setAttribute('data-slot', r.slot);
    const head = el('p', 'sp-slot-head');
    add(head, el('strong', null, r.slot), el('span', null, ': ' + r.shows + (r.rule ? ' (rule ' + r.rule + ')' : '')));
    if (r.experiment) add(head, el('span', 'sp-exp', ' experiment ' + r.experiment));
    if (r.forced) add(head, el('span', 'sp-exp', ' forced'));
    add(li, head, el('p', 'sp-why', r.why || ''));
    list.appendChild(li);
  }
  if (!here.length) list.appendChild(el('li', 'sp-empty', rows.length ? 'no slot on this page' : 'no rule decides anything here (no rules, or personalization is off)'));
  add(s, list);
  const elsewhere = rows.filter((r) => !onPage(r.slot));
  if (elsewhere.length) {
    s.appendChild(el('p', 'sp-small', 'Other pages: ' + elsewhere.map((r) => r.slot + ' → ' + (r.rule || 'default')).join(', ')));
  }
  return s;
}

function queue(d) {
  const s = section('Events and consent');
  const q = (d && d.queue) || {};
  const pending = (q.waiting || 0) + (q.inFlight || 0);
  const t = el('table', 'sp-queue');
  const rows = [
    ['pending', pending + ' (' + (q.inFlight || 0) + ' in flight, ' + (q.retrying || 0) + ' retrying)'],
    ['sent', (q.delivered || 0) + ' delivered since this page loaded'],
    ['failed', (q.refused || 0) + ' refused, ' + (q.dropped || 0) + ' dropped'],
    ['tracking', q.tracking || 'unknown'],
    ['consent', JSON.stringify((d && d.consent) || {})],
    ['storage', q.storage || ''],
    ['this tab sends', d && d.sender ? 'yes' : 'no (another tab does)'],
  ];
  for (const [k, v] of rows) {
    const tr = el('tr');
    tr.setAttribute('data-row', k);
    add(tr, el('th', null, k), el('td', null, v));
    t.appendChild(tr);
  }
  return add(s, t);
}

function draw(p, d) {
  if (!root) return;
  const now = Date.now();
  const key = JSON.stringify([p, d, Math.floor(now / 30000)]);
  if (key === last) return;
  last = key;
  root.setAttribute('data-stage', p ? p.stage : '');
  const next = el('div', 'sp-body');
  if (!p) {
    next.appendChild(el('p', 'sp-empty', 'Sillage has not applied its config yet (or tracking is off on this page).'));
  } else {
    add(next, stages(p), timeline(p, now), interests(p), signals(p, now), slots(d), queue(d));
  }
  body.replaceWith(next);
  body = next;
}

async function refresh() {
  try {
    const s = window.sillage;
    if (!s || typeof s.profile !== 'function') return draw(null, null);
    // Through the loader's stub these are Promises until the SDK loaded.
    const [p, d] = await Promise.all([s.profile(), s.debug()]);
    draw(p, d);
  } catch (e) {
    warn(e);
  }
}

function ensureStyles() {
  if (document.querySelector('link[data-sillage-panel]')) return;
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = new URL('sillage-panel.css', import.meta.url).href;
  link.setAttribute('data-sillage-panel', '');
  document.head.appendChild(link);
}

/** Opens the panel (again, if it was closed). Returns true. */
export function open() {
  try {
    if (root) return true;
    ensureStyles();
    root = el('aside', 'sillage-panel');
    root.setAttribute('aria-label', 'Sillage journey panel');
    const head = el('header', 'sp-head');
    const close = el('button', 'sp-close', '×');
    close.type = 'button';
    close.title = 'Close the journey panel';
    close.addEventListener('click', () => {
      closePanel();
      // The page may want to know (the demo store remembers it per tab).
      try {
        window.dispatchEvent(new CustomEvent('sillage-panel', { detail: { open: false } }));
      } catch (e) {
        warn(e);
      }
    });
    add(head, el('strong', null, 'Sillage journey panel'), close);
    body = el('div', 'sp-body');
    add(root, head, body);
    document.body.appendChild(root);
    // On a wide screen the page makes room for the panel (sillage-panel.css).
    document.documentElement.classList.add('sillage-panel-open');
    last = '';
    refresh();
    timer = setInterval(refresh, POLL_MS);
    if (!listening && window.sillage && typeof window.sillage.on === 'function') {
      listening = true;
      window.sillage.on('stage', () => refresh());
    }
  } catch (e) {
    warn(e);
  }
  return true;
}

function closePanel() {
  try {
    clearInterval(timer);
    if (root) root.remove();
    document.documentElement.classList.remove('sillage-panel-open');
  } catch (e) {
    warn(e);
  }
  root = null;
  body = null;
}

/** Closes the panel. Returns false. */
export function close() {
  closePanel();
  return false;
}

/** Opens or closes the panel; returns whether it is open now. */
export function toggle() {
  return root ? close() : open();
}

// Loaded by the loader for ?sillage_debug=1: open once the SDK confirms the
// config allows it ("debug": true), else say why not.
try {
  if (/[?&]sillage_debug=1(&|$)/.test(location.search) && window.sillage && typeof window.sillage.ready === 'function') {
    window.sillage.ready(async () => {
      try {
        const d = await window.sillage.debug();
        if (d && d.debugMode) open();
        else console.warn('sillage panel: ?sillage_debug=1 is off (set "debug": true in the config)');
      } catch (e) {
        warn(e);
      }
    });
  }
} catch (e) {
  warn(e);
}
