// Wire compatibility with Segment (issue 15): the same calls made on Sillage
// and on Segment's own browser SDK (@segment/analytics-next, from the npm
// package pinned in tests/bench/peers/, served from this origin), in the same
// page URL, their request bodies captured with page.route and compared field
// by field. Every difference must be in EXPECTED below, each either
// documented in the README ("Wire compatibility with Segment") or to be
// fixed in the SDK; an expected difference that is no longer seen fails too,
// so the table stays exact (flip or remove an entry when the SDK changes).
import { type Page, type Request } from '@playwright/test';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, diagnosticLine } from './helpers';

const SEGMENT_UMD = join(__dirname, '../bench/peers/node_modules/@segment/analytics-next/dist/umd');
const WRITE_KEY = 'wire-write-key';
/** One URL for both SDKs, with campaign tags, so page and campaign context can be compared. */
const PAGE = '/wire/compat.html?utm_source=newsletter&utm_medium=email&utm_campaign=spring';
const TITLE = 'Wire compatibility';
const PRODUCT = { product_id: 'SKU-42', name: 'Trail shoe', price: 129.5, currency: 'EUR', quantity: 1, category: 'running' };
const TRAITS = { email: 'ada@example.com', plan: 'pro', logins: 3 };

type Status = 'documented' | 'to fix';
type Where = 'page' | 'track' | 'identify' | 'envelope' | 'headers' | 'limits';
type Kind = 'segment only' | 'sillage only' | 'value';
interface Expected {
  /** A dotted path; a trailing `.*` matches everything under it. */
  path: string;
  where: Where[];
  kind: Kind;
  status: Status;
  /** Why (the README says the same). */
  why: string;
}

const EVENTS: Where[] = ['page', 'track', 'identify'];

/**
 * The differences between Sillage's batch and Segment's, as they are today.
 * "documented": a deliberate choice, explained in the README. "to fix": the
 * SDK should change; the lead flips the entry to nothing (remove it) once
 * the SDK sends what Segment sends.
 */
const EXPECTED: Expected[] = [
  {
    path: 'messageId',
    where: EVENTS,
    kind: 'value',
    status: 'documented',
    why: 'both are unique strings; Segment\'s is "ajs-next-<epoch ms>-<uuid>", Sillage\'s a UUID v4. Pipelines deduplicate on the string whatever its form',
  },
  {
    path: 'context.library.name',
    where: EVENTS,
    kind: 'value',
    status: 'documented',
    why: 'names the sending library: "analytics.js" for Segment, "sillage" for Sillage',
  },
  {
    path: 'context.library.version',
    where: EVENTS,
    kind: 'value',
    status: 'documented',
    why: "the library's own version",
  },
  {
    path: 'userId',
    where: ['page', 'track'],
    kind: 'segment only',
    status: 'documented',
    why:
      'Segment sets userId when it sends an event, not when it was recorded: batched, the page() and track() made before identify("u1") leave with "userId": "u1" (unbatched, with null). Sillage gives an event the user id known when it was recorded: none before identify(). Both always send anonymousId, which the Spec accepts alone',
  },
  {
    path: 'integrations',
    where: EVENTS,
    kind: 'segment only',
    status: 'documented',
    why: 'Segment always sends an empty "integrations" object (destination switches); it is optional in the Spec and Sillage has no per-call options',
  },
  {
    path: '_metadata.*',
    where: EVENTS,
    kind: 'segment only',
    status: 'documented',
    why: "Segment's internal bundling metadata (bundled/unbundled destinations), read only by Segment",
  },
  {
    path: 'context.userAgent',
    where: EVENTS,
    kind: 'segment only',
    status: 'documented',
    why: 'Sillage never sends the user-agent string (a fingerprinting surface); it sends a coarse device class in context.sillage.device. Destinations that derive browser and OS from context.userAgent get none',
  },
  {
    path: 'context.userAgentData.*',
    where: EVENTS,
    kind: 'segment only',
    status: 'documented',
    why: 'the same choice for the client hints (brands, platform, mobile)',
  },
  {
    path: 'writeKey',
    where: EVENTS,
    kind: 'segment only',
    status: 'documented',
    why: "Segment repeats the writeKey inside every event of a batch; Sillage puts it once, at the batch's top level, where Segment's batch API reads it",
  },
  {
    path: 'context.locale',
    where: EVENTS,
    kind: 'segment only',
    status: 'documented',
    why: 'not read: with the IP address, the language narrows down who the visitor is (a fingerprinting input PRIVACY.md promises not to read); a site that wants it passes it as a property',
  },
  {
    path: 'context.timezone',
    where: EVENTS,
    kind: 'segment only',
    status: 'documented',
    why: 'not read, for the same reason as the locale',
  },
  {
    path: 'context.sillage.*',
    where: EVENTS,
    kind: 'sillage only',
    status: 'documented',
    why: "Sillage's own context (device class, session, touchpoint, topics); pipelines keep unknown context keys",
  },
  {
    path: 'authorization',
    where: ['headers'],
    kind: 'segment only',
    status: 'documented',
    why: 'Segment sends the writeKey in the body and as "Authorization: Basic base64(writeKey:)"; Sillage only in the body (a header costs a CORS preflight and cannot go with sendBeacon). Segment accepts either; for RudderStack, the reference collector as a relay adds the header',
  },
  {
    path: 'content-type',
    where: ['headers'],
    kind: 'value',
    status: 'documented',
    why: 'both send text/plain (a CORS-simple request that sendBeacon can carry); Sillage adds ";charset=UTF-8"',
  },
];

