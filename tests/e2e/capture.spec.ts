// Touchpoint capture in a real page: SPA navigation. (Back-forward cache
// restores are covered by a browser test with a real `pageshow` event: this
// headless Chromium under Playwright does not restore pages from the cache.)
import { test, expect, anonymousId, sql, storedRows, watchErrors } from './helpers';

function pageViews(anon: string) {
  return sql("SELECT payload FROM events WHERE anonymous_id = ? AND type = 'page' ORDER BY rowid", [anon]).map(
    (r) => JSON.parse(r.payload as string),
  );
}

test('a small SPA navigating three routes sends exactly the expected page views', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/test/spa.html');
  await page.evaluate(() => new Promise((r) => window['sillage'].ready(r)));
  const anon = await anonymousId(page);
  await page.click('[data-route=running]');
  await page.click('[data-route=running]'); // the same route again: no second view
  await page.click('[data-route=cart]');
  await page.goBack(); // popstate to running
  await storedRows(anon, 4);
  await page.waitForTimeout(500);
  const views = pageViews(anon);
  expect(views.map((v) => v.properties.search)).toEqual(['', '?route=running', '?route=cart', '?route=running']);
  expect(views[1].properties.title).toBe('SPA running');
  expect(errors).toEqual([]);
});

test('a QR code landing from a store flyer is an Offline touchpoint with its campaign', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/test/spa.html?utm_source=store-lyon&utm_medium=qr&utm_campaign=spring-flyer');
  const anon = await anonymousId(page);
  await page.click('[data-route=running]');
  await storedRows(anon, 2);
  const [landing, next] = pageViews(anon);
  expect(landing.context.sillage.touchpoint).toMatchObject({
    channel: 'Offline',
    source: 'store-lyon',
    medium: 'qr',
    campaign: 'spring-flyer',
    paid: false,
  });
  expect(landing.context.campaign).toEqual({ name: 'spring-flyer', source: 'store-lyon', medium: 'qr' });
  expect(landing.context.sillage.sessionStart).toBe('first');
  // The SPA route is not a new touch and stays in the same session.
  expect(next.context.sillage.touchpoint).toBeUndefined();
  expect(next.context.sillage.sessionId).toBe(landing.context.sillage.sessionId);
  expect(next.context.page.referrer).toBe(landing.context.page.url);
  expect(errors).toEqual([]);
});

test('an email landing (webmail referrer) is classified as Email, and personal data is scrubbed', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/test/spa.html?token=s3cret&ref=ann%40mail.example', {
    referer: 'https://mail.google.com/mail/u/0/?to=ann@mail.example',
  });
  const anon = await anonymousId(page);
  await storedRows(anon, 1);
  const [landing] = pageViews(anon);
  expect(landing.context.sillage.touchpoint).toMatchObject({
    channel: 'Email',
    source: 'gmail',
    medium: 'email',
    referrerHost: 'mail.google.com',
  });
  const text = JSON.stringify(landing);
  expect(text).not.toContain('s3cret');
  expect(text).not.toContain('ann@');
  expect(text).not.toContain('ann%40');
  expect(landing.context.page.url).toMatch(/\?token=\[redacted\]&ref=\[redacted\]$/);
  expect(errors).toEqual([]);
});
