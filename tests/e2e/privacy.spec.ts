// Privacy by default (issue 14), in Chromium through the real loader and
// collector: consent for tracking (held in memory, sent on agreement, dropped
// on refusal), a withdrawal heard by every tab, Global Privacy Control and Do
// Not Track with the visitor's own click as the only override, what each
// `privacy.send` mode lets leave the device, the on-device-only mode (no
// collector: no request at all), and forget() erasing at both ends.
//
// Requests are counted twice: by the browser (`page.on('request')`, every
// request of every origin) and by a recording proxy the pages are loaded
// through (`site()`), which also sees what the browser does not report: a
// beacon sent while a page unloads during a navigation is missing from
// `page.on('request')` and `context.on('request')`. Storage is read as
// `Object.keys(localStorage)`. Where a test proves that something does NOT
// happen, it flushes first, then waits QUIET_MS (documented below).
import { type APIRequestContext, type BrowserContext, type Page } from '@playwright/test';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test, expect, adminHeaders, anonymousId, consoleOf, diagnosticLine, fault, flushed, sql, watchErrors, WWW } from './helpers';

/** The page's config as served from www/test/privacy.config.json; each test changes its copy. */
const BASE = JSON.parse(readFileSync(join(WWW, 'test/privacy.config.json'), 'utf8'));

/**
 * How long a test waits, after a flush, to show that nothing is sent: seven
 * flush intervals (`flushMs` 200 in privacy.config.json) and three times the
 * SDK's first retry backoff (500 ms). Nothing is timed: a request that were
 * going to leave would be due well within it.
 */
const QUIET_MS = 1_500;

/** The topics of privacy.html (`data-sillage-topics` on its body). */
const PAGE_TOPICS = ['trail', 'running', 'hiking', 'camping'];
/** The topics of the config's `topics` rules, which the noise draws from. */
const CONFIG_TOPICS = ['trail', 'kayak', 'ski'];

/** Serves privacy.config.json changed by `change` (in the browser: the server never sees it). */
async function serveConfig(target: Page | BrowserContext, change: (config: any) => void) {
  const config = structuredClone(BASE);
  change(config);
  await target.route('**/test/privacy.config.json', (route) => route.fulfill({ json: config }));
}

interface Seen {
  method: string;
  /** Path and query. */
  path: string;
  body: string;
  headers?: http.IncomingHttpHeaders;
  status?: number;
}

/** Every request the browser reports for the page (or every page of the context), in order. */
function requests(target: Page | BrowserContext): Seen[] {
  const seen: Seen[] = [];
  (target as Page).on('request', (r) => {
    const u = new URL(r.url());
    seen.push({ method: r.method(), path: u.pathname + u.search, body: r.postData() ?? '' });
  });
  return seen;
}

/** The requests to the collector's API (batches, beacons, erasures). */
const toCollector = (seen: Seen[]) => seen.filter((r) => r.path.startsWith('/v1/'));

const proxies: { close: () => Promise<void> }[] = [];

/**
 * The real collector (the pages, the SDK, the API) behind a proxy on another
 * origin (`localhost` while the collector is reached at 127.0.0.1) that
 * records every request it relays, preflights and beacons included.
 */
async function site(base: string) {
  const seen: Seen[] = [];
  const target = new URL(base);
  const me = {
    url: '',
    seen,
    /** Paths starting with this get a 503 from the proxy, as from a collector that is down. */
    down: null as string | null,
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const rec: Seen = { method: req.method!, path: req.url!, headers: req.headers, body: body.toString() };
      seen.push(rec);
      if (me.down && req.url!.startsWith(me.down)) {
        rec.status = 503;
        res.writeHead(503, { 'Access-Control-Allow-Origin': '*' }).end();
        return;
      }
      const upstream = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
        (r) => {
          rec.status = r.statusCode;
          res.writeHead(r.statusCode!, r.headers);
          r.pipe(res);
        },
      );
      upstream.on('error', () => res.writeHead(502).end());
      upstream.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  // Chromium keeps its connections alive: close them, or close() waits
  // for them (the afterEach hook then ran out of time).
  const close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  proxies.push({ close });
  me.url = `http://localhost:${port}`;
  return me;
}

/** The SDK's keys in localStorage, sorted. */
function sillageKeys(page: Page): Promise<string[]> {
  return page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('sillage.')).sort());
}

const queueKeys = (keys: string[]) => keys.filter((k) => k.startsWith('sillage.e.'));

async function ready(page: Page) {
  await page.evaluate(() => new Promise((r) => window['sillage'].ready(r)));
}

