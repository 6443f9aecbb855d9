// Browser benchmarks, run by `cargo xtask bench` against a collector it
// started (argv[2] = base URL; its admin token in SILLAGE_ADMIN_TOKEN, for
// /v1/stats). Prints one JSON object. Numbers from a shared, noisy 2-core
// machine: read them as orders of magnitude, not as a gate.
import { chromium } from 'playwright-core';

const base = process.argv[2];
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const stats = async () => {
  const res = await fetch(`${base}/v1/stats`, { headers: { Authorization: `Bearer ${process.env.SILLAGE_ADMIN_TOKEN}` } });
  if (!res.ok) throw new Error(`GET /v1/stats: ${res.status} ${await res.text()}`);
  return res.json();
};
const result = {};

async function freshPage(blockStorage = false) {
  const context = await browser.newContext();
  const page = await context.newPage();
  if (blockStorage) {
    await page.addInitScript(() => {
      Object.defineProperty(window, 'localStorage', { get() { throw new DOMException('blocked', 'SecurityError'); } });
    });
  }
  await page.goto(`${base}/test/bench.html`);
  await page.evaluate(() => new Promise((r) => window.sillage.ready(r)));
  await page.evaluate(() => window.sillage.flush());
  return { context, page };
}

// 1. Main-thread cost of track(): 1,000 calls timed in 50 groups of 20
// (performance.now() is coarsened to 100 us without cross-origin isolation,
// so single calls cannot be timed); the median of the per-call group means.
// Measured twice: as shipped (each event written to localStorage at the end
// of the task that recorded it, so after the timed group), and with storage
// blocked (events in memory only).
for (const [name, blocked] of [['track', false], ['trackWithoutStorage', true]]) {
  const { context, page } = await freshPage(blocked);
  const r = await page.evaluate(() => {
    const per = [];
    for (let g = 0; g < 50; g++) {
      const t0 = performance.now();
      for (let i = 0; i < 20; i++) {
        window.sillage.track('Product Viewed', { product_id: 'SKU-' + i, price: 129.5, category: 'running', position: i });
      }
      per.push((performance.now() - t0) / 20);
    }
    per.sort((a, b) => a - b);
    return { medianUs: per[25] * 1000, p90Us: per[45] * 1000, meanUs: (per.reduce((a, b) => a + b) / 50) * 1000 };
  });
  result[name] = r;
  await page.evaluate(() => window.sillage.flush());
  await context.close();
}

// The browser's own cost of one synchronous localStorage.setItem of an event-sized value.
{
  const { context, page } = await freshPage();
  result.bareSetItemUs = await page.evaluate(() => {
    const v = 'v1|1795411448123|1|' + JSON.stringify({ pad: 'x'.repeat(420) });
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) localStorage.setItem('bench.' + i, v);
    const us = ((performance.now() - t0) / 1000) * 1000;
    for (let i = 0; i < 1000; i++) localStorage.removeItem('bench.' + i);
    return us;
  });
  await context.close();
}

// 2. Requests per 100 events and bytes per event on the wire, for a burst
// (100 calls at once) and for a steady 10 events per second.
for (const [name, gapMs] of [['burst', 0], ['paced10PerSecond', 100]]) {
  const { context, page } = await freshPage();
  const before = await stats();
  await page.evaluate(async (gap) => {
    for (let i = 0; i < 100; i++) {
      window.sillage.track('Product Viewed', { product_id: 'SKU-' + i, price: 129.5, category: 'running' });
      if (gap) await new Promise((r) => setTimeout(r, gap));
    }
  }, gapMs);
  await page.evaluate(() => window.sillage.flush());
  const after = await stats();
  const events = after.eventsReceived - before.eventsReceived;
  result[name] = {
    events,
    requests: after.requests - before.requests,
    bytesPerEvent: Math.round((after.bytesReceived - before.bytesReceived) / events),
  };
  await context.close();
}

// 3. sillage.profile(): the snapshot of a profile fed 1,000 events (what a
// page pays to read the visitor's stage, interests and signals).
{
  const { context, page } = await freshPage(true);
  result.profile = await page.evaluate(() => {
    for (let i = 0; i < 1000; i++) {
      window.sillage.track(i % 7 ? 'Product Viewed' : 'Product Added', {
        product_id: 'SKU-' + (i % 50), price: 20 + (i % 9), category: 'cat-' + (i % 40),
      });
    }
    const per = [];
    for (let g = 0; g < 25; g++) {
      const t0 = performance.now();
      for (let i = 0; i < 8; i++) window.sillage.profile();
      per.push((performance.now() - t0) / 8);
    }
    per.sort((a, b) => a - b);
    return { medianUs: per[12] * 1000, p90Us: per[22] * 1000, snapshotBytes: JSON.stringify(window.sillage.profile()).length };
  });
  await context.close();
}

await browser.close();
console.log(JSON.stringify(result));
