// Personalization and time: no flicker (cold and with the SDK cached), the
// decision against the first paint, SPA re-decision within a frame, and a
// page that re-renders its slots like a framework would.
import { test, expect, type Page } from '@playwright/test';
import { anonymousId, consoleOf, countBy, decided, flushed, tracked, watchErrors } from './helpers';

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

function expectNoFlicker(f: Flicker) {
  expect(f.timedOut).toBe(false);
  expect(f.personalized.sort()).toEqual(['hero', 'promo']);
  expect(f.frames).toBeGreaterThan(f.framesBeforeDecision); // the recorder ran past the decision
  expect(f.flickerFrames).toBe(0);
  expect(f.flickerMutations).toBe(0);
  expect(f.visibleBeforeDecision).toBe(0);
}

test('no flicker: 0 frames show a replaced default, on the first load and with the SDK cached', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/test/flicker.html');
  const cold = await flicker(page);
  report('cold', cold);
  expectNoFlicker(cold);
  await page.reload();
  const cached = await flicker(page);
  report('cached', cached);
  expectNoFlicker(cached);
  // The reload used the HTTP cache: the wasm was revalidated, not downloaded.
  const wasm = cached.sdk.find((r) => r.file === 'sillage_bg.wasm')!;
  expect(wasm.transferSize).toBeLessThan(wasm.encodedBodySize);
  expect(errors).toEqual([]);
});

test('decision and first paint with the SDK cached: the slots are never painted before the decision', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/test/flicker.html');
  await decided(page);
  await page.reload();
  const f = await flicker(page);
  report('first paint (cached)', f);
  const lead = f.firstPaint - f.decided;
  const text =
    lead > 0
      ? `decided ${lead.toFixed(1)} ms before the first paint`
      : `decided ${(-lead).toFixed(1)} ms after the first paint, which showed the page with its slots hidden`;
  console.log(`first paint (cached): ${text}`);
  test.info().annotations.push({ type: 'first paint vs decision', description: text });
  // An async script cannot hold the first paint, so the first paint may come
  // first. What is guaranteed: until the decision the slots that end
  // personalized are hidden (visibility, so nothing moves) in every frame and
  // after every mutation, and no frame shows a replaced default.
  expect(f.firstPaint).toBeGreaterThan(0);
  expectNoFlicker(f);
  if (lead <= 0) expect(f.framesBeforeDecision).toBeGreaterThan(0); // the hidden slots were sampled in painted frames
  expect(errors).toEqual([]);
});
