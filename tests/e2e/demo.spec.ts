// The demo store's "Your data" table (account page) reads the
// collector's visitor view (GET /v1/me/events, on in the e2e collector):
// each visitor sees their own events, never another visitor's, and the page
// never touches the admin routes.
import { type Page } from '@playwright/test';
import { test, expect, anonymousId, watchErrors } from './helpers';

/** The visitor-view requests a page makes, with the id each presents. */
function visitorReads(page: Page): { url: string; id: string | undefined }[] {
  const seen: { url: string; id: string | undefined }[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/v1/')) seen.push({ url: new URL(r.url()).pathname, id: r.headers()['sillage-anonymous-id'] });
  });
  return seen;
}

test("the demo shows each visitor the events stored for them, and no one else's", async ({ browser }) => {
  const one = await (await browser.newContext()).newPage();
  const two = await (await browser.newContext()).newPage();
  const errors = watchErrors(one);
  const reads = visitorReads(one);
  await one.goto('/account.html');
  await two.goto('/account.html');
  const idOne = await anonymousId(one);
  const idTwo = await anonymousId(two);
  expect(idOne).not.toBe(idTwo);
  await one.click('#signup-form button');
  await one.click('#flush');
  await two.click('#newsletter-submit');
  await two.click('#flush');
  await expect(one.locator('#events')).toContainText('Signed Up');
  await expect(two.locator('#events')).toContainText('Newsletter Subscribed');
  // Each table holds only its visitor's events (another visitor's would
  // have been read with another id, which the page does not have).
  await expect(one.locator('#events')).not.toContainText('Newsletter Subscribed');
  await expect(two.locator('#events')).not.toContainText('Signed Up');
  await expect(one.locator('#who')).toHaveText(`(anonymousId ${idOne})`);
  await expect(one.locator('#events-status')).toHaveText('');
  const api = reads.filter((r) => r.url !== '/v1/batch');
  expect(api.length).toBeGreaterThan(0);
  for (const r of api) expect(r).toEqual({ url: '/v1/me/events', id: idOne });
  expect(errors).toEqual([]);
});
