// Personalization never breaks the page (issue 11, item 1): every action
// moves the page's own nodes and never leaves a copy of one, and every way
// back to the default (the rule stops matching, consent withdrawn, an SPA
// navigation, another rule) puts those very nodes back, with their
// listeners, their state, and the references the page keeps to them.
//
// The host page (www/test/identity.html) binds to the slots' children what
// real sites bind: click counters (the count kept in JS and shown in the
// DOM by the node the listener captured), typed inputs, a folded
// <details>, a ticked checkbox, a drawn <canvas>, product cards with their
// own "Add to cart" listeners that record `Product Added` (the demo's bug),
// and a router that keeps its views alive while away. Every node of the
// default content carries a JS property (an expando) that a copy made by
// cloneNode would not have, and every element a `data-k` key.
import { type Page } from '@playwright/test';
import { test, expect, anonymousId, consoleOf, decided, diagnosticLine, flushed, patientSnippet, tracked, watchErrors } from './helpers';

test.beforeEach(async ({ page }) => {
  await patientSnippet(page);
});

/** What a slot should show: its default, its "on" rule, its "alt" rule, or nothing (the slot element is out of the document). */
type Mode = 'default' | 'on' | 'alt' | 'out';
/** The states the main test visits: the defaults, the "on" rules, the "alt" rules, the defaults after navigating away. */
type State = 'off' | 'on' | 'alt' | 'away';

/** The slots the `step` attribute switches ("on", "alt"); `outer` and `inner` are switched by "nest". */
const SLOTS = ['variant', 'html', 'text', 'attr', 'class', 'hide', 'products', 'shelf', 'recs', 'kept'];
const NESTED = ['outer', 'inner'];

/** The two sets of interests the iterations alternate, and the orders they give. */
const INTERESTS = [
  { interests: { running: 1, hiking: 0.4, yoga: 0.1 }, products: ['TRAIL-1', 'SOCKS-3', 'JACKET-2', 'MAT-4'], shelf: ['running', 'hiking', 'yoga'] },
  { interests: { yoga: 1, hiking: 0.6, running: 0.2 }, products: ['MAT-4', 'JACKET-2', 'TRAIL-1', 'SOCKS-3'], shelf: ['yoga', 'hiking', 'running'] },
];
const DEFAULT_PRODUCTS = ['JACKET-2', 'TRAIL-1', 'MAT-4', 'SOCKS-3'];
type Order = { products: string[]; shelf: string[] };

/** Each slot's mode in a state of the main test. */
function modesOf(state: State): Record<string, Mode> {
  const modes: Record<string, Mode> = {};
  for (const s of SLOTS) modes[s] = state === 'on' || state === 'alt' ? state : 'default';
  if (state === 'away') modes.kept = 'out'; // the router detached its view
  for (const s of NESTED) modes[s] = 'default';
  return modes;
}

/** Waits until every slot carries the `data-sillage-applied` its mode asks for (`<slot>-on`, `<slot>-alt`, none). */
async function reach(page: Page, modes: Record<string, Mode>, context: string) {
  const want: Record<string, string | null | undefined> = {};
  for (const [name, mode] of Object.entries(modes)) want[name] = mode === 'out' ? undefined : mode === 'default' ? null : `${name}-${mode}`;
  await expect
    .poll(
      () =>
        page.evaluate((names) => {
          const out: Record<string, string | null | undefined> = {};
          for (const name of names) {
            const el = document.querySelector(`[data-sillage-slot="${name}"]`);
            out[name] = el ? el.getAttribute('data-sillage-applied') : undefined;
          }
          return out;
        }, Object.keys(modes)),
      { message: `${context}: the slots' marks`, timeout: 10_000 },
    )
    .toEqual(want);
}

/**
 * Checks the whole page, each slot in its mode, in the page: the problems
 * found (empty: all is well) and what was verified. Clicks every counter and
 * "Add to cart" the document shows, through the node the document holds.
 */
