// Delivery that loses nothing, in Chromium against the real collector with
// fault injection (`--faults`): outages, offline, unload, many tabs, blocked
// storage, Retry-After.
import { test, expect, anonymousId, fault, sdkReady as ready, sql, stats, storedRows, track, watchErrors } from './helpers';

function countDistinct(anon: string) {
  return sql('SELECT count(DISTINCT message_id) AS n, count(*) AS rows FROM events WHERE anonymous_id = ?', [anon])[0];
}

test.afterEach(async ({ request }) => {
  await fault(request, null);
});

test('a 10 s outage: 101 events stored exactly once with at most 6 requests', async ({ page, request }) => {
  test.setTimeout(60_000);
  // The backoff's jitter comes from Math.random; pin it so the request count is
  // deterministic (the jitter itself is covered by the native tests).
  await page.addInitScript(() => { Math.random = () => 0.75; });
  await fault(request, { status: 503, forMs: 10_000 });
  const before = await stats(request);
  const errors = watchErrors(page);
  await page.goto('/test/delivery.html');
  await ready(page);
  const anon = await anonymousId(page);
  await track(page, 101, 'Outage');
  const rows = await storedRows(anon, 102, 30_000); // the page view + 101
  expect(new Set(rows.map((r) => r.message_id)).size).toBe(102);
  const after = await stats(request);
  const requests = after.requests - before.requests;
  console.log(`outage: ${requests} requests for 102 events (${after.faulted - before.faulted} refused by the outage)`);
  expect(requests).toBeLessThanOrEqual(6);
  expect(after.duplicates - before.duplicates).toBe(0);
  expect(errors).toEqual([]);
});

test('offline, track, close the tab, reopen online: all delivered', async ({ context }) => {
  const anchor = await context.newPage(); // keeps the browser context open meanwhile
  const page = await context.newPage();
  await page.goto('/test/delivery.html');
  await ready(page);
  const anon = await anonymousId(page);
  await storedRows(anon, 1); // the page view went out while online
  await context.setOffline(true);
  await track(page, 5, 'Offline');
  const closed = page.waitForEvent('close');
  await page.close({ runBeforeUnload: true }); // runs pagehide, as closing a tab does
  await closed;
  await context.setOffline(false);
  const again = await context.newPage();
  await again.goto('/test/delivery.html');
  // 1 + 5 + the second page view, each exactly once.
  const rows = await storedRows(anon, 7, 15_000);
  expect(rows.filter((r) => String(r.event).startsWith('Offline')).length).toBe(5);
  await anchor.close();
});

test('track then navigate away at once: delivered by the beacon', async ({ page }) => {
  await page.goto('/test/delivery.html');
  await ready(page);
  const anon = await anonymousId(page);
  await page.evaluate(() => window['sillage'].track('Leaving Now'));
  await page.goto('about:blank');
  // No page with the SDK is open any more, so nothing can send the event
  // again: if it arrives, the beacon (or its keepalive fallback) took it.
  await expect
    .poll(() => sql("SELECT count(*) AS n FROM events WHERE anonymous_id = ? AND event = 'Leaving Now'", [anon])[0].n, {
      timeout: 15_000,
    })
    .toBe(1);
});

test('two tabs tracking at once: no loss, no duplicate row, no event in two requests', async ({ context, request }) => {
  test.setTimeout(60_000);
  const before = await stats(request);
  const a = await context.newPage();
  const b = await context.newPage();
  // A returning visitor: the first tab has stored the anonymousId before the
  // second opens. (Two tabs of a brand-new visitor booting in the same
  // milliseconds may each record their first page view under their own id
  // before converging on the stored one; see the closing note of issue 4.)
  await a.goto('/test/delivery.html');
  await ready(a);
  await anonymousId(a);
  await b.goto('/test/delivery.html');
  await ready(b);
  const anon = await anonymousId(a);
  expect(await anonymousId(b)).toBe(anon);
  for (let round = 0; round < 5; round++) {
    await Promise.all([track(a, 10, `A${round}`), track(b, 10, `B${round}`)]);
    await a.waitForTimeout(100);
  }
  const rows = await storedRows(anon, 102, 30_000); // 2 page views + 100
  expect(countDistinct(anon)).toEqual({ n: 102, rows: 102 });
  expect(rows.filter((r) => String(r.event).startsWith('B')).length).toBe(50);
  const after = await stats(request);
  expect(after.duplicates - before.duplicates).toBe(0);
});

