// collector.compress: "gzip": batch bodies leave gzipped (CompressionStream),
// the encoding named in the URL (?ce=gzip) so the request stays CORS-simple,
// and the collector stores every event once.
import { gunzipSync } from 'node:zlib';
import { test, expect, anonymousId, sdkReady, storedRows, watchErrors } from './helpers';

test('gzip batches: every event stored once, the body a fraction of its plain size', async ({ page }) => {
  const errors = watchErrors(page);
  const sent: { url: URL; type: string | undefined; bytes: number; plain: number; events: number }[] = [];
  const unreadable: string[] = [];
  page.context().on('request', (r) => {
    const url = new URL(r.url());
    if (url.pathname !== '/v1/batch') return;
    const body = r.postDataBuffer();
    if (!body) return void unreadable.push(r.url());
    const plain = url.searchParams.get('ce') === 'gzip' ? gunzipSync(body) : body;
    const events = JSON.parse(plain.toString('utf8')).batch.length;
    sent.push({ url, type: r.headers()['content-type'], bytes: body.length, plain: plain.length, events });
  });
  await page.goto('/test/compress.html');
  await sdkReady(page);
  const anon = await anonymousId(page);
  await page.evaluate(() => {
    for (let i = 0; i < 100; i++) {
      window['sillage'].track('Product Viewed', {
        product_id: `SKU-${1000 + i}`,
        name: `Trail runner ${i}`,
        category: 'running',
        price: 129,
        currency: 'EUR',
      });
    }
  });
  expect(await page.evaluate(() => window['sillage'].flush())).toBe(true);
  // The page view, the 100 events, and the stage change they cause.
  const rows = await storedRows(anon, 102);
  expect(rows.filter((r) => r.event === 'Product Viewed')).toHaveLength(100);
  expect(rows.filter((r) => r.type === 'page')).toHaveLength(1);
  expect(rows.filter((r) => r.event === 'Journey Stage Changed')).toHaveLength(1);

  expect(unreadable, 'batch bodies the test could not read').toEqual([]);
  expect(sent.length).toBeGreaterThan(0);
  for (const s of sent) {
    expect(s.url.searchParams.get('ce'), 'every batch request names its encoding').toBe('gzip');
    // A CORS-simple request: no content type, or text/plain.
    expect([undefined, 'text/plain', 'text/plain;charset=UTF-8']).toContain(s.type);
  }
  const events = sent.reduce((a, s) => a + s.events, 0);
  const bytes = sent.reduce((a, s) => a + s.bytes, 0);
  const plain = sent.reduce((a, s) => a + s.plain, 0);
  console.log(
    `gzip: ${sent.length} requests, ${events} events, ${Math.round(bytes / events)} bytes per event on the wire ` +
      `(${Math.round(plain / events)} uncompressed, ${Math.round((100 * bytes) / plain)}%)`,
  );
  expect(bytes).toBeLessThan(plain / 3);
  expect(errors).toEqual([]);
});

test('without compress the bodies go as they are, with no ce parameter', async ({ page }) => {
  const urls: string[] = [];
  page.context().on('request', (r) => r.url().includes('/v1/batch') && urls.push(r.url()));
  await page.goto('/test/slice.html');
  await sdkReady(page);
  const anon = await anonymousId(page);
  // An explicit flush: the batch leaves now, as a fetch this test sees.
  expect(await page.evaluate(() => {
    window['sillage'].track('Plain Body');
    return window['sillage'].flush();
  })).toBe(true);
  await storedRows(anon, 3);
  expect(urls.length).toBeGreaterThan(0);
  for (const u of urls) expect(new URL(u).searchParams.has('ce')).toBe(false);
});
