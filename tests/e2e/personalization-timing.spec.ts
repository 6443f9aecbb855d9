// Personalization and time: no flicker (cold and with the SDK cached), the
// decision against the first paint, SPA re-decision within a frame, and a
// page that re-renders its slots like a framework would.
import { type Page } from '@playwright/test';
import { test, expect, anonymousId, consoleOf, countBy, decided, diagnosticLine, flushed, patientSnippet, tracked, watchErrors } from './helpers';

/** What test pages' recorders saw, with the decision and the paints. */
interface Flicker {
  personalized: string[];
  decided: number;
  firstPaint: number;
  firstContentfulPaint: number;
  timedOut: boolean;
  /** When the page's HTML had arrived. */
  htmlEnd: number;
  frames: number;
  framesBeforeDecision: number;
  /** Frames, and mutation samples, in which a slot that ends personalized showed its default. */
  flickerFrames: number;
  flickerMutations: number;
  /** Samples before the decision in which a slot that ends personalized was visible at all. */
  visibleBeforeDecision: number;
  sdk: { file: string; transferSize: number; encodedBodySize: number; start: number; end: number }[];
}

/** Reads `window.__flicker` (recorded by flicker.html's head script) once the page settled. */
async function flicker(page: Page): Promise<Flicker> {
  await decided(page);
  await page.waitForTimeout(500); // frames after the decision are sampled too
  return page.evaluate(() => {
    const rec = window['__flicker'];
    const personalized = [...document.querySelectorAll('[data-sillage-applied]')].map((e) => e.getAttribute('data-sillage-slot')!);
    const decided = performance.getEntriesByName('sillage:decided')[0].startTime;
    const paint = (name: string) => performance.getEntriesByName(name)[0]?.startTime ?? NaN;
    const samples = [...rec.frames, ...rec.mutations];
    const hits = (list: string[]) => list.some((n) => personalized.includes(n));
    return {
      personalized,
      decided,
      firstPaint: paint('first-paint'),
      firstContentfulPaint: paint('first-contentful-paint'),
      timedOut: document.documentElement.hasAttribute('data-sillage-timeout'),
      htmlEnd: (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).responseEnd,
      frames: rec.frames.length,
      framesBeforeDecision: rec.frames.filter((f) => f.at < decided).length,
      flickerFrames: rec.frames.filter((f) => hits(f.defaults)).length,
      flickerMutations: rec.mutations.filter((f) => hits(f.defaults)).length,
      visibleBeforeDecision: samples.filter((f) => f.at < decided && hits(f.visible)).length,
      sdk: performance
        .getEntriesByType('resource')
        .filter((e) => e.name.includes('/sillage/'))
        .map((e) => {
          const r = e as PerformanceResourceTiming;
          return {
            file: r.name.replace(/.*\//, ''),
            transferSize: r.transferSize,
            encodedBodySize: r.encodedBodySize,
            start: r.startTime,
            end: r.responseEnd,
          };
        }),
    };
  });
}

function report(label: string, f: Flicker) {
  const cache = f.sdk
    .map((r) => `${r.file} ${r.transferSize}/${r.encodedBodySize} B at ${r.start.toFixed(0)}-${r.end.toFixed(0)} ms`)
    .join(', ');
  const text =
    `${label}: decided at ${f.decided.toFixed(1)} ms after navigation start (HTML in at ${f.htmlEnd.toFixed(1)} ms); ` +
    `first paint ${f.firstPaint.toFixed(1)} ms, ` +
    `first contentful paint ${f.firstContentfulPaint.toFixed(1)} ms; ${f.framesBeforeDecision} frames before the decision, ` +
    `${f.flickerFrames} of ${f.frames} frames (and ${f.flickerMutations} mutation samples) showed a replaced default; ` +
    `SDK transferred/body: ${cache}`;
  console.log(text);
  test.info().annotations.push({ type: label, description: text });
}

/**
 * No frame and no mutation sample shows a replaced default, and the slots
 * that end personalized were hidden until the decision. If the snippet's
 * timeout (300 ms) passed first, the defaults show and stay: no late swap.
 */
function expectNoFlicker(f: Flicker) {
  expect(f.personalized.sort()).toEqual(f.timedOut ? [] : ['hero', 'promo']);
  expect(f.frames).toBeGreaterThan(f.framesBeforeDecision); // the recorder ran past the decision
  expect(f.flickerFrames).toBe(0);
  expect(f.flickerMutations).toBe(0);
  expect(f.visibleBeforeDecision).toBe(0);
}

/** Most loads tried to get one decided before the snippet's timeout. */
const MAX_LOADS = 10;

/**
 * Loads until one is decided before the snippet's 300 ms timeout (a loaded
 * machine can be slower: then the defaults show and stay, which is checked
 * too), at most MAX_LOADS times: cold (the HTTP cache cleared before each
 * load) or with the SDK cached. A load that timed out proves nothing about
 * flicker, so the test needs a decided one and says how many loads it took.
 */
async function decidedLoad(page: Page, label: 'cold' | 'cached'): Promise<Flicker> {
  const cdp = await page.context().newCDPSession(page);
  for (let i = 1; i <= MAX_LOADS; i++) {
    if (label === 'cold') {
      await cdp.send('Network.clearBrowserCache');
      await page.goto('/test/flicker.html');
    } else {
      await page.reload();
    }
    const f = await flicker(page);
    report(`${label}${i > 1 ? ` (load ${i})` : ''}`, f);
    expectNoFlicker(f);
    if (!f.timedOut) {
      const text = `${label}: ${i} load(s) to get one decided before the snippet's timeout`;
      console.log(text);
      test.info().annotations.push({ type: `${label} loads`, description: text });
      // Decided, so the rules really ran: the counts above are about a personalized page.
      expect(f.personalized.sort()).toEqual(['hero', 'promo']);
      return f;
    }
  }
  throw new Error(`${label}: no load was decided before the snippet's timeout in ${MAX_LOADS} loads`);
}

test('no flicker: 0 frames show a replaced default, on the first load and with the SDK cached', async ({ page }) => {
  const errors = watchErrors(page);
  const cold = await decidedLoad(page, 'cold');
  // The cold load downloaded the SDK.
  const coldWasm = cold.sdk.find((r) => r.file === 'sillage_full_bg.wasm')!;
  expect(coldWasm.transferSize).toBeGreaterThanOrEqual(coldWasm.encodedBodySize);
  const cached = await decidedLoad(page, 'cached');
  // The reload used the HTTP cache: the wasm was revalidated, not downloaded.
  const wasm = cached.sdk.find((r) => r.file === 'sillage_full_bg.wasm')!;
  expect(wasm.transferSize).toBeLessThan(wasm.encodedBodySize);
  expect(errors).toEqual([]);
});

test('decision and first paint with the SDK cached: the slots are never painted before the decision', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/test/flicker.html');
  await decided(page);
  const f = await decidedLoad(page, 'cached');
  const lead = f.firstPaint - f.decided;
  const text =
    lead > 0
      ? `decided ${lead.toFixed(1)} ms before the first paint`
      : `decided ${(-lead).toFixed(1)} ms after the first paint, which showed the page with its slots hidden`;
  console.log(`first paint (cached): ${text}`);
  test.info().annotations.push({ type: 'first paint vs decision', description: text });
  // An async script cannot hold the first paint, so the first paint may come
  // first. What is guaranteed (expectNoFlicker): until the decision the slots
  // that end personalized are hidden (visibility, so nothing moves) in every
  // frame and after every mutation, and no frame shows a replaced default.
  expect(f.firstPaint).toBeGreaterThan(0);
  if (lead <= 0) expect(f.framesBeforeDecision).toBeGreaterThan(0); // the hidden slots were sampled in painted frames
  expect(errors).toEqual([]);
});