async function track(page: Page, event: string, properties: object = {}) {
  await page.evaluate(([e, p]) => window['sillage'].track(e, p), [event, properties] as const);
}

/** What `flush()` resolves to (at once when nothing may be sent). */
function flush(page: Page): Promise<boolean> {
  return page.evaluate(() => window['sillage'].flush());
}

/** The queue as `sillage.debug()` shows it: tracking, storage, waiting... */
async function queue(page: Page): Promise<Record<string, any>> {
  return (await page.evaluate(() => window['sillage'].debug())).queue;
}

/** A visitor's stored rows, oldest first: `page` for a page view, the event name for a track call. */
function storedNames(anon: string): string[] {
  return sql('SELECT type, event FROM events WHERE anonymous_id = ? ORDER BY rowid', [anon]).map((r) =>
    r.type === 'track' ? String(r.event) : String(r.type),
  );
}

/** Stored rows of these track events, whoever sent them. */
function rowsOf(events: string[]): number {
  const marks = events.map(() => '?').join(',');
  return sql(`SELECT count(*) AS n FROM events WHERE event IN (${marks})`, events)[0].n as number;
}

const slot = (page: Page, name: string) => page.locator(`[data-sillage-slot="${name}"]`);

/** Personalization ran on the device: the hero slot got the rule on the page's `trail` interest. */
async function personalized(page: Page) {
  await expect(slot(page, 'hero')).toHaveAttribute('data-sillage-applied', 'hero-trail');
  await expect(slot(page, 'hero').locator('h2')).toHaveText('Trail gear for you');
}