/** A value's form, for values that differ on every run (ids, times). */
function shape(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(v)) return '<ISO 8601 UTC, ms>';
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(v)) return '<UUID v4>';
  if (/^ajs-next-\d+-[0-9a-f-]{36}$/.test(v)) return '<ajs-next id>';
  return v;
}

/** Leaves of a JSON value by dotted path (arrays and empty objects are leaves). */
function flatten(v: unknown, prefix = '', out: Map<string, unknown> = new Map()): Map<string, unknown> {
  if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.set(prefix, v);
  }
  return out;
}

interface Difference {
  where: Where;
  path: string;
  kind: Kind;
  segment: unknown;
  sillage: unknown;
}

function compare(where: Where, segment: unknown, sillage: unknown): Difference[] {
  const a = flatten(segment);
  const b = flatten(sillage);
  const diffs: Difference[] = [];
  for (const path of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(path);
    const y = b.get(path);
    if (!a.has(path)) diffs.push({ where, path, kind: 'sillage only', segment: undefined, sillage: y });
    else if (!b.has(path)) diffs.push({ where, path, kind: 'segment only', segment: x, sillage: undefined });
    else if (JSON.stringify(shape(x)) !== JSON.stringify(shape(y))) diffs.push({ where, path, kind: 'value', segment: x, sillage: y });
  }
  return diffs;
}

const matches = (e: Expected, d: Difference) =>
  e.where.includes(d.where) &&
  e.kind === d.kind &&
  (e.path === d.path || (e.path.endsWith('.*') && d.path.startsWith(e.path.slice(0, -1))));

interface Captured {
  url: string;
  headers: Record<string, string>;
  body: any;
  bytes: number;
}

/** Serves `html` at PAGE and records every request under /wire/v1/ (answered 200). */
async function capture(page: Page, html: string): Promise<Captured[]> {
  const seen: Captured[] = [];
  await page.route('**/wire/compat.html*', (route) => route.fulfill({ contentType: 'text/html', body: html }));
  await page.route('**/peers/segment/**', (route) => {
    const file = join(SEGMENT_UMD, new URL(route.request().url()).pathname.split('/').pop()!);
    return existsSync(file)
      ? route.fulfill({ contentType: 'text/javascript', body: readFileSync(file) })
      : route.fulfill({ status: 404, body: 'not found' });
  });
  await page.route('**/wire/v1/**', async (route) => {
    const r: Request = route.request();
    const text = r.postData() ?? '';
    seen.push({ url: new URL(r.url()).pathname, headers: await r.allHeaders(), body: JSON.parse(text), bytes: Buffer.byteLength(text) });
    await route.fulfill({ status: 200, contentType: 'application/json', body: '{}' });
  });
  return seen;
}

