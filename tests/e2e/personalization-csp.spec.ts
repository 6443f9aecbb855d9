// The whole SDK, personalization included, on a page served with a strict
// Content-Security-Policy (from www/_headers): no inline script but the
// anti-flicker snippet, allowed by its hash; no eval; Trusted Types required.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, anonymousId, consoleOf, countBy, decided, flushed, patientSnippet, snippet, tracked, watchErrors, WWW } from './helpers';

test('every test page carries the documented snippet byte for byte, under 600 bytes', () => {
  const { tag } = snippet();
  expect(Buffer.byteLength(tag)).toBeLessThanOrEqual(600);
  const pages = ['test', 'test/shop'].flatMap((d) =>
    readdirSync(join(WWW, d))
      .filter((f) => f.endsWith('.html'))
      .map((f) => join(d, f)),
  );
  let seen = 0;
  for (const p of pages) {
    const html = readFileSync(join(WWW, p), 'utf8');
    if (!html.includes('sillage-hide')) continue;
    seen++;
    expect(html, p).toContain(tag);
  }
  expect(seen).toBeGreaterThanOrEqual(8);
});

test('strict CSP: the SDK and every kind of content work, with zero violations', async ({ page, request }) => {
  await patientSnippet(page);
  const { tag, hash } = snippet();
  const policy = `script-src 'self' 'wasm-unsafe-eval' ${hash}; object-src 'none'; base-uri 'none'; require-trusted-types-for 'script'`;
  const res = await request.get('/test/csp.html');
  expect(res.headers()['content-security-policy']).toBe(policy);
  expect(await res.text()).toContain(tag);

  // Registered before anything in the page runs.
  await page.addInitScript(() => {
    const seen: string[] = (window['__violations'] = []);
    addEventListener('securitypolicyviolation', (e) =>
      seen.push(`${e.effectiveDirective} blocked ${e.blockedURI || '-'} at ${e.sourceFile}:${e.lineNumber} ${e.sample}`),
    );
  });
  const errors = watchErrors(page);
  const warnings = consoleOf(page, 'warning');
  await page.goto('/test/csp.html');
  await decided(page);
  const anon = await anonymousId(page);
  // The snippet ran (its style hid the slots, and the SDK removed it).
  await expect(page.locator('#sillage-hide')).toHaveCount(0);
  // The inline JSON config was read: its rules applied.
  await expect(page.locator('[data-sillage-slot=hero] h2')).toHaveText('New trail shoes for you');
  expect(await page.locator('[data-sillage-slot=banner]').innerHTML()).toBe('<p>Hello <b>runner</b> <a href="/trail">see trail</a></p>');
  await expect(page.locator('[data-sillage-slot=promo] h2')).toHaveText('Free shipping today');
  await expect(page.locator('[data-sillage-slot=promo] a')).toHaveAttribute('href', '/checkout');
  await expect(page.locator('[data-sillage-slot=promo]')).toHaveClass('highlight');
  // A cart: the hash change the click makes decides the slots again, so the
  // recommendations render (through the slot's template) on this page view,
  // and again on the next.
  await page.evaluate(() => window['sillage'].track('Product Added', { product_id: 'shoe-1', price: 129 }));
  await page.click('#hero-cta');
  await expect(page.locator('[data-sillage-slot=cross] [data-sillage-item-id=sock] a')).toHaveAttribute('href', '/p/sock');
  await flushed(page);
  await page.reload();
  await decided(page);
  await expect(page.locator('[data-sillage-slot=cross] [data-sillage-item-id=sock] a')).toHaveAttribute('href', '/p/sock');
  await page.waitForTimeout(300);
  await flushed(page);
  expect(countBy(tracked(anon, 'Personalization Viewed'), 'rule_id')).toEqual({ 'hero-new': 2, 'banner-html': 2, 'promo-edit': 2, cross: 2 });
  expect(tracked(anon, 'Personalization Clicked')).toHaveLength(1);
  expect(await page.evaluate(() => window['__xss'])).toBeUndefined();
  expect(await page.evaluate(() => window['__violations'])).toEqual([]);
  expect(warnings).toEqual([]);
  expect(errors).toEqual([]);

  // The policy is in force (so zero violations means something): code from
  // a string is refused, and reported to the listener.
  await page.evaluate(() => {
    try {
      setTimeout('window.__ran = 1' as unknown as () => void, 0);
    } catch {
      // Trusted Types may refuse the string at once.
    }
  });
  await expect.poll(() => page.evaluate(() => window['__violations'].length)).toBeGreaterThan(0);
  expect(await page.evaluate(() => window['__ran'])).toBeUndefined();
});
