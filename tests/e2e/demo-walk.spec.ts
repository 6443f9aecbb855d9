// The demo store's scripted walk (issue 17): a visitor lands from an
// Instagram ad, reads the guide, looks at three products, adds one to the
// cart, leaves, comes back from the newsletter, checks out, and comes back a
// week later (Playwright's clock) for a second order. At each step the test
// checks what the store shows (every block is a rule in
// www/sillage.config.json) and the stage the journey panel shows, and keeps
// a screenshot in the test's output directory. Other tests: the panel under
// the strict CSP page, the confusions the old demo had, the quote and the
// single-page trail finder.
import { type Page, type TestInfo } from '@playwright/test';
import { test, expect, adminHeaders, anonymousId, flushed, sql, tracked, watchErrors } from './helpers';

/** The stage the journey panel shows (it polls the profile every second). */
async function panelStage(page: Page, stage: string) {
  await expect(page.locator('.sillage-panel .sp-stage')).toHaveAttribute('data-stage', stage, { timeout: 10_000 });
}

async function shot(page: Page, info: TestInfo, name: string) {
  await page.screenshot({ path: info.outputPath(`${name}.png`) });
}

/** Waits until the SDK decided the page's slots (every slot carries data-sillage-ready). */
async function settled(page: Page) {
  await expect
    .poll(() => page.evaluate(() => [...document.querySelectorAll('[data-sillage-slot]')].every((s) => s.hasAttribute('data-sillage-ready'))))
    .toBe(true);
}

/** A slot's text, once decided. */
function slot(page: Page, name: string) {
  return page.locator(`[data-sillage-slot="${name}"]`);
}

const DAY = 24 * 3600 * 1000;

/**
 * Makes the store's anti-flicker snippet (1 s, set while the head is parsed)
 * never fire, as helpers' patientSnippet does for the test pages' 300 ms:
 * these tests check what the rules show, not timing (which
 * personalization-timing.spec.ts tests), so a loaded machine must not turn
 * them into a race.
 */
async function patient(target: Page | import('@playwright/test').BrowserContext) {
  await target.addInitScript(() => {
    const setTimeout = window.setTimeout;
    (window as any).setTimeout = function (fn: TimerHandler, ms?: number, ...rest: unknown[]) {
      if ((ms === 1000 || ms === 300) && !document.body) ms = 120_000;
      return setTimeout.call(window, fn, ms, ...rest);
    };
  });
}