const HEAD = `<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>${TITLE}</title>`;

/** Sillage sends nothing but the calls made here (no automatic capture, no stage events). */
function sillageHtml(extra: object = {}) {
  const config = {
    version: 1,
    collector: { url: '/wire/v1/batch', writeKey: WRITE_KEY, batch: { flushMs: 60000 } },
    capture: { pageviews: false, engagement: false, clicks: false },
    privacy: { stageEvents: false },
    ...extra,
  };
  return `${HEAD}<script type="application/json" id="sillage-config">${JSON.stringify(config)}</script>
<script async src="/sillage/sillage.js"></script></head><body><h1>${TITLE}</h1></body></html>`;
}

/** Segment as its npm package runs it: settings inline (no CDN), batching so that one request holds the three calls. */
const segmentHtml = `${HEAD}<script>
function __init() {
  window.ab = AnalyticsNext.AnalyticsBrowser.load({
    writeKey: '${WRITE_KEY}',
    cdnURL: location.origin + '/peers/segment',
    cdnSettings: { integrations: { 'Segment.io': {
      apiKey: '${WRITE_KEY}', apiHost: location.host + '/wire/v1', protocol: 'http',
      deliveryStrategy: { strategy: 'batching', config: { size: 3, timeout: 60000 } } } } },
  });
}
</script><script async src="/peers/segment/index.js" onload="__init()"></script></head><body><h1>${TITLE}</h1></body></html>`;

test.beforeAll(() => {
  expect(existsSync(join(SEGMENT_UMD, 'index.js')), 'analytics-next is installed by `cargo xtask e2e` (npm ci --prefix tests/bench/peers)').toBe(true);
});

test('Sillage\'s batch differs from Segment\'s only as the table of expected differences says', async ({ browser }) => {
  // The same calls on each, in its own browser context; each sends one batch
  // (Segment: batching with size 3; Sillage: flush()).
  const calls = async (html: string, ready: (p: Page) => Promise<unknown>, global: string) => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const sent = await capture(page, html);
    await page.goto(PAGE);
    await ready(page);
    await page.evaluate(
      ([g, product, traits]) => {
        const sdk = window[g as string];
        sdk.page();
        sdk.track('Product Added', product);
        sdk.identify('u1', traits);
        return g === 'sillage' ? sdk.flush() : undefined;
      },
      [global, PRODUCT, TRAITS] as const,
    );
    await expect.poll(() => sent.length, { timeout: 10_000 }).toBe(1);
    await ctx.close();
    return sent;
  };
  const seg = await calls(segmentHtml, (p) => p.waitForFunction(() => window['ab'] && window['ab'].instance), 'ab');
  const sil = await calls(sillageHtml(), (p) => p.evaluate(() => new Promise((r) => window['sillage'].ready(r))), 'sillage');

  // Both post one batch to the batch endpoint (Segment's short form /b, which
  // Segment and the reference collector accept as well as /batch).
  expect(seg[0].url).toBe('/wire/v1/b');
  expect(sil[0].url).toBe('/wire/v1/batch');
  const segBatch = seg[0].body.batch;
  const silBatch = sil[0].body.batch;
  expect(segBatch.map((e: any) => e.type)).toEqual(['page', 'track', 'identify']);
  expect(silBatch.map((e: any) => e.type)).toEqual(['page', 'track', 'identify']);

  const diffs: Difference[] = [];
  const envelope = (b: any) => ({ ...b, batch: `<${b.batch.length} events>` });
  diffs.push(...compare('envelope', envelope(seg[0].body), envelope(sil[0].body)));
  const headers = (h: Record<string, string>) => ({
    'content-type': h['content-type'],
    ...(h['authorization'] ? { authorization: h['authorization'] } : {}),
  });
  diffs.push(...compare('headers', headers(seg[0].headers), headers(sil[0].headers)));
  for (let i = 0; i < 3; i++) diffs.push(...compare(segBatch[i].type, segBatch[i], silBatch[i]));

  // What must be identical, said outright (the comparison covers it too).
  for (let i = 0; i < 3; i++) {
    for (const key of ['type', 'anonymousId', 'timestamp', 'context.page.url', 'context.page.path', 'context.page.title', 'context.campaign.name']) {
      const get = (e: any) => key.split('.').reduce((o, k) => o?.[k], e);
      expect(shape(get(silBatch[i])), `${segBatch[i].type}.${key}`).toEqual(shape(get(segBatch[i])));
    }
  }
  expect(silBatch[1].event).toBe('Product Added');
  expect(silBatch[1].properties).toEqual(segBatch[1].properties);
  expect(silBatch[2].userId).toBe('u1');
  expect(silBatch[2].traits).toEqual(segBatch[2].traits);
  expect(sil[0].body.writeKey).toBe(WRITE_KEY);
  expect(sil[0].body.sentAt).toMatch(/Z$/);

  diffs.push(...(await sillageLimits(browser)));
  const unexpected = diffs.filter((d) => !EXPECTED.some((e) => matches(e, d)));
  const stale = EXPECTED.filter((e) => !diffs.some((d) => matches(e, d)));
  const table = diffs.map((d) => `${d.where} ${d.path} [${d.kind}] segment=${JSON.stringify(d.segment)} sillage=${JSON.stringify(d.sillage)}`);
  test.info().annotations.push({ type: 'differences', description: table.join('\n') });
  console.log(`wire differences with Segment:\n  ${table.join('\n  ')}`);
  expect(unexpected, `differences not in EXPECTED:\n${unexpected.map((d) => JSON.stringify(d)).join('\n')}`).toEqual([]);
  expect(
    stale.map((e) => `${e.where.join('/')} ${e.path} [${e.kind}]`),
    'expected differences no longer seen: remove them from EXPECTED (and from the README)',
  ).toEqual([]);
});