async function check(page: Page, modes: Record<string, Mode>, order: Order) {
  return page.evaluate(
    ({ modes, order }) => {
      const problems: string[] = [];
      const w = window as any;
      const keep: Record<string, Element> = w.keep;
      const orig: Record<string, Node[]> = w.orig;
      const slots: Record<string, Element> = w.slots;
      const walk = (root: Node) => {
        const out: Node[] = [];
        const t = document.createTreeWalker(root, NodeFilter.SHOW_ALL);
        let n: Node | null;
        while ((n = t.nextNode())) out.push(n);
        return out;
      };
      const desc = (n: Node) =>
        n.nodeType === 1 ? `<${(n as Element).localName} data-k="${(n as Element).getAttribute('data-k')}">` : JSON.stringify(n.textContent);
      const own = (name: string, pred: (e: Element) => boolean) =>
        orig[name].find((n) => n.nodeType === 1 && pred(n as Element)) as HTMLElement;
      const attrs: (el: Element) => string = w.attributes;
      const verified = { sameNodes: 0, clicks: 0, adds: 0 };

      // No copy anywhere: every keyed element in the document is the page's
      // own node, once.
      const seen = new Set<string>();
      for (const el of document.querySelectorAll('[data-k]')) {
        const k = el.getAttribute('data-k')!;
        if (keep[k] !== el || !(el as any).__orig) problems.push(`a copy of ${desc(el)} is in the document`);
        if (seen.has(k)) problems.push(`${desc(el)} is in the document twice`);
        seen.add(k);
      }

      if (Object.keys(modes).sort().join() !== Object.keys(slots).sort().join()) problems.push(`the test knows ${Object.keys(modes)}, the page ${Object.keys(slots)}`);
      for (const [name, mode] of Object.entries(modes)) {
        const slot = slots[name];
        if (mode === 'out') {
          if (slot.isConnected) problems.push(`${name}: the slot should be out of the document`);
          continue;
        }
        if (document.querySelector(`[data-sillage-slot="${name}"]`) !== slot) problems.push(`${name}: the slot element is not the page's own`);
        const mark = slot.getAttribute('data-sillage-applied');
        if (mark !== (mode === 'default' ? null : `${name}-${mode}`)) problems.push(`${name}: data-sillage-applied is ${mark}`);
        const now = walk(slot);

        if (mode === 'default') {
          // The default is made of the very nodes it was made of, in order,
          // with the attributes they had.
          const before = orig[name];
          const i = now.findIndex((n, i) => n !== before[i]);
          if (i >= 0 || now.length !== before.length) {
            const at = i >= 0 ? i : Math.min(now.length, before.length);
            problems.push(
              `${name}: the default content is not the page's own nodes: at ${at}, ${now[at] ? desc(now[at]) : 'nothing'} instead of ${before[at] ? desc(before[at]) : 'nothing'}`,
            );
          }
          for (const n of now) if (!(n as any).__orig) problems.push(`${name}: ${desc(n)} is a copy or not the page's (no expando)`);
          now.forEach((n, i) => {
            if (n.nodeType === 1 && attrs(n as Element) !== w.markup[name][i])
              problems.push(`${name}: ${desc(n)} has ${attrs(n as Element)}, not ${w.markup[name][i]}`);
          });
          if (attrs(slot) !== w.slotAttrs[name]) problems.push(`${name}: the slot's attributes are ${attrs(slot)}, not ${w.slotAttrs[name]}`);
          verified.sameNodes += now.length;
          continue;
        }

        // Applied: which of the page's nodes are out (kept by Sillage, not in
        // the document), and whether new nodes may be in the slot.
        let out: Set<Node>;
        let ours = true;
        if (mode === 'alt' || ['variant', 'html', 'kept', 'outer'].includes(name)) {
          out = new Set(orig[name]);
        } else if (name === 'text') {
          out = new Set(w.headline); // the headline's own children, as they were
        } else {
          out = new Set();
          ours = name === 'recs';
        }
        for (const n of orig[name]) {
          if (out.has(n)) {
            if (n.isConnected) problems.push(`${name}: ${desc(n)} should be out of the document`);
          } else if (!slot.contains(n)) {
            problems.push(`${name}: the page's ${desc(n)} is not in its slot`);
          } else {
            verified.sameNodes++;
          }
        }
        for (const n of now) {
          if (!(n as any).__orig && !ours) problems.push(`${name}: ${desc(n)} is not the page's own node`);
        }
        if (mode === 'alt') {
          if (slot.innerHTML !== '<p class="ours">Another rule</p>') problems.push(`${name}: shows ${slot.innerHTML}`);
          continue;
        }
        switch (name) {
          case 'variant':
            if (slot.innerHTML !== '<h2 class="ours">New trail shoes for you</h2><button class="ours">See them</button>')
              problems.push(`variant: shows ${slot.innerHTML}`);
            break;
          case 'html':
            if (slot.innerHTML !== '<p>Hello <b>runner</b>, <a href="/trail">see trail</a></p>') problems.push(`html: shows ${slot.innerHTML}`);
            break;
          case 'kept':
            if (slot.innerHTML !== '<p class="ours">New for this route</p>') problems.push(`kept: shows ${slot.innerHTML}`);
            break;
          case 'outer':
            if (slot.innerHTML !== '<p class="ours">Outer variant</p>') problems.push(`outer: shows ${slot.innerHTML}`);
            break;
          case 'text': {
            const h = own('text', (e) => e.classList.contains('headline'));
            if (!h.isConnected || h.childNodes.length !== 1 || h.textContent !== 'Free shipping today')
              problems.push(`text: the headline shows ${h.innerHTML}`);
            break;
          }
          case 'attr': {
            const a = own('attr', (e) => e.localName === 'a');
            if (a.getAttribute('href') !== '/checkout' || slot.getAttribute('title') !== 'Offer')
              problems.push(`attr: href ${a.getAttribute('href')}, title ${slot.getAttribute('title')}`);
            break;
          }
          case 'class':
            if (!slot.classList.contains('highlight') || own('class', (e) => e.classList.contains('card')).classList.contains('plain'))
              problems.push(`class: ${slot.className} / ${own('class', (e) => e.classList.contains('card')).className}`);
            break;
          case 'hide':
            if (!own('hide', (e) => e.classList.contains('fine-print')).hidden || own('hide', (e) => e.classList.contains('members')).hidden)
              problems.push('hide: .fine-print should be hidden and .members shown');
            break;
          case 'products': {
            const skus = [...slot.children].map((c) => c.getAttribute('data-sku'));
            if (skus.join() !== order.products.join()) problems.push(`products: order ${skus.join()}, not ${order.products.join()}`);
            break;
          }
          case 'shelf': {
            const topics = [...slot.querySelectorAll('li')].map((c) => c.getAttribute('data-sillage-topics'));
            if (topics.join() !== order.shelf.join()) problems.push(`shelf: order ${topics.join()}, not ${order.shelf.join()}`);
            break;
          }
          case 'recs': {
            const made = now.filter((n) => !(n as any).__orig && n.parentNode === slot && n.nodeType === 1) as Element[];
            if (made.length === 0 || made.some((e) => !e.hasAttribute('data-sillage-generated')))
              problems.push(`recs: recommended items ${made.map(desc).join(' ')}`);
            const mine = now.filter((n) => (n as any).__orig);
            if (mine.length !== orig.recs.length || mine.some((n, i) => n !== orig.recs[i])) problems.push("recs: the page's nodes moved");
            break;
          }
        }
      }

      // The page's state lives on its nodes, in or out of the document.
      for (const [k, value] of Object.entries(w.typed as Record<string, string>)) {
        if ((keep[k] as HTMLInputElement).value !== value) problems.push(`${k}: the input holds "${(keep[k] as HTMLInputElement).value}", not "${value}"`);
        const shown = document.querySelector(`[data-k="${k}"]`) as HTMLInputElement | null;
        if (shown && shown.value !== value) problems.push(`${k}: the document's input holds "${shown.value}"`);
      }
      const details = own('variant', (e) => e.localName === 'details') as HTMLDetailsElement;
      if (details.open) problems.push('the folded <details> is open again');
      const picked = own('shelf', (e) => e.classList.contains('pick') && e.closest('li')!.getAttribute('data-sillage-topics') === 'running') as HTMLInputElement;
      if (!picked.checked) problems.push('the ticked checkbox is not ticked');
      const canvas = own('html', (e) => e.localName === 'canvas') as HTMLCanvasElement;
      if (canvas.getContext('2d')!.getImageData(10, 10, 1, 1).data[0] !== 255) problems.push('the canvas lost its drawing');
      const cart = document.getElementById('cart-total')!.textContent;
      if (cart !== String(w.addsTotal)) problems.push(`the cart shows ${cart}, the page counted ${w.addsTotal}`);

      // Listeners: click every counter and every "Add to cart" the document
      // shows, as found in the document; the page's count and what the
      // document shows must move.
      for (const card of document.querySelectorAll('[data-sillage-slot=products] article')) {
        const sku = card.getAttribute('data-sku')!;
        const before = w.adds[sku];
        (card.querySelector('.add') as HTMLElement).click();
        verified.adds++;
        const shown = card.querySelector('.added')!.textContent;
        if (w.adds[sku] !== before + 1 || shown !== String(before + 1)) problems.push(`${sku}: Add to cart counted ${w.adds[sku] - before}, the card shows ${shown}`);
      }
      for (const k of Object.keys(w.counts)) {
        const el = document.querySelector(`[data-k="${k}"]`) as HTMLElement | null;
        if (!el) continue;
        const before = w.counts[k];
        el.click();
        verified.clicks++;
        const shown = document.querySelector(`[data-k="${k}"] .n`)!.textContent;
        if (w.counts[k] !== before + 1 || shown !== String(before + 1)) problems.push(`${k}: a click counted ${w.counts[k] - before}, the document shows ${shown}`);
      }
      return { problems, verified };
    },
    { modes, order },
  );
}