test('the scripted walk: Instagram ad, guide, three products, cart, newsletter return, order, a second order a week later', async ({ page }, info) => {
  test.setTimeout(120_000);
  const errors = watchErrors(page);
  await patient(page);
  await page.clock.install({ time: new Date('2026-03-02T09:00:00Z') });

  // 1. Landing from an Instagram ad: discovery.
  await page.goto('/start.html');
  await page.click('#from-instagram-ad');
  await settled(page);
  await expect(slot(page, 'hero')).toContainText('Your first trail run starts here');
  await expect(slot(page, 'banner')).toContainText('New to trail running?');
  await page.click('#panel-button');
  await panelStage(page, 'discovery');
  const ig = page.locator('.sillage-panel .sp-touch').first();
  await expect(ig).toHaveAttribute('data-channel', 'Paid Social');
  await expect(ig).toContainText('ig · spring-trail');
  await shot(page, info, '1-instagram-ad');
  const anon = await anonymousId(page);

  // 2. The guide, then three product views: consideration.
  await slot(page, 'hero').getByText("Read the beginner's guide").click();
  await expect(page).toHaveURL(/trail-running-guide/);
  await settled(page);
  await panelStage(page, 'discovery');
  await expect(page.locator('.sillage-panel .sp-bar', { hasText: 'running' })).toBeVisible();
  // The "interests" recommendation lists running gear, the strongest first.
  await expect(slot(page, 'reading').locator('.rec').first()).toContainText(/Trail Runner|Soft Flask|Merino/);
  // Three products, each through a link of the guide (each records Product Viewed).
  for (const name of ['Trail Runner Pro', 'soft flask', 'Trail Runner']) {
    if (!page.url().includes('trail-running-guide')) await page.goBack();
    await page.locator('.post a', { hasText: new RegExp(`^${name}$`) }).click();
    await expect(page).toHaveURL(/\/products\//);
    await settled(page);
  }
  await panelStage(page, 'consideration');
  await expect(slot(page, 'proof')).toContainText('4.8/5 from 312 reviews');
  await expect(slot(page, 'banner')).toContainText('Rated 4.8/5 by 1,240 runners');
  await expect(slot(page, 'cross')).toBeHidden();
  await expect(slot(page, 'upsell')).toBeHidden();
  await shot(page, info, '2-consideration');
  // The home page now offers the comparison, and puts the running gear first.
  await page.locator('header .logo').click();
  await settled(page);
  await expect(slot(page, 'hero')).toContainText('Still deciding? Compare side by side');
  const picks = await slot(page, 'picks').locator('[data-sku]').evaluateAll((cards) => cards.map((c) => c.getAttribute('data-sku')));
  expect(picks.slice(-2).sort()).toEqual(['BOOTS-5', 'JACKET-2']);
  // The list is ordered by interest: the hiking gear goes last.
  await page.locator('header nav a', { hasText: 'Shop' }).click();
  await expect(page).toHaveURL(/\/shop\.html$/);
  await settled(page);
  const order = await slot(page, 'list').locator('[data-sku]').evaluateAll((cards) => cards.map((c) => c.getAttribute('data-sku')));
  expect(order.slice(-2).sort()).toEqual(['BOOTS-5', 'JACKET-2']);

  // 3. Adding to the cart: purchase, reassurance, up-sell and cross-sell.
  await slot(page, 'list').locator('[data-sku="TRAIL-1"] a').click();
  await expect(page).toHaveURL(/\/products\/trail-runner\.html$/);
  await settled(page);
  await page.locator('main .product [data-add="TRAIL-1"]').click();
  await expect(page.locator('#cart-count')).toHaveText('1');
  await panelStage(page, 'purchase');
  await expect(slot(page, 'proof')).toContainText('Free returns for 30 days');
  await expect(slot(page, 'banner')).toContainText('Free returns for 30 days');
  await expect(slot(page, 'upsell')).toBeVisible();
  await expect(slot(page, 'upsell')).toContainText('Trail Runner Pro');
  await expect(slot(page, 'cross')).toBeVisible();
  await expect(slot(page, 'cross')).toContainText('Merino Socks');
  await expect(slot(page, 'cross')).toContainText('Soft Flask');
  await shot(page, info, '3-added-to-cart');
  await page.click('#cart-link');
  await settled(page);
  await expect(page.locator('#cart-lines')).toContainText('Trail Runner');
  await expect(page.locator('#cart-total')).toHaveText('€129');
  // The experiment: the slot shows what the visitor's variation says.
  const delivery = (await page.evaluate(() => window['sillage'].debug())).slots.find((s: any) => s.slot === 'delivery');
  expect(delivery.experiment).toMatch(/^cart-delivery-message\/(control|next-day)( \(holdout\))?$/);
  if (delivery.experiment === 'cart-delivery-message/next-day') {
    await expect(slot(page, 'delivery')).toContainText('Order before 6 pm, delivered tomorrow');
  } else {
    await expect(slot(page, 'delivery')).toHaveText('Delivery €4.90, free from €100.');
  }
  await expect(page.locator('.sillage-panel [data-slot="delivery"]')).toContainText('experiment cart-delivery-message/');
  await flushed(page);

  // 4. Leaving for three hours: the cart is abandoned.
  await page.goto('about:blank');
  await page.clock.fastForward(3 * 3600 * 1000);

  // 5. Back from the newsletter: the cart reminder.
  await page.goto('/start.html');
  await page.click('#from-newsletter');
  await settled(page);
  await expect(slot(page, 'banner')).toContainText('Your cart is still waiting for you');
  await expect(slot(page, 'hero')).toContainText('Your cart is ready when you are');
  await panelStage(page, 'purchase');
  await expect(page.locator('.sillage-panel [data-signal="cartAbandoned"]')).toHaveAttribute('data-on', 'true');
  const email = page.locator('.sillage-panel .sp-touch').last();
  await expect(email).toHaveAttribute('data-channel', 'Email');
  await expect(email).toContainText('newsletter · weekly-trail-letter');
  await shot(page, info, '5-newsletter-return');

  // 6. Checking out: post-purchase, order tracking and the survey.
  await page.click('#cart-link');
  await settled(page);
  await expect(slot(page, 'banner')).not.toContainText('still waiting');
  await page.click('#to-checkout');
  await expect(page.locator('#checkout-summary')).toContainText('1 × Trail Runner · €129');
  await page.click('#place-order');
  await expect(page).toHaveURL(/order-confirmation/);
  await settled(page);
  await expect(page.locator('#confirmed')).toContainText('Thank you for your order');
  await expect(page.locator('#order-count')).toHaveText('your first order');
  await expect(page.locator('#cart-count')).toHaveText('0');
  await panelStage(page, 'post_purchase');
  await expect(slot(page, 'survey')).toBeVisible();
  await expect(slot(page, 'banner')).toContainText('Track your parcel');
  await shot(page, info, '6-order-confirmed');
  await slot(page, 'survey').getByText('Great').click();
  await expect(slot(page, 'survey').locator('[data-thanks]')).toHaveText('Thanks, that helps us a lot.');
  const first = tracked(anon, 'Order Completed');
  await flushed(page);

  // 7. A week later, a second order: a repeat customer.
  await page.goto('about:blank');
  await page.clock.fastForward(7 * DAY);
  await page.goto('/');
  await settled(page);
  await panelStage(page, 'post_purchase');
  await expect(slot(page, 'hero')).toContainText('Thank you for your order');
  await expect(slot(page, 'club')).toBeHidden();
  await slot(page, 'picks').locator('[data-sku="SOCKS-3"] a').click();
  await expect(page).toHaveURL(/\/products\/merino-socks\.html$/);
  await settled(page);
  await page.locator('main .product [data-add="SOCKS-3"]').click();
  await panelStage(page, 'purchase');
  await page.click('#cart-link');
  await page.click('#to-checkout');
  await page.click('#place-order');
  await expect(page).toHaveURL(/order-confirmation/);
  await expect(page.locator('#order-count')).toHaveText('order number 2');
  await panelStage(page, 'post_purchase');
  await expect(page.locator('.sillage-panel [data-signal="repeatBuyer"]')).toHaveAttribute('data-on', 'true');
  await page.goto('/');
  await settled(page);
  await expect(slot(page, 'hero')).toContainText('Welcome back to the Sillage Club');
  await expect(slot(page, 'club')).toBeVisible();
  await expect(slot(page, 'survey')).toBeVisible();
  await shot(page, info, '7-second-order');

  // 8. Three weeks later: loyalty.
  await page.goto('about:blank');
  await page.clock.fastForward(21 * DAY);
  await page.goto('/account.html');
  await settled(page);
  await panelStage(page, 'loyalty');
  await expect(slot(page, 'banner')).toContainText('Sillage Club member');
  await expect(slot(page, 'club')).toBeVisible();
  await slot(page, 'club').getByText('Copy my referral link').click();
  await shot(page, info, '8-loyalty');
  await flushed(page);

  // What the collector stored: real products and values.
  const viewed = tracked(anon, 'Product Viewed').map((p) => p.product_id);
  expect(viewed).toEqual(expect.arrayContaining(['TRAIL-PRO', 'FLASK-4', 'TRAIL-1', 'SOCKS-3']));
  const orders = tracked(anon, 'Order Completed');
  expect(orders.map((o) => [o.total, o.products.map((p: any) => p.product_id)])).toEqual([
    [129, ['TRAIL-1']],
    [33.9, ['SOCKS-3']],
  ]);
  expect(first).toHaveLength(1);
  const stages = tracked(anon, 'Journey Stage Changed').map((p) => p.to);
  expect(stages).toEqual(expect.arrayContaining(['consideration', 'purchase', 'post_purchase', 'loyalty']));
  const exposures = tracked(anon, 'Experiment Viewed');
  expect(exposures.map((e) => e.experiment_id)).toContain('cart-delivery-message');

  // The collector's report counts the walk: the experiment, the rules, the channels.
  const res = await page.request.get('/v1/report', { headers: adminHeaders() });
  expect(res.status()).toBe(200);
  const report = await res.json();
  const experiment = report.experiments.find((e: any) => e.id === 'cart-delivery-message');
  expect(experiment, 'the experiment is in the report').toBeTruthy();
  expect(JSON.stringify(experiment)).toMatch(/"visitors":[1-9]/);
  const rules = report.personalization.rows.map((r: any) => r.ruleId);
  expect(rules).toEqual(expect.arrayContaining(['banner-cart-reminder', 'hero-discovery', 'cross-sell-cart', 'survey-post-purchase']));
  expect(JSON.stringify(report.channelsByStage)).toContain('Paid Social');
  expect(errors).toEqual([]);
});

test('the journey panel under the strict CSP page: opened by ?sillage_debug=1, no console error, no violation', async ({ page }) => {
  await page.addInitScript(() => {
    const seen: string[] = (window['__violations'] = []);
    addEventListener('securitypolicyviolation', (e) => seen.push(`${e.effectiveDirective} blocked ${e.blockedURI || '-'} ${e.sample}`));
  });
  const errors = watchErrors(page);
  const res = await page.goto('/test/csp.html?sillage_debug=1');
  expect(res!.headers()['content-security-policy']).toContain("require-trusted-types-for 'script'");
  const panel = page.locator('.sillage-panel');
  await expect(panel).toBeVisible();
  await panelStage(page, 'discovery');
  // Stage bars are <meter> elements; the slots, the queue and consent are there.
  await expect(panel.locator('meter')).toHaveCount(5);
  await expect(panel.locator('[data-slot="hero"]')).toContainText('hero-new');
  await expect(panel.locator('[data-row="tracking"]')).toContainText('allowed');
  await expect(panel.locator('[data-row="consent"]')).toBeVisible();
  await expect(panel.locator('.sp-touch').first()).toHaveAttribute('data-channel', 'Direct');
  // Live: an event moves the stage without a reload.
  await page.evaluate(() => window['sillage'].track('Product Added', { product_id: 'shoe-1', price: 129 }));
  await panelStage(page, 'purchase');
  await expect(panel.locator('.sp-reasons')).toContainText('Product Added');
  // The panel's styles come from its stylesheet: no inline style anywhere in it.
  expect(await panel.evaluate((p) => p.querySelectorAll('[style]').length)).toBe(0);
  await expect(panel).toHaveCSS('position', 'fixed');
  // Closing it removes it.
  await panel.locator('.sp-close').click();
  await expect(panel).toHaveCount(0);
  expect(await page.evaluate(() => window['__violations'])).toEqual([]);
  expect(errors).toEqual([]);
});

test('?sillage_debug=1 on a site without "debug": true loads no panel and says why', async ({ page }) => {
  const warnings: string[] = [];
  page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
  const errors = watchErrors(page);
  await page.goto('/test/delivery.html?sillage_debug=1');
  await expect.poll(() => warnings.join('\n')).toContain('sillage panel: ?sillage_debug=1 is off (set "debug": true in the config)');
  await expect(page.locator('.sillage-panel')).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('each entry link arrives through its channel, and the panel shows it', async ({ browser }) => {
  const cases: [string, string, string][] = [
    ['#from-instagram', 'Organic Social', 'instagram'],
    ['#from-instagram-ad', 'Paid Social', 'ig · spring-trail'],
    ['#from-google', 'Organic Search', 'google'],
    ['#from-newsletter', 'Email', 'newsletter · weekly-trail-letter'],
    ['#from-qr', 'Offline', 'flyer · lyon-store'],
    ['#from-ai', 'AI Assistant', 'chatgpt.com'],
  ];
  for (const [link, channel, source] of cases) {
    const context = await browser.newContext();
    await patient(context);
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto('/start.html');
    await page.click(link);
    await settled(page);
    await page.click('#panel-button');
    const touch = page.locator('.sillage-panel .sp-touch').first();
    await expect(touch).toHaveAttribute('data-channel', channel);
    await expect(touch).toContainText(source);
    expect(await page.evaluate(() => Promise.resolve(window['sillage'].profile()).then((p: any) => p.firstTouch.channel))).toBe(channel);
    expect(errors, link).toEqual([]);
    await context.close();
  }
});

test('what confused newcomers: no order with an empty cart, no cross-sell without a cart, a sign-up is thanked as a sign-up', async ({ page }) => {
  await patient(page);
  const errors = watchErrors(page);
  await page.goto('/checkout.html');
  const anon = await anonymousId(page);
  await expect(page.locator('#checkout-empty')).toContainText('Your cart is empty: there is nothing to order');
  await expect(page.locator('#place-order')).toBeHidden();
  await page.goto('/cart.html');
  await settled(page);
  await expect(page.locator('#cart-empty')).toBeVisible();
  await expect(slot(page, 'cross')).toBeHidden();
  await expect(slot(page, 'delivery')).toBeHidden();
  await page.goto('/account.html');
  await page.click('#newsletter-submit');
  await expect(page.locator('#newsletter-form [data-thanks]')).toHaveText('Thanks for signing up to the Trail Letter: the first one arrives on Friday.');
  await flushed(page);
  expect(tracked(anon, 'Checkout Started')).toEqual([]);
  expect(tracked(anon, 'Order Completed')).toEqual([]);
  expect(tracked(anon, 'Newsletter Subscribed')).toEqual([{ list: 'weekly-trail-letter', frequency: 'weekly' }]);
  // A lead is consideration, never post-purchase.
  expect(await page.evaluate(() => Promise.resolve(window['sillage'].profile()).then((p: any) => p.stage))).toBe('consideration');
  await expect(slot(page, 'banner')).toContainText('Rated 4.8/5 by 1,240 runners');
  // Personalization consent off shows the defaults; on again, the rules.
  await page.click('#no-personalization');
  await expect(slot(page, 'banner')).toHaveText('Free delivery from €100 · How this demo works');
  await page.reload();
  await expect(page.locator('#no-personalization')).toHaveText('Personalization is off: turn it back on');
  await expect(slot(page, 'banner')).toHaveText('Free delivery from €100 · How this demo works');
  await page.click('#no-personalization');
  await expect(slot(page, 'banner')).toContainText('Rated 4.8/5 by 1,240 runners');
  expect(errors).toEqual([]);
});

test('a team quote not converted after two weeks: an advisor is offered', async ({ page }) => {
  await patient(page);
  const errors = watchErrors(page);
  await page.clock.install({ time: new Date('2026-03-02T09:00:00Z') });
  await page.goto('/quote.html');
  await settled(page);
  await expect(slot(page, 'advisor')).toBeHidden();
  await page.click('#quote-form button[type=submit]');
  await expect(page.locator('#quote-form [data-thanks]')).toContainText('your quote for 20 × Trail Runner');
  await page.click('#panel-button');
  await panelStage(page, 'purchase');
  await flushed(page);
  await page.goto('about:blank');
  await page.clock.fastForward(15 * DAY);
  await page.goto('/quote.html');
  await settled(page);
  await expect(slot(page, 'advisor')).toBeVisible();
  await expect(slot(page, 'banner')).toContainText('Talk to an advisor');
  await expect(page.locator('.sillage-panel [data-signal="quoteNotConverted"]')).toHaveAttribute('data-on', 'true');
  await panelStage(page, 'purchase');
  // The panel stays open from page to page in this tab until it is closed.
  await page.locator('.sillage-panel .sp-close').click();
  await page.reload();
  await settled(page);
  await expect(page.locator('.sillage-panel')).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('the trail finder: each step a pushState page view, the answer an explicit interest that picks the gear', async ({ page }) => {
  await patient(page);
  const errors = watchErrors(page);
  await page.goto('/finder.html');
  const anon = await anonymousId(page);
  await settled(page);
  await expect(slot(page, 'finder-picks')).toBeHidden();
  await page.getByText('High mountains, several days').click();
  await expect(page).toHaveURL(/step=terrain&topic=hiking/);
  await page.getByText('Half a day or more').click();
  await expect(page.locator('#finder h2')).toHaveText('You are a hiker');
  await expect(slot(page, 'finder-picks')).toBeVisible();
  await expect(slot(page, 'finder-picks').locator('.rec').first()).toContainText(/Storm Rain Jacket|Ridge Hiking Boots/);
  await flushed(page);
  const paths = sql("SELECT payload FROM events WHERE anonymous_id = ? AND type = 'page' ORDER BY rowid", [anon]).map(
    (r) => JSON.parse(r.payload as string).properties.search,
  );
  expect(paths).toEqual(['', '?step=terrain&topic=hiking', '?step=result&topic=hiking']);
  expect(errors).toEqual([]);
});