/** Makes the page hidden, as switching tabs does: what waits would leave by beacon. */
async function hide(page: Page) {
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
    Object.defineProperty(document, 'hidden', { value: true, configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
}

test.afterEach(async ({ request }) => {
  await fault(request, null);
  for (const p of proxies.splice(0)) await p.close();
});

test('consent required: nothing stored or sent before consent; on agreement the held events are sent in order', async ({ page, baseURL }) => {
  const server = await site(baseURL!);
  await serveConfig(page, (c) => (c.privacy = { consent: 'required' }));
  const seen = requests(page);
  const errors = watchErrors(page);
  await page.goto(`${server.url}/test/privacy.html`);
  await ready(page);
  await track(page, 'Held One', { n: 1 });
  await track(page, 'Held Two', { n: 2 });
  // Personalization runs from memory meanwhile.
  await personalized(page);
  expect(await queue(page)).toMatchObject({ tracking: 'pending', storage: 'memory', waiting: 4 });
  // Nothing may be sent: flush() says so at once (it used to never settle).
  expect(await flush(page)).toBe(false);
  await page.waitForTimeout(QUIET_MS);
  expect(toCollector(seen)).toEqual([]);
  expect(toCollector(server.seen)).toEqual([]);
  expect(await sillageKeys(page)).toEqual([]);

  const agreedAt = await page.evaluate(() => {
    window['sillage'].consent({ analytics: true });
    return new Date().toISOString();
  });
  await flushed(page);
  const anon = await anonymousId(page);
  // The page view, the hero's exposure and both track calls, in the order
  // they were recorded, each with the time it was recorded (before consent).
  expect(storedNames(anon)).toEqual(['page', 'Personalization Viewed', 'Held One', 'Held Two']);
  const times = sql('SELECT timestamp FROM events WHERE anonymous_id = ? ORDER BY rowid', [anon]).map((r) => String(r.timestamp));
  expect([...times].sort()).toEqual(times);
  expect(times.every((t) => t < agreedAt)).toBe(true);
  const sent = toCollector(server.seen);
  expect(sent.length).toBeGreaterThan(0);
  expect(sent.every((r) => r.method === 'POST' && r.path === '/v1/batch')).toBe(true);
  // Now the visitor is stored: ids, session, the choice; the queue drained.
  await expect
    .poll(() => sillageKeys(page))
    .toEqual(expect.arrayContaining(['sillage.anonymousId', 'sillage.consent', 'sillage.session']));
  await expect.poll(async () => queueKeys(await sillageKeys(page))).toEqual([]);
  expect(await page.evaluate(() => localStorage.getItem('sillage.consent'))).toBe('{"analytics":true}');
  console.log(`consent required: 0 requests to the collector before consent, ${sent.length} after (4 events)`);
  expect(errors).toEqual([]);
});

test('consent required: a refusal drops the held events; only the choice is stored, and the next page honours it', async ({ page, baseURL }) => {
  const server = await site(baseURL!);
  await serveConfig(page, (c) => (c.privacy = { consent: 'required' }));
  const seen = requests(page);
  const errors = watchErrors(page);
  await page.goto(`${server.url}/test/privacy.html`);
  await ready(page);
  await track(page, 'Refused One');
  await page.click('#refuse');
  expect(await queue(page)).toMatchObject({ tracking: 'denied', waiting: 0 });
  expect(await flush(page)).toBe(false);
  await personalized(page);
  // The next page: the stored choice holds; nothing is held, stored or sent.
  await page.reload();
  await ready(page);
  await track(page, 'Refused Two');
  expect(await queue(page)).toMatchObject({ tracking: 'denied', waiting: 0 });
  expect(await flush(page)).toBe(false);
  await personalized(page);
  await page.waitForTimeout(QUIET_MS);
  expect(toCollector(seen)).toEqual([]);
  expect(toCollector(server.seen)).toEqual([]);
  // The choice itself is the one key (a record of the decision, read by
  // every tab and later page): no ids, no queue, no session, no profile.
  expect(await sillageKeys(page)).toEqual(['sillage.consent']);
  expect(await page.evaluate(() => localStorage.getItem('sillage.consent'))).toBe('{"analytics":false}');
  expect(rowsOf(['Refused One', 'Refused Two'])).toBe(0);
  expect(errors).toEqual([]);
});

test('consent required with personalization refused: the slots keep their defaults, only the choice is stored', async ({ page, baseURL }) => {
  const server = await site(baseURL!);
  // Queued before the loader, as the README's one-line stub does.
  await page.addInitScript(() => {
    (window as any).sillage = { _q: [['consent', [{ personalization: false }]]] };
  });
  await serveConfig(page, (c) => (c.privacy = { consent: 'required' }));
  const seen = requests(page);
  const errors = watchErrors(page);
  await page.goto(`${server.url}/test/privacy.html`);
  await ready(page);
  await expect(slot(page, 'hero')).toHaveAttribute('data-sillage-ready', '');
  await expect(slot(page, 'hero')).not.toHaveAttribute('data-sillage-applied', /./);
  await expect(slot(page, 'hero').locator('h2')).toHaveText('Welcome');
  expect(await queue(page)).toMatchObject({ tracking: 'pending', storage: 'memory' });
  expect(await flush(page)).toBe(false);
  await page.waitForTimeout(QUIET_MS);
  expect(toCollector(seen)).toEqual([]);
  expect(toCollector(server.seen)).toEqual([]);
  // The personalization choice is recorded; analytics is still undecided.
  expect(await sillageKeys(page)).toEqual(['sillage.consent']);
  expect(await page.evaluate(() => localStorage.getItem('sillage.consent'))).toBe('{"personalization":false}');
  expect(errors).toEqual([]);
});

test('withdrawal in one of two tabs: nothing recorded before it is ever sent, by either tab; queue and ids gone', async ({ context, request, baseURL }) => {
  test.setTimeout(60_000);
  const server = await site(baseURL!);
  // The collector refuses every batch at first, so the events stay queued.
  await fault(request, { status: 503, forMs: 60_000 });
  const seen = requests(context);
  const a = await context.newPage();
  const b = await context.newPage();
  const errors = [a, b].map(watchErrors);
  await a.goto(`${server.url}/test/privacy.html`);
  await ready(a);
  const anon = await anonymousId(a);
  await b.goto(`${server.url}/test/privacy.html`);
  await ready(b);
  expect(await anonymousId(b)).toBe(anon);
  await a.evaluate(() => window['sillage'].identify('u-withdrawn'));
  await track(a, 'Withdrawn A');
  await track(b, 'Withdrawn B');
  // Both tabs' events wait in the shared storage; the sending tab retries.
  await expect.poll(async () => queueKeys(await sillageKeys(a)).length).toBeGreaterThanOrEqual(7);
  expect(await sillageKeys(a)).toEqual(expect.arrayContaining(['sillage.anonymousId', 'sillage.userId']));
  await expect.poll(() => toCollector(server.seen).length).toBeGreaterThan(0); // a refused attempt
  const aSends = (await a.evaluate(() => window['sillage'].debug())).sender;
  const [sender, other] = aSends ? [a, b] : [b, a];
  expect((await other.evaluate(() => window['sillage'].debug())).sender).toBe(false);

  // The tab that does not send withdraws: the sending tab hears it.
  await other.evaluate(() => window['sillage'].consent({ analytics: false }));
  const atWithdrawal = { browser: toCollector(seen).length, server: toCollector(server.seen).length };
  await fault(request, null);
  for (const p of [a, b]) await expect.poll(() => queue(p)).toMatchObject({ tracking: 'denied', waiting: 0 });
  await track(sender, 'After Withdrawal');
  expect(await flush(a)).toBe(false);
  expect(await flush(b)).toBe(false);
  // The collector is reachable again: no retry, flush or beacon sends anything.
  await hide(sender);
  await a.waitForTimeout(3 * QUIET_MS);
  expect(toCollector(seen).length).toBe(atWithdrawal.browser);
  expect(toCollector(server.seen).length).toBe(atWithdrawal.server);
  expect(storedNames(anon)).toEqual([]);
  expect(rowsOf(['Withdrawn A', 'Withdrawn B', 'After Withdrawal'])).toBe(0);
  // Storage: the choice, and the profile (on the device, it never leaves);
  // no queue, no ids, no session, no sender lease.
  for (const p of [a, b]) {
    expect((await sillageKeys(p)).filter((k) => k !== 'sillage.profile')).toEqual(['sillage.consent']);
  }
  console.log(`withdrawal: ${atWithdrawal.server} refused requests before it, 0 after`);
  expect(errors.flat()).toEqual([]);
});

/** Navigator overrides that make the browser send a privacy signal. */
const SIGNALS = [
  {
    name: 'Global Privacy Control',
    init: () => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true }),
    read: () => (navigator as any).globalPrivacyControl,
    value: true,
  },
  {
    name: 'Do Not Track',
    init: () => Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => '1' }),
    read: () => navigator.doNotTrack,
    value: '1',
  },
];