/** A frame counter that runs before any page script: the first callback of every frame. */
function countFrames() {
  window['__frame'] = 0;
  requestAnimationFrame(function tick() {
    window['__frame']++;
    requestAnimationFrame(tick);
  });
}

/** slot -> [rule id or '' for the default, text shown] */
type Want = Record<string, [string, string]>;

/**
 * Does `act` in the page (a click, a history call) and returns how many
 * frames began before every slot in `want` showed what it should (revealed,
 * with that rule and text): 0 or 1 means no frame painted the old content.
 */
async function framesUntil(page: Page, act: string, want: Want): Promise<number> {
  return page.evaluate(
    ({ act, want }) =>
      new Promise<number>((resolve) => {
        const shows = () =>
          Object.entries(want).every(([name, [rule, text]]) => {
            const el = document.querySelector(`[data-sillage-slot="${name}"]`);
            return (
              !!el &&
              (el.getAttribute('data-sillage-applied') ?? '') === rule &&
              el.textContent!.trim() === text &&
              el.hasAttribute('data-sillage-ready') &&
              getComputedStyle(el).visibility !== 'hidden'
            );
          });
        // history.back() navigates later, at its popstate event.
        let start = window['__frame'];
        const done = () => {
          if (!shows()) return;
          watcher.disconnect();
          resolve(window['__frame'] - start);
        };
        const watcher = new MutationObserver(done);
        watcher.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
        if (act === 'back') {
          addEventListener('popstate', () => (start = window['__frame']), { once: true });
          history.back();
        }
        else (document.querySelector(`[data-route="${act}"]`) as HTMLElement).click();
        setTimeout(() => resolve(-1), 3000);
      }),
    { act, want },
  );
}

