// Personalization in the page through the real loader and collector: every
// action, its exposure events in SQLite, a missing variant, consent, and the
// XSS corpus through the config. (Timing: personalization-timing.spec.ts;
// the strict CSP: personalization-csp.spec.ts.)
import { type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  test,
  expect,
  anonymousId,
  consoleOf,
  countBy,
  decided,
  flushed,
  patientSnippet,
  sql,
  storedRows,
  tracked,
  watchErrors,
} from './helpers';

// These tests are about what personalization does, not when: the snippet's
// timeout must not race a loaded machine (see patientSnippet).
test.beforeEach(async ({ page }) => {
  await patientSnippet(page);
});

const slot = (page: Page, name: string) => page.locator(`[data-sillage-slot="${name}"]`);

/** The `data-sillage-item-id`s a recommendation slot shows. */
const items = (page: Page, name: string) =>
  slot(page, name).evaluate((el) => [...el.querySelectorAll('[data-sillage-item-id]')].map((e) => e.getAttribute('data-sillage-item-id')));

test('every action through the real loader and collector, each exposure stored once per page view', async ({ page }) => {
  const errors = watchErrors(page);
  const warnings = consoleOf(page, 'warning');
  await page.goto('/test/actions.html');
  await decided(page);
  const anon = await anonymousId(page);

  // A variant from the page's own <template>.
  await expect(slot(page, 'hero')).toHaveAttribute('data-sillage-applied', 'hero-new');
  await expect(slot(page, 'hero')).toHaveAttribute('data-sillage-shown', 'new');
  await expect(slot(page, 'hero').locator('h2')).toHaveText('New trail shoes for you');
  // HTML from the config, sanitised: the handlers are gone, the rest is kept.
  expect(await slot(page, 'banner').innerHTML()).toBe(
    '<p>Hello <b>runner</b>, <a href="/trail">see trail</a><img src="/nope.png" alt=""></p>',
  );
  // setText (text, never HTML), setAttribute, addClass/removeClass, hide/show.
  const promo = slot(page, 'promo');
  await expect(promo.locator('h2')).toHaveText('Free shipping <b>today</b>');
  expect(await promo.locator('h2 *').count()).toBe(0);
  await expect(promo.locator('a')).toHaveAttribute('href', '/checkout');
  await expect(promo).toHaveClass('highlight');
  await expect(promo.locator('.fine-print')).toBeHidden();
  await expect(promo.locator('.members')).toBeVisible();
  // The experiment: the visitor's variation decides what the slot shows.
  const cta = slot(page, 'cta');
  await expect(cta).toHaveAttribute('data-sillage-applied', 'cta-test');
  // Rules whose conditions need a profile this first visit does not have.
  for (const name of ['categories', 'cross', 'up', 'for-you']) {
    await expect(slot(page, name)).not.toHaveAttribute('data-sillage-applied', /./);
  }
  expect(await items(page, 'cross')).toEqual([]);
  // Every slot is revealed, personalized or not.
  for (const name of ['hero', 'banner', 'promo', 'cta', 'categories', 'cross', 'up', 'for-you']) {
    await expect(slot(page, name)).toHaveAttribute('data-sillage-ready', '');
    await expect(slot(page, name)).toBeVisible();
  }

  // A click in a personalized slot is attributed to it.
  await page.click('#hero-cta');
  await page.waitForTimeout(300); // any late re-application would record a second exposure
  await flushed(page);
  const viewed = tracked(anon, 'Personalization Viewed');
  expect(countBy(viewed, 'rule_id')).toEqual({ 'hero-new': 1, 'banner-html': 1, 'promo-edit': 1 });
  expect(viewed.find((p) => p.rule_id === 'hero-new')).toEqual({ slot: 'hero', rule_id: 'hero-new', variant: 'new' });
  expect(viewed.find((p) => p.rule_id === 'promo-edit')).toEqual({ slot: 'promo', rule_id: 'promo-edit', variant: 'actions' });
  const [experiment, ...more] = tracked(anon, 'Experiment Viewed');
  expect(more).toEqual([]);
  expect(experiment).toEqual({
    experiment_id: 'cta-copy',
    variation_id: expect.stringMatching(/^(control|bold)$/),
    in_holdout: false,
    slot: 'cta',
    rule_id: 'cta-test',
  });
  await expect(cta.locator('a')).toHaveText(experiment.variation_id === 'bold' ? 'Shop now' : 'Browse');
  await expect(cta).toHaveAttribute('data-sillage-shown', experiment.variation_id === 'bold' ? 'actions' : 'default');
  expect(tracked(anon, 'Personalization Clicked')).toEqual([
    { slot: 'hero', variant: 'new', rule_id: 'hero-new', url: expect.stringMatching(/\/test\/actions\.html#offers$/) },
  ]);

  // The visitor shows an interest and fills the cart: the sorted categories
  // and the three recommendations apply at once, without a reload (slots
  // follow the journey), and again on the next page view.
  await page.evaluate(() => {
    window['sillage'].interest('yoga', 1);
    window['sillage'].track('Product Added', { product_id: 'shoe-1', name: 'Trail shoe', category: 'trail', price: 129 });
  });
  await expect.poll(() => items(page, 'cross')).toEqual(['sock', 'gaiter']);
  await expect(slot(page, 'categories').locator('li').first()).toHaveAttribute('data-sillage-topics', 'yoga');
  await flushed(page);
  await page.reload();
  await decided(page);
  const interests: Record<string, number> = await page.evaluate(() => window['sillage'].profile().interests);
  const byInterest = ['road', 'trail', 'yoga']
    .map((t, i) => ({ t, i, s: interests[t] || 0 }))
    .sort((a, b) => b.s - a.s || a.i - b.i)
    .map((x) => x.t);
  expect(byInterest[0]).toBe('yoga');
  expect(await slot(page, 'categories').locator('li').evaluateAll((l) => l.map((e) => e.getAttribute('data-sillage-topics')))).toEqual(
    byInterest,
  );
  expect(await items(page, 'cross')).toEqual(['sock', 'gaiter']); // shoe-1's complements
  expect(await items(page, 'up')).toEqual(['shoe-2']); // the next tier in its topic
  const forYou = await items(page, 'for-you');
  expect(forYou[0]).toBe('mat');
  expect(forYou).not.toContain('shoe-1'); // never what is already in the cart
  // Items render through the slot's template, fields filled as text and checked URLs.
  const sock = slot(page, 'cross').locator('[data-sillage-item-id="sock"]');
  await expect(sock.locator('[data-sillage-field="title"]')).toHaveText('Merino socks');
  await expect(sock.locator('[data-sillage-field="price"]')).toHaveText('29');
  await expect(sock.locator('a')).toHaveAttribute('href', '/p/sock');
  // A click on a recommended item carries the item too (the navigation is
  // prevented so the page stays).
  await page.evaluate(() => document.addEventListener('click', (e) => e.preventDefault()));
  await sock.locator('a').click();

  await page.waitForTimeout(300);
  await flushed(page);
  expect(countBy(tracked(anon, 'Personalization Viewed'), 'rule_id')).toEqual({
    'hero-new': 2,
    'banner-html': 2,
    'promo-edit': 2,
    // Shown in both page views: after the change, then after the reload.
    sorted: 2,
    cross: 2,
    up: 2,
    'for-you': 2,
  });
  // Experiment Viewed is once per session: the reload is the same session.
  expect(tracked(anon, 'Experiment Viewed')).toHaveLength(1);
  expect(tracked(anon, 'Personalization Clicked').at(-1)).toEqual({
    slot: 'cross',
    variant: 'actions',
    rule_id: 'cross',
    item_id: 'sock',
    url: expect.stringMatching(/\/p\/sock$/),
  });
  // The sanitised banner's image failed to load without running its handler.
  await expect.poll(() => page.evaluate(() => (document.querySelector('[data-sillage-slot=banner] img') as HTMLImageElement).complete)).toBe(true);
  expect(await page.evaluate(() => window['__xss'])).toBeUndefined();
  expect(warnings).toEqual([]);
  expect(errors).toEqual([]);
});

test('a rule naming a missing variant: the default stays and is revealed, one console error names the slot, the rule and the template', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/test/missing-variant.html');
  await decided(page);
  const anon = await anonymousId(page);
  const hero = slot(page, 'hero');
  await expect(hero).toHaveAttribute('data-sillage-ready', '');
  await expect(hero).toBeVisible();
  await expect(hero).not.toHaveAttribute('data-sillage-applied', /./);
  expect(await hero.innerHTML()).toBe('<h2>Welcome to the store</h2>');
  // The other slot's rule still works.
  await expect(slot(page, 'promo')).toHaveAttribute('data-sillage-applied', 'promo-new');
  await page.waitForTimeout(300);
  await flushed(page);
  expect(countBy(tracked(anon, 'Personalization Viewed'), 'rule_id')).toEqual({ 'promo-new': 1 });
  expect(errors).toEqual([
    'console.error: sillage: slot "hero" (rule "hero-sale"): no <template data-sillage-variant="hero/sale"> in the page; the default content stays',
  ]);
});

test('consent declined before load (queued by the stub): every slot shows its default at once and no exposure is recorded', async ({ page }) => {
  // Any application of a rule, even undone in the same task, sets data-sillage-applied.
  await page.addInitScript(() => {
    const applied: string[] = (window['__applied'] = []);
    new MutationObserver((records) => records.forEach((r) => applied.push((r.target as Element).getAttribute('data-sillage-slot')!))).observe(
      document,
      { subtree: true, attributes: true, attributeFilter: ['data-sillage-applied'] },
    );
  });
  const errors = watchErrors(page);
  await page.goto('/test/consent.html');
  await decided(page);
  const anon = await anonymousId(page);
  const defaults = { hero: '<h2>Welcome to the store</h2>', promo: '<p>Our promotions</p>', cta: '<a href="#shop">Browse</a>' };
  for (const [name, html] of Object.entries(defaults)) {
    await expect(slot(page, name)).toHaveAttribute('data-sillage-ready', '');
    await expect(slot(page, name)).toBeVisible();
    expect(await slot(page, name).innerHTML()).toBe(html);
  }
  // Revealed by the decision, not by the snippet's timeout.
  await expect(page.locator('html')).not.toHaveAttribute('data-sillage-timeout', /.*/);
  expect(await page.evaluate(() => window['__applied'])).toEqual([]);
  await page.waitForTimeout(300);
  await flushed(page);
  await storedRows(anon, 1); // the page view, and nothing else
  expect(sql("SELECT count(*) AS n FROM events WHERE anonymous_id = ? AND event LIKE '% Viewed'", [anon])[0].n).toBe(0);
  expect(await page.evaluate(() => localStorage.getItem('sillage.consent'))).toBe('{"personalization":false}');
  expect(errors).toEqual([]);
});

test('the XSS corpus through the config (html, text, attributes): nothing runs, nothing unsafe reaches the DOM', async ({ page }) => {
  test.setTimeout(60_000);
  const fixture = (name: string) => JSON.parse(readFileSync(join(__dirname, '../fixtures', name), 'utf8'));
  const corpus: { name: string; html: string }[] = fixture('xss.json');
  const forbidden: { elements: string[]; attributes: string[] } = fixture('forbidden.json');
  expect(corpus.length).toBeGreaterThanOrEqual(30);
  // The URLs inside the payloads, decoded as a browser reads them (an inert
  // DOMParser document: nothing runs, nothing loads).
  const urls: string[] = await page.evaluate((payloads) => {
    const found = new Set<string>();
    for (const html of payloads) {
      const doc = new DOMParser().parseFromString(html, 'text/html');
      for (const el of doc.querySelectorAll('*')) {
        for (const a of el.attributes) {
          if (/^(href|src|srcset|xlink:href|data|action|formaction|cite|lowsrc|dynsrc|ping)$/i.test(a.name)) found.add(a.value);
        }
      }
    }
    return [...found];
  }, corpus.map((c) => c.html));
  expect(urls).toEqual(expect.arrayContaining(['javascript:window.__xss=1', 'data:text/html,<script>window.__xss=1</script>']));
  const setAll = (v: string) => [
    { type: 'setAttribute', name: 'title', value: v },
    { type: 'setAttribute', selector: 'a', name: 'href', value: v },
    { type: 'setAttribute', selector: 'img', name: 'src', value: v },
  ];
  const rules = [
    ...corpus.map((c, i) => ({ id: `html-${i}`, slot: `html-${i}`, actions: [{ type: 'replace', html: c.html }] })),
    ...corpus.map((c, i) => ({ id: `text-${i}`, slot: `text-${i}`, actions: [{ type: 'setText', text: c.html }] })),
    ...corpus.map((c, i) => ({ id: `attr-${i}`, slot: `attr-${i}`, actions: setAll(c.html) })),
    ...urls.map((u, i) => ({ id: `url-${i}`, slot: `url-${i}`, actions: setAll(u) })),
  ];
  const config = { version: 1, collector: { url: '/v1/batch' }, capture: { engagement: false }, rules };
  await page.route('**/test/xss.config.json', (r) => r.fulfill({ json: config }));

  const errors = watchErrors(page);
  const warnings = consoleOf(page, 'warning');
  await page.goto('/test/xss.html');
  await expect
    .poll(() => page.evaluate(() => document.querySelectorAll('[data-sillage-slot]:not([data-sillage-ready])').length), { timeout: 10_000 })
    .toBe(0);
  expect(await page.locator('[data-sillage-slot]').count()).toBe(rules.length);
  // Let the event loop turn: images fail, animations begin, focus moves.
  await expect
    .poll(() => page.evaluate(() => [...document.querySelectorAll('[data-sillage-slot] img')].every((i) => (i as HTMLImageElement).complete)))
    .toBe(true);
  await page.waitForTimeout(1500);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  expect(await page.evaluate(() => window['__xss'])).toBeUndefined();

  const unsafe: string[] = await page.evaluate((forbidden) => {
    const out: string[] = [];
    const urlAttrs = /^(href|src|srcset|xlink:href|data|action|formaction|cite|lowsrc|dynsrc|ping|poster|background)$/i;
    const image = /^data:image\/(png|gif|jpeg|webp|avif)[;,]/i;
    const safe = (name: string, value: string) => {
      const parts = name === 'srcset' ? value.split(',').map((p) => p.trim().split(/\s+/)[0]) : [value];
      return parts.every((u) => {
        const url = new URL(u, location.href);
        return url.protocol === 'http:' || url.protocol === 'https:' || ((name === 'src' || name === 'srcset') && image.test(url.href));
      });
    };
    for (const root of document.querySelectorAll('[data-sillage-slot]')) {
      const slot = root.getAttribute('data-sillage-slot');
      for (const el of [root, ...root.querySelectorAll('*')]) {
        if (forbidden.elements.includes(el.localName)) out.push(`${slot}: <${el.localName}>`);
        for (const a of el.attributes) {
          if (/^on/i.test(a.name) || forbidden.attributes.includes(a.name.toLowerCase())) out.push(`${slot}: ${a.name}=${a.value}`);
          if (urlAttrs.test(a.name) && !safe(a.name.toLowerCase(), a.value)) out.push(`${slot}: ${a.name}=${a.value}`);
        }
      }
    }
    return out;
  }, forbidden);
  expect(unsafe).toEqual([]);
  // Text is text: every payload shows as typed, and makes no element.
  const texts = await page.evaluate(() =>
    [...document.querySelectorAll('[data-sillage-slot^="text-"]')].map((e) => [e.textContent, e.childElementCount]),
  );
  expect(texts).toEqual(corpus.map((c) => [c.html, 0]));
  // Every html payload was applied (sanitised, not refused wholesale).
  expect(await page.locator('[data-sillage-slot^="html-"][data-sillage-applied]').count()).toBe(corpus.length);
  // A rule setting a URL that is not http(s) or relative is refused when the
  // config loads (a warning naming it; its slot keeps the default); the
  // browser's own URL parser is the oracle.
  const schemes: string[] = await page.evaluate(
    (values) => values.map((v) => { try { return new URL(v, location.href).protocol; } catch { return 'invalid'; } }),
    rules.map((r) => (r.actions[1] as { value?: string } | undefined)?.value ?? 'http:'),
  );
  const shouldRefuse = rules.map((r) => r.id).filter((_, i) => !['http:', 'https:'].includes(schemes[i]));
  const warned = new Set<string>();
  for (const w of warnings) {
    const m = w.match(/^sillage: config \(.*\/test\/xss\.config\.json\): rules\[(\d+)\]\.actions\[[12]\]\.value: must be an http\(s\) or relative URL$/);
    expect(m, w).not.toBeNull();
    warned.add(rules[Number(m![1])].id);
  }
  expect([...warned].sort()).toEqual([...shouldRefuse].sort());
  expect(shouldRefuse.length).toBeGreaterThanOrEqual(10); // javascript:, vbscript:, data:text/html, ... as the browser decodes them
  for (const id of shouldRefuse) await expect(page.locator(`[data-sillage-slot="${id}"]`)).not.toHaveAttribute('data-sillage-applied', /./);
  expect(errors).toEqual([]);
});

test('previews: with "debug": true the URL forces a variant, simulates a stage and logs the decisions; without it they are ignored', async ({ page }) => {
  const errors = watchErrors(page);
  const tables = consoleOf(page, 'table');
  // p13n.html allows debug; its hero rule needs an interest this new visitor lacks.
  await page.goto('/test/p13n.html?sillage_debug=1&sillage_force=hero/runner&sillage_stage=purchase');
  await decided(page);
  await expect(page.locator('[data-sillage-slot=hero] h2')).toHaveText('New trail shoes for you');
  await expect.poll(() => tables.length).toBeGreaterThan(0);
  // A forced preview is not measured, and a simulated stage does not change
  // the profile itself.
  const anon = await anonymousId(page);
  await flushed(page);
  expect(tracked(anon, 'Personalization Viewed').filter((p) => p.slot === 'hero')).toEqual([]);
  const stage = await page.evaluate(() => window['sillage'].profile().stage);
  expect(stage).not.toBe('purchase');
  expect(errors.filter((e) => !e.includes('no <template data-sillage-variant="broken/nowhere">'))).toEqual([]);

  // The same parameters on a page whose config does not allow debug.
  const warnings = consoleOf(page, 'warning');
  await page.goto('/test/actions.html?sillage_force=hero/sale');
  await decided(page);
  await expect.poll(() => warnings.join('\n')).toContain('?sillage_force: previews are off (set "debug": true in the config)');
});