for (const signal of SIGNALS) {
  test(`${signal.name}: nothing sent or stored, personalization works; only the visitor's click agrees`, async ({ page, baseURL }) => {
    const server = await site(baseURL!);
    await page.addInitScript(signal.init);
    const seen = requests(page);
    const errors = watchErrors(page);
    const warnings = consoleOf(page, 'warning');
    await page.goto(`${server.url}/test/privacy.html`);
    await ready(page);
    expect(await page.evaluate(signal.read)).toBe(signal.value);
    await track(page, 'Signal One');
    await personalized(page);
    expect(await queue(page)).toMatchObject({ tracking: 'denied', waiting: 0, storage: 'memory' });
    expect(await flush(page)).toBe(false);

    // A script's agreement, with no user activation in force, is refused.
    // (Playwright's page.evaluate runs with a user gesture, and activation
    // lasts 5 s: consentFromScript waits until it has lapsed, then calls
    // consent() and reports that activation was indeed off.)
    expect(await page.evaluate(() => window['consentFromScript']({ analytics: true }))).toBe(true);
    // Printed as its path and code (the config has neither errors nor
    // debug, so the SDK does not fetch the sentences).
    const refused = diagnosticLine('the browser asks not to be tracked (Global Privacy Control or Do Not Track)');
    await expect.poll(() => warnings.filter((w) => refused.test(w) && w.includes('consent.analytics')).length).toBeGreaterThanOrEqual(1);
    await track(page, 'Still Nothing');
    expect(await queue(page)).toMatchObject({ tracking: 'denied', waiting: 0 });
    expect(await flush(page)).toBe(false);
    await page.waitForTimeout(QUIET_MS);
    expect(toCollector(seen)).toEqual([]);
    expect(toCollector(server.seen)).toEqual([]);
    // No ids, no queue, no session: the profile (on the device) and the
    // ignored call's record (`{}`: no analytics choice) only.
    const keys = await sillageKeys(page);
    expect(keys.filter((k) => k !== 'sillage.profile')).toEqual(['sillage.consent']);
    expect(await page.evaluate(() => localStorage.getItem('sillage.consent'))).toBe('{}');

    // The visitor's own click agrees: events flow from then on.
    await page.click('#agree');
    await expect.poll(() => queue(page)).toMatchObject({ tracking: 'allowed', storage: 'local' });
    await track(page, 'Agreed');
    await flushed(page);
    const anon = await anonymousId(page);
    // What was recorded under the signal was never kept.
    expect(storedNames(anon)).toEqual(['Agreed']);
    expect(rowsOf(['Signal One', 'Still Nothing'])).toBe(0);
    expect(await page.evaluate(() => localStorage.getItem('sillage.consent'))).toBe('{"analytics":true}');
    expect(toCollector(server.seen).length).toBeGreaterThan(0);
    console.log(`${signal.name}: 0 requests to the collector before the click, ${toCollector(server.seen).length} after`);
    expect(errors).toEqual([]);
  });
}

