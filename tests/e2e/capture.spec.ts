// Touchpoint capture in a real page: SPA navigation. (Back-forward cache
// restores are covered by a browser test with a real `pageshow` event: this
// headless Chromium under Playwright does not restore pages from the cache.)
import { test, expect } from '@playwright/test';
import { anonymousId, sql, storedRows, watchErrors } from './helpers';

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