/** Clicks "Add to cart" on `sku`'s card as a visitor would (the mouse, where the document shows it); it must count once. */
async function addToCart(page: Page, sku: string, context: string) {
  const before = await page.evaluate((sku) => (window as any).adds[sku], sku);
  const card = page.locator(`[data-sillage-slot=products] article[data-sku="${sku}"]`);
  await card.locator('.add').click();
  expect(await page.evaluate((sku) => (window as any).adds[sku], sku), `${context}: Add to cart on ${sku}`).toBe(before + 1);
  await expect(card.locator('.added'), `${context}: ${sku}'s count`).toHaveText(String(before + 1));
}

/**
 * The visitor uses the page before any rule applies (types, folds, ticks,
 * picks a quantity); then the page's default content, as the visitor left
 * it, is what every restore must give back, node for node.
 */
async function useThePage(page: Page) {
  await page.locator('[data-sillage-slot=variant] input').pressSequentially('trail shoes');
  await page.locator('[data-sillage-slot=text] input').pressSequentially('SPRING10');
  await page.locator('[data-sillage-slot=kept] input').pressSequentially('remember me');
  await page.locator('[data-sillage-slot=variant] summary').click();
  await page.locator('[data-sillage-slot=shelf] li[data-sillage-topics=running] input').check();
  await page.locator('[data-sillage-slot=products] article[data-sku="TRAIL-1"] .qty').fill('2');
  await page.evaluate(() => {
    const w = window as any;
    w.snapshot();
    const headline = w.slots.text.querySelector('.headline');
    w.headline = w.orig.text.filter((n: Node) => n !== headline && headline.contains(n));
  });
  expect(Object.values(await page.evaluate(() => (window as any).typed)).sort()).toEqual(['SPRING10', 'remember me', 'trail shoes']);
}