/**
 * One visitor's journey over two page loads and an SPA navigation: a product
 * viewed, added to the cart by a tracked click (stage: purchase, which the
 * stage rule shows at once), a checkout and an order on the next page
 * (stage: post_purchase).
 */
async function journey(page: Page, origin: string) {
  await page.goto(`${origin}/test/privacy.html`);
  await ready(page);
  await personalized(page);
  await track(page, 'Product Viewed', { product_id: 'trail-1', category: 'trail', price: 129 });
  await page.click('#add'); // data-sillage-track="Product Added"
  await expect(slot(page, 'stage').locator('p')).toHaveText('Ready to check out?');
  await page.click('#spa'); // history.pushState to /test/privacy/trail-shoes
  await expect.poll(() => page.evaluate(() => location.pathname)).toBe('/test/privacy/trail-shoes');
  await page.goto(`${origin}/test/privacy.html?step=2`);
  await ready(page);
  await track(page, 'Checkout Started', { value: 129 });
  await track(page, 'Order Completed', { order_id: `o-${randomUUID()}`, revenue: 129, currency: 'EUR' });
  await expect.poll(() => page.evaluate(() => window['sillage'].profile().stage)).toBe('post_purchase');
}

/** The events of every batch body sent, and each envelope's keys. */
function batches(seen: Seen[]) {
  const bodies = seen.filter((r) => r.method === 'POST' && r.path === '/v1/batch').map((r) => JSON.parse(r.body));
  return { envelopes: bodies.map((b) => Object.keys(b).sort()), events: bodies.flatMap((b) => b.batch) };
}

test('send "events": the event stream', async ({ page, baseURL }) => {
  const server = await site(baseURL!);
  const errors = watchErrors(page);
  await journey(page, server.url);
  await flushed(page);
  const anon = await anonymousId(page);
  // The first page's last events leave by beacon as it unloads: flush() on
  // the second page does not wait for them.
  const count = (name: string) => storedNames(anon).filter((n) => n === name).length;
  await expect.poll(() => count('page')).toBe(3); // two loads and the SPA navigation
  await expect.poll(() => count('Journey Stage Changed')).toBe(2);
  const names = storedNames(anon);
  for (const n of ['Product Viewed', 'Product Added', 'Checkout Started', 'Order Completed']) expect(names).toContain(n);
  expect(names).not.toContain('Interests Shared');
  const paths = sql(
    "SELECT json_extract(payload, '$.context.page.path') AS p FROM events WHERE anonymous_id = ? AND type = 'page' ORDER BY timestamp",
    [anon],
  );
  expect(paths.map((r) => r.p)).toEqual(['/test/privacy.html', '/test/privacy/trail-shoes', '/test/privacy.html']);
  // Full events: the page context and the SDK's own context go out.
  const product = JSON.parse(
    sql("SELECT payload FROM events WHERE anonymous_id = ? AND event = 'Product Added'", [anon])[0].payload as string,
  );
  expect(Object.keys(product.context)).toEqual(expect.arrayContaining(['library', 'page', 'sillage']));
  expect(await sillageKeys(page)).toEqual(expect.arrayContaining(['sillage.anonymousId', 'sillage.session', 'sillage.profile']));
  console.log(`send "events": ${toCollector(server.seen).length} requests to the collector for ${names.length} events`);
  expect(errors).toEqual([]);
});

/** Events in the order they were recorded. */
const byTime = (events: any[]) => [...events].sort((a, b) => a.timestamp.localeCompare(b.timestamp));

/** The top-level fields of a summary event (SUMMARY_FIELDS in core/src/track/tracker.rs). */
const SUMMARY_FIELDS = ['anonymousId', 'context', 'event', 'messageId', 'properties', 'timestamp', 'type'];

