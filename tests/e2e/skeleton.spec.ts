// The walking skeleton end to end: script tag -> wasm -> config -> core ->
// one batch -> collector -> SQLite, plus the pages that must survive a
// missing or broken config.
import { test, expect, anonymousId, sql, storedRows, watchErrors } from './helpers';

test('a page view and a track call arrive in one batch and are stored once', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/test/slice.html');
  const anon = await anonymousId(page);
  const rows = await storedRows(anon, 2);

  expect(rows.map((r) => r.type)).toEqual(['page', 'track']);
  expect(rows[1].event).toBe('Signed Up');
  // One batch: both events carry the batch's sentAt.
  expect(rows[0].sent_at).toBeTruthy();
  expect(rows[0].sent_at).toBe(rows[1].sent_at);

  const page_view = JSON.parse(rows[0].payload as string);
  const track = JSON.parse(rows[1].payload as string);
  expect(track.properties).toEqual({ plan: 'pro' });
  for (const ev of [page_view, track]) {
    expect(ev.messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ev.anonymousId).toBe(anon);
    expect(new Date(ev.timestamp).toISOString()).toBe(ev.timestamp);
    expect(ev.context.library.name).toBe('sillage');
    expect(ev.context.page.path).toBe('/test/slice.html');
    expect(ev.context.page.url).toContain('/test/slice.html');
    expect(ev.context.page.title).toBe('Walking skeleton');
  }
  expect(page_view.properties.path).toBe('/test/slice.html');
  expect(errors).toEqual([]);
});

test('the same messageIds sent twice give no second row', async ({ page, request }) => {
  await page.goto('/test/slice.html');
  const anon = await anonymousId(page);
  const rows = await storedRows(anon, 2);
  const batch = { batch: rows.map((r) => JSON.parse(r.payload as string)), sentAt: new Date().toISOString() };
  for (let i = 0; i < 2; i++) {
    const res = await request.post('/v1/batch', {
      headers: { 'content-type': 'text/plain' },
      data: JSON.stringify(batch),
    });
    expect(res.status()).toBe(200);
    expect((await res.json()).duplicates).toBe(2);
  }
  expect(sql('SELECT count(*) AS n FROM events WHERE anonymous_id = ?', [anon])[0].n).toBe(2);
});

test('a config URL that answers 404 does not break the page', async ({ page }) => {
  const errors = watchErrors(page);
  const warnings: string[] = [];
  page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
  await page.goto('/test/missing-config.html');
  await expect.poll(() => warnings.join('\n')).toContain('could not load config');
  await page.click('#go');
  await expect(page.locator('#go')).toHaveText('clicked');
  await expect(page.locator('#title')).toBeVisible();
  // Events were recorded and kept on the device; flush() settles to false.
  expect(await page.evaluate(() => window['sillage'].flush())).toBe(false);
  expect(errors).toEqual([]);
});

test('a broken inline config is reported with JSON paths and the rest still works', async ({ page }) => {
  const errors = watchErrors(page);
  const warnings: string[] = [];
  page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
  await page.goto('/test/bad-config.html');
  const anon = await anonymousId(page);
  await expect.poll(() => warnings.join('\n')).toContain('colector: unknown key "colector" (did you mean "collector"?)');
  expect(warnings.join('\n')).toContain('collector.batch.maxEvents: must be a number from 1 to 500, not string');
  // The usable part (collector.url) still delivers the page view.
  await storedRows(anon, 1);
  expect(errors).toEqual([]);
});

test('the loader included twice loads once', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/test/slice.html');
  await page.evaluate(() => {
    const s = document.createElement('script');
    s.src = '/sillage/sillage.js';
    document.head.appendChild(s);
  });
  const anon = await anonymousId(page);
  await storedRows(anon, 2);
  await page.waitForTimeout(1000);
  expect(sql('SELECT count(*) AS n FROM events WHERE anonymous_id = ?', [anon])[0].n).toBe(2);
  expect(errors).toEqual([]);
});
