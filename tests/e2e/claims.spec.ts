// README promises that each need the real browser, the real loader and a
// real network: batches that need no CORS preflight, the beacon's fallback,
// a page that keeps working without WebAssembly or with a config that is not
// JSON, and holdout visitors. (ARCHITECTURE.md, "Claims and their tests",
// maps every promise to its test.)
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, expect, anonymousId, consoleOf, decided, flushed, sql, storedRows, tracked, watchErrors } from './helpers';

interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A collector on another origin that records every request, preflights included, and allows any origin. */
async function recordingCollector(): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method!, path: req.url!, headers: req.headers, body });
      res.writeHead(req.method === 'OPTIONS' ? 204 : 200, {
        'Access-Control-Allow-Origin': '*',
        'Access-Control-Allow-Methods': 'POST',
        'Access-Control-Allow-Headers': 'content-type',
        'Content-Type': 'application/json',
      });
      res.end(req.method === 'OPTIONS' ? '' : '{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  // `localhost` while the page is on 127.0.0.1: another origin.
  return { url: `http://localhost:${port}/v1/batch`, seen, close: () => new Promise((r) => server.close(() => r())) };
}

/** Makes the page hidden, as switching tabs or closing it does, without unloading it. */
async function hide(page: import('@playwright/test').Page) {
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
    Object.defineProperty(document, 'hidden', { value: true, configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
}

test('batches and beacons are text/plain: a cross-origin collector gets no CORS preflight', async ({ page }) => {
  const collector = await recordingCollector();
  try {
    await page.route('**/test/delivery.config.json', (route) =>
      route.fulfill({ json: { version: 1, collector: { url: collector.url }, capture: { engagement: false } } }),
    );
    const errors = watchErrors(page);
    await page.goto('/test/delivery.html');
    await page.evaluate(() => window['sillage'].track('Cross Origin', { n: 1 }));
    await flushed(page);
    // And what is left when the page is hidden leaves by beacon.
    await page.evaluate(() => window['sillage'].track('Beaconed', { n: 2 }));
    await hide(page);
    await expect.poll(() => collector.seen.filter((s) => s.body.includes('Beaconed')).length).toBe(1);
    const posts = collector.seen.filter((s) => s.method === 'POST');
    expect(posts.length).toBeGreaterThanOrEqual(2);
    for (const p of posts) {
      expect(p.path).toBe('/v1/batch');
      expect(p.headers['content-type']).toMatch(/^text\/plain(;charset=UTF-8)?$/i);
      expect(JSON.parse(p.body).batch.length).toBeGreaterThan(0);
    }
    // A non-simple request would have been preceded by an OPTIONS preflight.
    expect(collector.seen.filter((s) => s.method === 'OPTIONS')).toEqual([]);
    expect(errors).toEqual([]);
  } finally {
    await collector.close();
  }
});

test('a refused beacon falls back to fetch with keepalive', async ({ page }) => {
  await page.addInitScript(() => {
    const w = window as any;
    w.__beacons = 0;
    navigator.sendBeacon = () => {
      w.__beacons++;
      return false; // over the browser's quota, say
    };
    w.__fetches = [];
    const fetch = window.fetch;
    window.fetch = function (input: RequestInfo | URL, init?: RequestInit) {
      w.__fetches.push({ url: String(input), keepalive: !!init?.keepalive, body: String(init?.body ?? '') });
      return fetch.call(this, input, init);
    };
  });
  await page.goto('/test/delivery.html');
  await page.evaluate(() => new Promise((r) => window['sillage'].ready(r)));
  const anon = await anonymousId(page);
  await page.evaluate(() => window['sillage'].track('After Refusal'));
  await hide(page);
  const calls = await page.evaluate(() => ({ beacons: window['__beacons'], fetches: window['__fetches'] }));
  expect(calls.beacons).toBeGreaterThan(0);
  const fallback = calls.fetches.filter((f) => f.body.includes('After Refusal'));
  expect(fallback.length).toBe(1);
  expect(fallback[0].keepalive).toBe(true);
  expect(fallback[0].url).toMatch(/\/v1\/batch$/);
  await expect
    .poll(() => sql("SELECT count(*) AS n FROM events WHERE anonymous_id = ? AND event = 'After Refusal'", [anon])[0].n)
    .toBe(1);
});

test('the one-line stub takes every method before the SDK loads; those that return a value return Promises', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/test/host.html');
  // Every documented method exists on the stub (no TypeError for any).
  const early = await page.evaluate(async () => {
    const e = window['__early'];
    const [profile, debug, flushed] = await Promise.all([e.profile, e.debug, e.flush]);
    return { stage: profile && profile.stage, queue: debug && debug.queue, flushed };
  });
  expect(early.stage).toMatch(/^(discovery|consideration|purchase|post_purchase|loyalty)$/);
  expect(early.queue).toBeTruthy();
  expect(early.flushed).toBe(true);
  const anon = await anonymousId(page);
  expect(sql("SELECT count(*) AS n FROM events WHERE anonymous_id = ? AND event = 'Host Loaded'", [anon])[0].n).toBe(1);
  // And once loaded, every documented method is there.
  const missing = await page.evaluate(() =>
    'track page identify group alias reset consent attributes interest on ready flush forget profile debug'
      .split(' ')
      .filter((m) => typeof window['sillage'][m] !== 'function'),
  );
  expect(missing).toEqual([]);
  expect(errors).toEqual([]);
});

/** The page's own behaviour works: its listener counts, its input keeps what was typed. */
async function pageStillWorks(page: import('@playwright/test').Page) {
  await page.click('#count');
  await page.click('#count');
  await expect(page.locator('#count')).toHaveText('2');
  await page.fill('#name', 'Ada');
  await expect(page.locator('#name')).toHaveValue('Ada');
  await expect(page.locator('#title')).toBeVisible();
}

test('without WebAssembly the page keeps working and the console says why', async ({ page }) => {
  await page.addInitScript(() => {
    delete (window as any).WebAssembly;
  });
  const errors = watchErrors(page);
  const warnings = consoleOf(page, 'warning');
  await page.goto('/test/host.html');
  await expect.poll(() => warnings.join('\n')).toContain('sillage: could not start; the page keeps working without it');
  await pageStillWorks(page);
  // The stub still takes calls without throwing.
  await page.evaluate(() => {
    window['sillage'].track('Still Fine', { ok: true });
    window['sillage'].identify('u1');
  });
  expect(errors).toEqual([]);
});

test('an inline config that is not JSON is reported and the page keeps working', async ({ page }) => {
  const errors = watchErrors(page);
  const warnings = consoleOf(page, 'warning');
  await page.goto('/test/host-bad-json.html');
  await expect.poll(() => warnings.join('\n')).toContain('sillage: inline #sillage-config is not valid JSON');
  await pageStillWorks(page);
  // No usable config: the events stay on the device and flush() says so.
  expect(await page.evaluate(() => window['sillage'].flush())).toBe(false);
  const kept = await page.evaluate(() =>
    Object.keys(localStorage)
      .filter((k) => k.startsWith('sillage.e.'))
      .map((k) => localStorage.getItem(k)!)
      .filter((v) => v.includes('Counted')).length,
  );
  expect(kept).toBe(2);
  expect(errors).toEqual([]);
});

/** GrowthBook's hash v2, as the SDK computes it: FNV-1a 32 of the decimal FNV-1a 32 of seed + value. */
function hashV2(seed: string, value: string): number {
  const fnv = (s: string) => {
    let h = 0x811c9dc5;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
    return h >>> 0;
  };
  return (fnv(String(fnv(seed + value))) % 10000) / 10000;
}

/**
 * The first test anonymousId bucketed into the second variation of a
 * two-variation experiment `key` (hash ≥ 0.5), in (or out of) its default
 * 5% holdout: without the holdout it would see the variation's content.
 */
function visitor(key: string, inHoldout: boolean): string {
  for (let i = 0; ; i++) {
    const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    if (hashV2(key, id) >= 0.5 && hashV2(`holdout:${key}`, id) < 0.05 === inHoldout) return id;
  }
}

test('holdout visitors see the default and their exposure carries in_holdout: true', async ({ browser, baseURL }) => {
  for (const inHoldout of [true, false]) {
    const context = await browser.newContext({ baseURL });
    const page = await context.newPage();
    const id = visitor('holdout-demo', inHoldout);
    await page.addInitScript((id) => localStorage.setItem('sillage.anonymousId', id), id);
    const errors = watchErrors(page);
    await page.goto('/test/holdout.html');
    await decided(page);
    expect(await anonymousId(page)).toBe(id);
    const cta = page.locator('[data-sillage-slot=cta]');
    await expect(cta).toHaveAttribute('data-sillage-ready', '');
    await flushed(page);
    const viewed = tracked(id, 'Experiment Viewed');
    expect(viewed.length).toBe(1);
    expect(viewed[0].experiment_id).toBe('holdout-demo');
    expect(viewed[0].in_holdout).toBe(inHoldout);
    // Both are bucketed into "bold"; only the one outside the holdout sees it.
    expect(viewed[0].variation_id).toBe('bold');
    await expect(cta).toHaveAttribute('data-sillage-applied', 'cta-test');
    await expect(cta.locator('a')).toHaveText(inHoldout ? 'Browse' : 'Shop now');
    expect(errors).toEqual([]);
    await context.close();
  }
});