test('send "summary": only stage changes and one Interests Shared per session, field by field', async ({ browser, baseURL }) => {
  for (const noise of [0, 1]) {
    const server = await site(baseURL!);
    const context = await browser.newContext({ baseURL });
    const page = await context.newPage();
    await serveConfig(page, (c) => (c.privacy = { send: 'summary', noise }));
    const errors = watchErrors(page);
    await journey(page, server.url);
    await flushed(page);
    const anon = await anonymousId(page);
    // The first page's last events leave by beacon as it unloads: flush() on
    // the second page does not wait for them.
    await expect.poll(() => storedNames(anon).length).toBe(3);
    const sent = toCollector(server.seen);
    expect(sent.every((r) => r.method === 'POST' && r.path === '/v1/batch')).toBe(true);
    const { envelopes } = batches(sent);
    const events = byTime(batches(sent).events);
    // What left the device is what the collector stored, and only this,
    // however many pages and events: the session's share (once, not again
    // at the next page) and the two stage changes.
    const payloads = sql('SELECT payload FROM events WHERE anonymous_id = ?', [anon]).map((r) => JSON.parse(r.payload as string));
    expect(byTime(payloads)).toEqual(events);
    expect(events.map((e) => e.event)).toEqual(['Interests Shared', 'Journey Stage Changed', 'Journey Stage Changed']);
    for (const keys of envelopes) expect(keys).toEqual(['batch', 'sentAt']);
    for (const e of events) {
      expect(Object.keys(e).sort()).toEqual(SUMMARY_FIELDS);
      expect(e.type).toBe('track');
      expect(e.anonymousId).toBe(anon);
      expect(Object.keys(e.context)).toEqual(['library']);
      expect(Object.keys(e.context.library).sort()).toEqual(['name', 'version']);
    }
    const [shared, toPurchase, toPostPurchase] = events;
    expect(Object.keys(shared.properties)).toEqual(['topics']);
    const topics: string[] = shared.properties.topics;
    expect(topics.length).toBe(3);
    // Without noise, the visitor's top interests (the landing page's
    // topics); with noise 1, each one replaced by one of the config's topics.
    for (const t of topics) expect(noise === 0 ? PAGE_TOPICS : CONFIG_TOPICS).toContain(t);
    if (noise === 0) expect(new Set(topics).size).toBe(3);
    for (const change of [toPurchase, toPostPurchase]) {
      expect(Object.keys(change.properties).sort()).toEqual(['from', 'reasons', 'to']);
    }
    expect([toPurchase.properties.from, toPurchase.properties.to]).toEqual(['discovery', 'purchase']);
    expect([toPostPurchase.properties.from, toPostPurchase.properties.to]).toEqual(['purchase', 'post_purchase']);
    // Storage: ids, session and profile; the queue never holds more than
    // the summaries (one may wait there, delivered by the first page's
    // beacon, until its lease ends: 30 s).
    expect(await sillageKeys(page)).toEqual(expect.arrayContaining(['sillage.anonymousId', 'sillage.session', 'sillage.profile']));
    const queued = await page.evaluate(() =>
      Object.keys(localStorage)
        .filter((k) => k.startsWith('sillage.e.'))
        .map((k) => JSON.parse(localStorage.getItem(k)!.split('|').slice(3).join('|'))),
    );
    for (const e of queued) expect(events).toContainEqual(e);
    console.log(`send "summary" (noise ${noise}): ${sent.length} requests, ${events.length} events, topics ${topics.join(', ')}`);
    expect(errors).toEqual([]);
    await context.close();
  }
});

test('send "none": no request to the collector over a whole journey', async ({ page, baseURL }) => {
  const server = await site(baseURL!);
  await serveConfig(page, (c) => (c.privacy = { send: 'none' }));
  const seen = requests(page);
  const errors = watchErrors(page);
  await journey(page, server.url);
  expect(await flush(page)).toBe(false);
  await hide(page);
  await page.waitForTimeout(QUIET_MS);
  expect(toCollector(seen)).toEqual([]);
  expect(toCollector(server.seen)).toEqual([]);
  expect(await queue(page)).toMatchObject({ tracking: 'allowed', waiting: 0 });
  // Nothing is queued; the visitor's ids, session and profile stay on the device.
  const keys = await sillageKeys(page);
  expect(queueKeys(keys)).toEqual([]);
  expect(keys).toEqual(expect.arrayContaining(['sillage.anonymousId', 'sillage.session', 'sillage.profile']));
  console.log(`send "none": ${seen.length} requests in all, 0 to the collector`);
  expect(errors).toEqual([]);
});