test("every action and every restore path keep the page's own nodes, 20 times over: same objects, listeners firing, state intact, no copy", async ({ page }) => {
  test.setTimeout(300_000);
  const errors = watchErrors(page);
  const warnings = consoleOf(page, 'warning');
  await page.goto('/test/identity.html');
  await decided(page);
  const anon = await anonymousId(page);

  await useThePage(page);

  const set = (attrs: Record<string, string>) => page.evaluate((a) => (window as any).sillage.attributes(a), attrs);
  let onAdds = 0;
  let mouse = 0;
  let allAdds = 0;
  let sameNodes = 0;
  let clicks = 0;
  const visit = async (state: State, i: number, path: string, order: Order) => {
    const context = `iteration ${i + 1}, ${path}, "${state}"`;
    await reach(page, modesOf(state), context);
    const { problems, verified } = await check(page, modesOf(state), order);
    expect(problems, context).toEqual([]);
    sameNodes += verified.sameNodes;
    clicks += verified.clicks;
    allAdds += verified.adds;
    if (state === 'on') onAdds += verified.adds;
    if (state !== 'alt') {
      // One card a time by the mouse, each in turn.
      await addToCart(page, DEFAULT_PRODUCTS[mouse++ % DEFAULT_PRODUCTS.length], context);
      allAdds++;
      if (state === 'on') onAdds++;
    }
  };

  for (let i = 0; i < 20; i++) {
    const { interests, products, shelf } = INTERESTS[i % 2];
    const order = { products, shelf };
    await page.evaluate((interests) => {
      for (const [topic, weight] of Object.entries(interests)) (window as any).sillage.interest(topic, weight);
    }, interests);

    // The loop guard holds back a 4th application of the same decision
    // within a second; the "alt" rule, a different decision, comes between
    // every 3 (this test is about identity, not about that guard).

    // 1. The rules apply, then stop matching.
    await set({ step: 'on' });
    await visit('on', i, 'rules on', order);
    await set({ step: 'off' });
    await visit('off', i, 'the rules stop matching', order);

    // 2. Another rule takes every slot over, then the first rules win again
    //    (undone and applied in the same frame).
    await set({ step: 'alt' });
    await visit('alt', i, 'another rule wins', order);
    await set({ step: 'on' });
    await visit('on', i, 'the first rules win again', order);

    // 3. Consent withdrawn, then granted again.
    await page.evaluate(() => (window as any).sillage.consent({ personalization: false }));
    await visit('off', i, 'consent withdrawn', order);
    await page.evaluate(() => (window as any).sillage.consent({ personalization: true }));
    await visit('on', i, 'consent granted again', order);

    // 4. An SPA navigation to a route where no rule applies (its router
    //    detaches the home view and keeps it), then back.
    await page.evaluate(() => (window as any).go('/test/identity/elsewhere'));
    await visit('away', i, 'navigated away', order);
    await page.evaluate(() => history.back());
    await expect.poll(() => page.evaluate(() => location.pathname)).toBe('/test/identity.html');
    await visit('on', i, 'navigated back', order);

    // 5. From the other rule back to no rule.
    await set({ step: 'alt' });
    await visit('alt', i, 'another rule wins again', order);
    await set({ step: 'off' });
    await visit('off', i, 'no rule', order);
  }

  // Every Add to cart click reached the page's listener and the collector,
  // those in the reordered slot too (the demo lost them).
  await flushed(page);
  expect(tracked(anon, 'Product Added')).toHaveLength(allAdds);
  expect(tracked(anon, 'Personalization Clicked').filter((p) => p.rule_id === 'products-on')).toHaveLength(onAdds);
  expect(await page.evaluate(() => (window as any).addsTotal)).toBe(allAdds);
  expect(sameNodes).toBeGreaterThan(0);
  expect(clicks).toBeGreaterThan(0);
  const text = `${sameNodes} node identities, ${clicks} counter clicks, ${allAdds} Add to cart clicks checked`;
  console.log(`identity: ${text}`);
  test.info().annotations.push({ type: 'checked', description: text });
  expect(warnings).toEqual([]);
  expect(errors).toEqual([]);
});