test("a closed tab's unsent events are sent by another open tab", async ({ context }) => {
  const a = await context.newPage();
  await a.goto('/test/delivery.html');
  await ready(a);
  const anon = await anonymousId(a);
  const b = await context.newPage();
  await b.goto('/test/delivery.html');
  await ready(b);
  await storedRows(anon, 2); // both page views
  // The sender (the first tab) goes offline with events pending, and closes:
  // nothing can leave it. The other tab takes over when the device is back.
  await context.setOffline(true);
  await track(a, 3, 'Orphaned');
  const closed = a.waitForEvent('close');
  await a.close({ runBeforeUnload: true });
  await closed;
  await context.setOffline(false);
  const rows = await storedRows(anon, 5, 15_000);
  expect(rows.filter((r) => String(r.event).startsWith('Orphaned')).length).toBe(3);
});

test('storage blocked: events still delivered from memory, the page works', async ({ page }) => {
  await page.addInitScript(() => {
    Object.defineProperty(window, 'localStorage', {
      get() {
        throw new DOMException('The operation is insecure.', 'SecurityError');
      },
    });
  });
  const errors = watchErrors(page);
  const warnings: string[] = [];
  page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
  await page.goto('/test/delivery.html');
  await ready(page);
  await page.evaluate(() => window['sillage'].track('From Memory', { ok: true }));
  expect(await page.evaluate(() => window['sillage'].flush())).toBe(true);
  const rows = sql("SELECT payload FROM events WHERE event = 'From Memory' ORDER BY rowid DESC LIMIT 1");
  const ev = JSON.parse(rows[0].payload as string);
  expect(ev.context.sillage.storage).toBe('memory');
  expect(warnings.filter((w) => w.includes('localStorage is unavailable')).length).toBe(1);
  await expect(page.locator('#title')).toHaveText('Delivery');
  expect(errors).toEqual([]);
});

test('429 with Retry-After: 3 is honoured', async ({ page, request }) => {
  const posts: { at: number; status: number }[] = [];
  page.on('response', (r) => {
    if (r.request().method() === 'POST' && r.url().endsWith('/v1/batch')) {
      const events: string[] = JSON.parse(r.request().postData() || '{}').batch?.map((e) => e.event || e.type) ?? [];
      if (events.includes('Rate Limited')) posts.push({ at: Date.now(), status: r.status() });
    }
  });
  await page.goto('/test/delivery.html');
  await ready(page);
  const anon = await anonymousId(page);
  await storedRows(anon, 1);
  // The next batch request is refused once, whenever it comes: the test
  // counts requests, it does not race a time window.
  await fault(request, { status: 429, retryAfter: '3', requests: 1 });
  await page.evaluate(() => window['sillage'].track('Rate Limited'));
  await page.evaluate(() => window['sillage'].flush());
  await expect
    .poll(() => sql("SELECT count(*) AS n FROM events WHERE anonymous_id = ? AND event = 'Rate Limited'", [anon])[0].n, {
      timeout: 15_000,
    })
    .toBe(1);
  // The row can be in SQLite before Playwright has seen the answer: wait for it.
  await expect.poll(() => posts.length).toBe(2);
  expect(posts.map((p) => p.status)).toEqual([429, 200]);
  // Retry-After is a floor: the retry never comes sooner (a loaded machine
  // only makes it later, so there is no ceiling to race).
  expect(posts[1].at - posts[0].at).toBeGreaterThanOrEqual(2_900);
});