test('on-device only (no collector): no request beyond the page, the SDK and its config, over a whole journey', async ({ page, baseURL }) => {
  const server = await site(baseURL!);
  await serveConfig(page, (c) => delete c.collector);
  const seen = requests(page);
  const errors = watchErrors(page);
  await journey(page, server.url);
  const loaded = { browser: seen.length, server: server.seen.length };
  // More on the last page: clicks, track calls, identify, an SPA
  // navigation, the page hidden (beacon time), and waiting past the flush
  // interval.
  await page.click('#add');
  await page.click('#title');
  await track(page, 'Product Viewed', { product_id: 'kayak-1', category: 'kayak' });
  await page.evaluate(() => window['sillage'].identify('u-on-device'));
  await page.click('#spa');
  await expect.poll(() => page.evaluate(() => location.pathname)).toBe('/test/privacy/trail-shoes');
  expect(await flush(page)).toBe(false);
  await hide(page);
  await page.waitForTimeout(QUIET_MS);
  expect(seen.length).toBe(loaded.browser);
  expect(server.seen.length).toBe(loaded.server);
  // Each load fetched the page, the SDK's three files (the page has slots:
  // the build with personalization linked in) and the config (served in the
  // browser, so the server does not see it): nothing else, ever.
  const sdk = ['/sillage/sillage.js', '/sillage/sillage_full.js', '/sillage/sillage_full_bg.wasm'];
  const pages = ['/test/privacy.html', '/test/privacy.html?step=2'];
  const config = '/test/privacy.config.json';
  expect(seen.map((r) => r.path)).toEqual([pages[0], ...sdk, config, pages[1], ...sdk, config]);
  expect(server.seen.map((r) => r.path)).toEqual([pages[0], ...sdk, pages[1], ...sdk]);
  // Personalization from the device: the interest and the stage rules apply.
  await personalized(page);
  const profile = await page.evaluate(() => window['sillage'].profile());
  expect(profile.stage).toBe('purchase'); // a Product Added after the order
  await expect(slot(page, 'stage').locator('p')).toHaveText('Ready to check out?');
  expect(profile.topInterests).toContain('kayak');
  // The ids (experiments hash the anonymous id), the session and the
  // profile; no queue: there is no collector to send it to, ever.
  const keys = await sillageKeys(page);
  expect(keys).toEqual(expect.arrayContaining(['sillage.anonymousId', 'sillage.userId', 'sillage.session', 'sillage.profile']));
  expect(queueKeys(keys)).toEqual([]);
  console.log(`on-device only: ${seen.length} requests in all (2 loads x 5)`);
  expect(errors).toEqual([]);
});

async function eventsOf(request: APIRequestContext, anon: string): Promise<any[]> {
  const res = await request.get(`/v1/events?anonymousId=${anon}`, { headers: adminHeaders() });
  expect(res.status()).toBe(200);
  return (await res.json()).events;
}

test('forget(): the device is emptied, the collector erases the old id (not other visitors), the next event has a new id', async ({ page, browser, baseURL, request }) => {
  // Another visitor, whose rows must stay.
  const otherContext = await browser.newContext({ baseURL });
  const other = await otherContext.newPage();
  await other.goto('/test/privacy.html');
  await ready(other);
  await track(other, 'Other Visitor');
  await flushed(other);
  const otherAnon = await anonymousId(other);
  const otherRows = (await eventsOf(request, otherAnon)).length;
  expect(otherRows).toBeGreaterThanOrEqual(3);
  await otherContext.close();

  // The page on 127.0.0.1, its collector on localhost: a cross-origin
  // collector, so a request that is not CORS-simple would need a preflight.
  const collector = await site(baseURL!);
  await serveConfig(page, (c) => {
    c.collector.url = `${collector.url}/v1/batch`;
    c.collector.writeKey = 'wk-privacy';
  });
  const seen = requests(page);
  const errors = watchErrors(page);
  await page.goto('/test/privacy.html');
  await ready(page);
  await page.evaluate(() => window['sillage'].identify('u-forgotten'));
  await track(page, 'Before Forget');
  await flushed(page);
  const anon = await anonymousId(page);
  expect((await eventsOf(request, anon)).length).toBeGreaterThanOrEqual(4);
  expect(await sillageKeys(page)).toEqual(expect.arrayContaining(['sillage.anonymousId', 'sillage.userId', 'sillage.profile']));

  expect(await page.evaluate(() => window['sillage'].forget())).toBe(true);
  // The device holds nothing (the owed erasure, `sillage.erase`, went once
  // the collector acknowledged it) until the new visitor's first event.
  await expect.poll(() => sillageKeys(page)).toEqual([]);
  // One erasure request: a CORS-simple POST (text/plain, no preflight)
  // with {anonymousId, writeKey}, answered 202.
  const erasures = collector.seen.filter((r) => r.path === '/v1/forget');
  expect(erasures.length).toBe(1);
  expect(erasures[0].method).toBe('POST');
  expect(erasures[0].headers!['content-type']).toMatch(/^text\/plain(;charset=UTF-8)?$/i);
  expect(erasures[0].headers!.origin).toBe(new URL(baseURL!).origin);
  expect(JSON.parse(erasures[0].body)).toEqual({ anonymousId: anon, writeKey: 'wk-privacy' });
  expect(erasures[0].status).toBe(202);
  expect(collector.seen.filter((r) => r.method === 'OPTIONS')).toEqual([]);
  expect(seen.filter((r) => r.path === '/v1/forget').length).toBe(1);
  // The collector erased every row of the old id, and only those.
  expect(await eventsOf(request, anon)).toEqual([]);
  expect((await eventsOf(request, otherAnon)).length).toBe(otherRows);

  // The next event: a new anonymousId, no userId; and it is delivered.
  await track(page, 'After Forget');
  await flushed(page);
  const fresh = await anonymousId(page);
  expect(fresh).not.toBe(anon);
  expect(sql('SELECT event, user_id FROM events WHERE anonymous_id = ?', [fresh])).toEqual([{ event: 'After Forget', user_id: null }]);
  expect(await eventsOf(request, anon)).toEqual([]);
  expect(await sillageKeys(page)).not.toContain('sillage.userId');
  console.log(`forget: ${toCollector(collector.seen).length} requests to the collector (1 erasure, 0 preflights)`);
  expect(errors).toEqual([]);
});

