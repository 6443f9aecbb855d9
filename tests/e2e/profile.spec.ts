// The on-device profile seen from the collector: journey stage changes
// arrive as events (what makes journey maps possible), the profile itself
// never leaves the device, and it survives a reload.
import { test, expect, anonymousId, sql, watchErrors } from './helpers';

test('stage changes reach the collector as Journey Stage Changed events; the profile stays on the device', async ({ page }) => {
  const errors = watchErrors(page);
  const bodies: string[] = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/v1/batch')) bodies.push(r.postData() || '');
  });
  await page.goto('/test/journey.html');
  await page.evaluate(() => new Promise((r) => window['sillage'].ready(r)));
  const anon = await anonymousId(page);
  const stages: string[] = await page.evaluate(async () => {
    const seen: string[] = [];
    window['sillage'].on('stage', (c) => seen.push(`${c.from}->${c.to}`));
    window['sillage'].track('Product Viewed', { product_id: 'trail-1', category: 'Trail Running', price: 129 });
    window['sillage'].track('Product Added', { product_id: 'trail-1', category: 'Trail Running', price: 129 });
    window['sillage'].track('Checkout Started', { value: 129 });
    await window['sillage'].flush();
    return seen;
  });
  expect(stages.at(-1)).toMatch(/->purchase$/);
  await expect
    .poll(() => sql("SELECT count(*) AS n FROM events WHERE anonymous_id = ? AND event = 'Journey Stage Changed'", [anon])[0].n)
    .toBe(stages.length);
  const change = JSON.parse(
    sql("SELECT payload FROM events WHERE anonymous_id = ? AND event = 'Journey Stage Changed' ORDER BY rowid DESC LIMIT 1", [anon])[0]
      .payload as string,
  );
  expect(change.properties.from).toBe(stages.at(-1)!.split('->')[0]);
  expect(change.properties.to).toBe('purchase');
  expect(change.properties.reasons[0].text).toMatch(/purchase$/);
  // The profile itself never leaves the device.
  expect(bodies.join('\n')).not.toContain('stageProbabilities');
  // And it is still there after a reload.
  const profile = await page.evaluate(() => window['sillage'].profile());
  await page.reload();
  await page.evaluate(() => new Promise((r) => window['sillage'].ready(r)));
  const again = await page.evaluate(() => window['sillage'].profile());
  expect(again.stage).toBe('purchase');
  expect(again.topInterests).toEqual(profile.topInterests);
  expect(again.cart.items).toBe(1);
  expect(errors).toEqual([]);
});