test('SPA: after each navigation the slots show the new route within one frame, and the default where no rule matches', async ({ page }) => {
  await page.addInitScript(countFrames);
  await patientSnippet(page);
  const errors = watchErrors(page);
  await page.goto('/test/shop/');
  await decided(page);
  const anon = await anonymousId(page);
  const home: Want = { banner: ['', 'Welcome to the shop'], picks: ['', 'Our picks'] };
  const trail: Want = { banner: ['trail-banner', 'Trail season: the new shoes are in'], picks: ['trail-picks', 'Picked for trail runners'] };
  const road: Want = { banner: ['road-banner', 'Road shoes: 20% off this week'], picks: ['', 'Our picks'] };
  for (const [name, [, text]] of Object.entries(home)) {
    await expect(page.locator(`[data-sillage-slot="${name}"]`)).toHaveText(text);
  }
  const steps: [string, Want][] = [
    ['trail', trail],
    ['road', road],
    ['home', home], // the banner's default comes back
    ['trail', trail],
    ['back', home], // popstate
    ['road', road],
    ['trail', trail],
  ];
  const frames: number[] = [];
  for (const [act, want] of steps) {
    const n = await framesUntil(page, act, want);
    frames.push(n);
    expect(n, `${act}: frames before the new content (-1: never)`).toBeGreaterThanOrEqual(0);
    expect(n, `${act}: frames before the new content`).toBeLessThanOrEqual(1);
  }
  const text = `frames from navigation to the new content: ${frames.join(', ')}`;
  console.log(`SPA: ${text}`);
  test.info().annotations.push({ type: 'SPA', description: text });
  // The banner's default content is restored exactly.
  expect(await page.locator('[data-sillage-slot=banner]').innerHTML()).not.toContain('Welcome');
  await page.click('[data-route=home]');
  expect(await page.locator('[data-sillage-slot=banner]').innerHTML()).toBe('<p>Welcome to the shop</p>');
  // One exposure per slot per page view: trail was shown three times, road twice.
  await page.waitForTimeout(300);
  await flushed(page);
  expect(countBy(tracked(anon, 'Personalization Viewed'), 'rule_id')).toEqual({ 'trail-banner': 3, 'trail-picks': 3, 'road-banner': 2 });
  expect(errors).toEqual([]);
});