test('forget() while the collector is down: the erasure is owed in storage and sent by the next page', async ({ page, request, baseURL }) => {
  const server = await site(baseURL!);
  const errors = watchErrors(page);
  await page.goto(`${server.url}/test/privacy.html`);
  await ready(page);
  await track(page, 'Owed Erasure');
  await flushed(page);
  const anon = await anonymousId(page);
  const rows = (await eventsOf(request, anon)).length;
  expect(rows).toBeGreaterThanOrEqual(3);
  server.down = '/v1/forget';
  const erasures = () => server.seen.filter((r) => r.path === '/v1/forget');
  // It resolves once the request was answered, erased or not.
  expect(await page.evaluate(() => window['sillage'].forget())).toBe(true);
  expect(erasures().map((r) => r.status)).toEqual([503]);
  // The one thing kept: the id still owed an erasure.
  expect(await sillageKeys(page)).toEqual(['sillage.erase']);
  expect(await page.evaluate(() => localStorage.getItem('sillage.erase'))).toBe(anon);
  expect((await eventsOf(request, anon)).length).toBe(rows);
  // The next page (the collector is back) sends it, then forgets the debt.
  server.down = null;
  await page.reload();
  await ready(page);
  await expect.poll(() => erasures().map((r) => r.status)).toEqual([503, 202]);
  expect(JSON.parse(erasures()[1].body)).toEqual({ anonymousId: anon });
  await expect.poll(() => sillageKeys(page)).not.toContain('sillage.erase');
  expect(await eventsOf(request, anon)).toEqual([]);
  // That page's view is the new visitor's.
  expect(await anonymousId(page)).not.toBe(anon);
  expect(errors).toEqual([]);
});

// Another open tab of the same visitor hears that forget() ran (the
// `sillage.forget` key, written and deleted at once): it forgets them too, so
// it neither sends under the old id nor writes the old profile back.
test('forget() in one tab while another is open: the other tab does not bring the old visitor back', async ({ context, request, baseURL }) => {
  const server = await site(baseURL!);
  const a = await context.newPage();
  const b = await context.newPage();
  await a.goto(`${server.url}/test/privacy.html`);
  await ready(a);
  const anon = await anonymousId(a);
  await b.goto(`${server.url}/test/privacy.html`);
  await ready(b);
  await flushed(a);
  await flushed(b);
  expect((await eventsOf(request, anon)).length).toBeGreaterThan(0);
  expect(await a.evaluate(() => window['sillage'].forget())).toBe(true);
  await expect.poll(() => sillageKeys(a)).toEqual([]);
  expect(await eventsOf(request, anon)).toEqual([]);
  await track(b, 'Other Tab After Forget');
  await flushed(b);
  const row = sql("SELECT anonymous_id FROM events WHERE event = 'Other Tab After Forget' ORDER BY rowid DESC LIMIT 1")[0];
  expect(row.anonymous_id).not.toBe(anon);
  expect(await eventsOf(request, anon)).toEqual([]);
});

test('the collector answers an erasure with 202, for an unknown id too', async ({ request }) => {
  const res = await request.post('/v1/forget', {
    headers: { 'Content-Type': 'text/plain' },
    data: JSON.stringify({ anonymousId: randomUUID() }),
  });
  expect(res.status()).toBe(202);
  expect(await res.json()).toEqual({ ok: true });
});