/**
 * Segment's limits (its HTTP API docs): 32 KB per event, 500 KB per batch
 * request. Sillage: `collector.batch.maxBytes` (at most 60,000) caps a
 * request, so every batch is far under 500 KB; an event over 32 KB is
 * refused at the call with a warning (it would make Segment refuse its whole
 * batch).
 */
async function sillageLimits(browser: import('@playwright/test').Browser): Promise<Difference[]> {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const sent = await capture(page, sillageHtml());
  await page.goto(PAGE);
  await page.evaluate(() => new Promise((r) => window['sillage'].ready(r)));
  // 150 events of about 1.5 KB (225 KB in all), then one of about 40 KB
  // (40 properties of 1,000 characters: strings are cut at 1,000, so this is
  // how a large event is made).
  const warnings: string[] = [];
  page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
  await page.evaluate(() => {
    const s = window['sillage'];
    for (let i = 0; i < 150; i++) s.track('Product Viewed', { product_id: 'SKU-' + i, description: 'x'.repeat(1400) });
    const big: Record<string, string> = {};
    for (let i = 0; i < 40; i++) big['field_' + i] = 'y'.repeat(1000);
    s.track('Big Event', big);
    return s.flush();
  });
  // The 150 arrive; the big one was refused, with a warning that says why.
  await expect
    .poll(() => sent.reduce((n, c) => n + c.body.batch.length, 0), { timeout: 20_000 })
    .toBe(150);
  const tooBig = diagnosticLine('the event is {} bytes of JSON; pipelines refuse events over 32 KB');
  expect(warnings.filter((w) => tooBig.test(w) && w.includes('track: '))).toHaveLength(1);
  await ctx.close();
  const biggest = Math.max(...sent.map((c) => c.bytes));
  // Every request is within Sillage's own 60,000-byte cap, so within Segment's 500 KB.
  expect(biggest).toBeLessThanOrEqual(60_000);
  expect(sent.length).toBeGreaterThan(3);
  const diffs: Difference[] = [];
  const eventBytes = Math.max(...sent.flatMap((c) => c.body.batch.map((e: any) => Buffer.byteLength(JSON.stringify(e)))));
  if (eventBytes > 32 * 1024) {
    diffs.push({ where: 'limits', path: 'eventBytes', kind: 'value', segment: 32 * 1024, sillage: eventBytes });
  }
  return diffs;
}