test('a slot inside content a rule takes out: the inner slot gets its own nodes back too, 20 times over', async ({ page }) => {
  // The outer slot's rule replaces its whole default, the inner slot (part
  // of that default) with it; the inner slot's own rule has changed it
  // meanwhile. Out of the document, the inner slot is forgotten: it must get
  // the page's nodes back first, so that the outer slot's default comes back
  // whole.
  test.setTimeout(120_000);
  const errors = watchErrors(page);
  const warnings = consoleOf(page, 'warning');
  await page.goto('/test/identity.html');
  await decided(page);
  await useThePage(page);
  await page.evaluate(() => {
    const w = window as any;
    // The inner slot's rule applies while it is out of the document: seen
    // by an observer on the element itself.
    w.innerApplied = 0;
    new MutationObserver(() => {
      if (w.slots.inner.getAttribute('data-sillage-applied') === 'inner-on') w.innerApplied++;
    }).observe(w.slots.inner, { attributes: true, attributeFilter: ['data-sillage-applied'] });
  });
  const off = modesOf('off');
  const nest = { ...off, outer: 'on' as Mode, inner: 'out' as Mode };
  const order = { products: DEFAULT_PRODUCTS, shelf: [] };
  for (let i = 0; i < 20; i++) {
    await page.evaluate(() => (window as any).sillage.attributes({ step: 'nest' }));
    await reach(page, nest, `iteration ${i + 1}, nested rules on`);
    await expect.poll(() => page.evaluate(() => (window as any).innerApplied), `iteration ${i + 1}: the inner rule applied`).toBe(i + 1);
    expect((await check(page, nest, order)).problems, `iteration ${i + 1}, nested rules on`).toEqual([]);
    await page.evaluate(() => (window as any).sillage.attributes({ step: 'off' }));
    await reach(page, off, `iteration ${i + 1}, nested rules off`);
    expect((await check(page, off, order)).problems, `iteration ${i + 1}, nested rules off`).toEqual([]);
  }
  // Switching faster than 3 times a second, the outer slot meets the loop
  // guard (held, then applied once the page is quiet): not what this test is
  // about, and the only warning allowed.
  const loopGuard = diagnosticLine('slot "{}" was re-rendered and re-applied 3 times within a second');
  expect(warnings.filter((w) => !loopGuard.test(w) || !w.includes('outer'))).toEqual([]);
  expect(errors).toEqual([]);
});