/**
 * Before any page script: every application of a rule (data-sillage-applied
 * appearing: an application restores the default, which removes it, then
 * sets it), the longest gap between frames, the longest task.
 */
function watchWork() {
  const w = window as any;
  w.__applied = {};
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.oldValue !== null) continue;
      const slot = (r.target as Element).getAttribute('data-sillage-slot')!;
      w.__applied[slot] = (w.__applied[slot] || 0) + 1;
    }
  }).observe(document, { subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ['data-sillage-applied'] });
  w.__gap = 0;
  let last = 0;
  requestAnimationFrame(function tick(t) {
    if (last && document.readyState === 'complete') w.__gap = Math.max(w.__gap, t - last);
    last = t;
    requestAnimationFrame(tick);
  });
  w.__longest = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) w.__longest = Math.max(w.__longest, e.duration);
  }).observe({ type: 'longtask' });
}

test('a framework re-rendering the slots every 50 ms for 2 s: ends personalized, bounded work, the page stays responsive', async ({ page }) => {
  await page.addInitScript(watchWork);
  await patientSnippet(page);
  const errors = watchErrors(page);
  const warnings = consoleOf(page, 'warning');
  await page.goto('/test/rerender.html');
  await decided(page);
  const anon = await anonymousId(page);
  await expect.poll(() => page.evaluate(() => window['rendersDone']), { timeout: 10_000 }).toBeGreaterThan(0);
  // The end state: personalized, though the framework's last render reset both slots.
  const hero = page.locator('[data-sillage-slot=hero]');
  const promo = page.locator('[data-sillage-slot=promo]');
  await expect(hero).toHaveAttribute('data-sillage-applied', 'hero-new', { timeout: 3000 });
  await expect(hero).toHaveText('New trail shoes for you');
  await expect(promo).toHaveText('Free shipping today', { timeout: 3000 });
  await expect(promo).toHaveAttribute('data-sillage-applied', 'promo-today');
  await expect(promo).toHaveClass('highlight');
  for (const el of [hero, promo]) await expect(el).toBeVisible();
  // Bounded work: then nothing more happens.
  const work = () => page.evaluate(() => ({ applied: { ...window['__applied'] }, renders: window['renders'], gap: window['__gap'], longest: window['__longest'] }));
  const settled = await work();
  await page.waitForTimeout(1500);
  const later = await work();
  expect(later.applied).toEqual(settled.applied);
  const text =
    `${settled.renders} renders; rules applied ${settled.applied.hero} times to hero (a fresh element each render), ` +
    `${settled.applied.promo} times to promo (the same element); longest frame gap ${later.gap.toFixed(0)} ms, ` +
    `longest task ${later.longest.toFixed(0)} ms (the whole page life, the SDK start included)`;
  console.log(`re-render: ${text}`);
  test.info().annotations.push({ type: 're-render', description: text });
  expect(settled.applied.hero).toBeLessThanOrEqual(settled.renders); // at most once per fresh element
  expect(settled.applied.promo).toBeLessThanOrEqual(3 * 3 + 1); // 3 a second while fought over, then once when quiet
  // The frame gap and the longest task are reported above, never asserted:
  // they measure the machine as much as the SDK (`cargo xtask bench` has them).
  // One exposure per slot for the page view, however often it was re-applied.
  await flushed(page);
  expect(countBy(tracked(anon, 'Personalization Viewed'), 'rule_id')).toEqual({ 'hero-new': 1, 'promo-today': 1 });
  const loopGuard = diagnosticLine('slot "{}" was re-rendered and re-applied 3 times within a second');
  expect(warnings.filter((w) => !loopGuard.test(w))).toEqual([]);
  expect(warnings.length).toBeLessThanOrEqual(1);
  expect(errors).toEqual([]);
});
