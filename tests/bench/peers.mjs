// Sillage side by side with the SDKs it competes with, in one headless
// Chromium run: `cargo xtask bench --peers` runs it (after installing the
// pinned peers in tests/bench/peers/ and building Sillage into
// target/sillage-sdk) and writes BENCHMARKS.md from its JSON with
// tests/bench/report.mjs.
//
//   node tests/bench/peers.mjs [--reps 5] [--out FILE.json] [--sdk-dir DIR]
//
// Every SDK is loaded from 127.0.0.1 (the local web server in recorder.mjs)
// on its own page and sends to that server's recording endpoint. Each
// repetition measures every SDK, in an order that rotates (interleaved, so a
// slow moment of the machine does not fall on one SDK). Progress goes to
// stderr; the figures are medians and ranges over the repetitions. No figure
// is a gate: the script fails only if it cannot run.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_EVENT, LABEL, SNOWPLOW_SCHEMA, compressedSizes, startRecorder } from './recorder.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
};
const REPS = Number(arg('--reps', 5));
// For working on the harness: `--only sillage,posthog` and `--dump DIR` (every recorded request).
const ONLY = arg('--only', null)?.split(',');
const DUMP = arg('--dump', null);
const OUT = arg('--out', null);
const SDK_DIR = path.resolve(root, arg('--sdk-dir', 'target/sillage-sdk'));
const NM = path.join(here, 'peers/node_modules');
const CASES = path.resolve(root, '../shared/conformance/growthbook-cases.json');
const t00 = Date.now();
const log = (m) => process.stderr.write(`[peers ${((Date.now() - t00) / 1000).toFixed(0).padStart(4)}s] ${m}\n`);

// ---------------------------------------------------------------- the SDKs

const pkgVersion = (name) => JSON.parse(fs.readFileSync(path.join(NM, name, 'package.json'), 'utf8')).version;
const SILLAGE_VERSION = (fs.readFileSync(path.join(root, 'Cargo.toml'), 'utf8').match(/^version\s*=\s*"([^"]+)"/m) || [])[1];

/** URL path -> file on disk: Sillage's build and the peers' browser builds, as their CDNs serve them. */
function files(p) {
  const safe = (dir, rest) => {
    const f = path.resolve(dir, '.' + path.posix.normalize('/' + rest));
    return f.startsWith(dir + path.sep) && fs.existsSync(f) && fs.statSync(f).isFile() ? f : null;
  };
  let m;
  if ((m = p.match(/^\/sillage\/(.+)$/))) return safe(SDK_DIR, m[1]);
  // analytics-next's UMD build loads its chunks from `${cdnURL}/analytics-next/bundles/`.
  if ((m = p.match(/^\/peers\/segment\/(?:analytics-next\/bundles\/)?([^/]+)$/))) {
    return safe(path.join(NM, '@segment/analytics-next/dist/umd'), m[1]);
  }
  // posthog-js's CDN build (`array.js`, what its snippet loads) and its lazily loaded extensions.
  if ((m = p.match(/^\/peers\/posthog\/([^/]+)$/))) return safe(path.join(NM, 'posthog-js/dist'), m[1]);
  if (p === '/peers/snowplow/sp.js') return path.join(NM, '@snowplow/browser-tracker/dist/index.umd.min.js');
  if (p === '/peers/growthbook/growthbook.js') return path.join(NM, '@growthbook/growthbook/dist/bundles/index.min.js');
  return null;
}

const HEAD = (title) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>${title}</title>
<script>window.__bench={ready:false,readyAt:NaN,errors:[]};addEventListener('error',function(e){__bench.errors.push(String(e.message))});
function __ready(){if(!__bench.ready){__bench.ready=true;__bench.readyAt=performance.now()}}</script>`;

const SEGMENT = (rec, batching) => {
  const io = { apiKey: 'bench-write-key', protocol: 'http' };
  if (batching) io.deliveryStrategy = { strategy: 'batching', config: { size: 10, timeout: 5000 } };
  return `${HEAD('Segment')}
<script>
function __init(){
  var io=${JSON.stringify(io)};io.apiHost=location.host+'${rec}/v1';
  var ab=AnalyticsNext.AnalyticsBrowser.load({writeKey:'bench-write-key',cdnURL:location.origin+'/peers/segment',
    cdnSettings:{integrations:{'Segment.io':io},plan:{},metrics:{sampleRate:0}}});
  window.analytics=ab;
  ab.page();
  ab.ready(function(){__ready()});
  __bench.track=function(e,p){return ab.instance.track(e,p)};
  __bench.calls={page:function(p){return ab.page(p)},track:function(e,p){return ab.track(e,p)},identify:function(u,t){return ab.identify(u,t)}};
}
</script>
<script async src="/peers/segment/index.js" onload="__init()"></script></head><body><h1>Segment</h1></body></html>`;
};

const PAGES = {
  sillage: (rec) => `${HEAD('Sillage')}
<script type="application/json" id="sillage-config">{"version":1,"collector":{"url":"${rec}/v1/batch"}}</script>
<script>!function(w){var s=w.sillage=w.sillage||{_q:[]};"track page identify consent attributes interest on ready".split(" ").forEach(function(m){s[m]=s[m]||function(){s._q.push([m,[].slice.call(arguments)])}})}(window)</script>
<script async src="/sillage/sillage.js"></script>
<script>sillage.ready(__ready);__bench.track=function(e,p){return sillage.track(e,p)};</script>
</head><body><h1>Sillage</h1></body></html>`,
  // Sillage with `collector.compress: "gzip"` (off by default, for
  // pipelines that cannot read it; the reference collector can).
  'sillage-gzip': (rec) => PAGES.sillage(rec).replace('"collector":{', '"collector":{"compress":"gzip",'),
  'sillage-slots': (rec) => `<!doctype html><html lang="en"><head><meta charset="utf-8">
<script>!function(d,t){var s=d.createElement("style");s.id="sillage-hide";s.textContent="[data-sillage-slot]:not([data-sillage-ready]){visibility:hidden}";d.head.appendChild(s);setTimeout(function(){s.parentNode&&(d.documentElement.setAttribute("data-sillage-timeout",""),s.remove())},Math.min(t,1e3))}(document,300)</script>
<link rel="icon" href="data:,"><title>Sillage with slots</title>
<script type="application/json" id="sillage-config">{"version":1,"collector":{"url":"${rec}/v1/batch"},
"rules":[{"id":"hero-runner","slot":"hero","variant":"runner"},
{"id":"promo-today","slot":"promo","actions":[{"type":"replace","html":"<p>Free shipping <b>today</b></p>"}]}]}</script>
<script async src="/sillage/sillage.js"></script>
<link rel="modulepreload" href="/sillage/sillage_full.js">
<link rel="preload" href="/sillage/sillage_full_bg.wasm" as="fetch" type="application/wasm" crossorigin>
</head><body><h1>Slots</h1>
<section data-sillage-slot="hero"><h2>Welcome to the store</h2></section>
<template data-sillage-variant="hero/runner"><h2>New trail shoes for you</h2></template>
<section data-sillage-slot="promo"><p>Our promotions</p></section>
<section data-sillage-slot="news"><p>No rule for this slot.</p></section>
</body></html>`,
  segment: (rec) => SEGMENT(rec, false),
  'segment-batching': (rec) => SEGMENT(rec, true),
  // PostHog's CDN build at its defaults, but: its client rate limit raised so
  // that 1,000 events in a burst are all captured (its default, 10/s with
  // bursts of 100, drops 900 of them), and no external script it would load
  // from PostHog's servers (its remote config is answered locally).
  posthog: (rec) => `${HEAD('PostHog')}
<script>
function __init(){
  posthog.init('phc_bench',{api_host:location.origin+'${rec}',
    rate_limiting:{events_per_second:1000,events_burst_limit:1000},
    loaded:function(){__ready()}});
  __bench.track=function(e,p){return posthog.capture(e,p)};
}
</script>
<script async src="/peers/posthog/array.js" onload="__init()"></script></head><body><h1>PostHog</h1></body></html>`,
  snowplow: (rec) => `${HEAD('Snowplow')}
<script>
function __init(){
  var sp=snowplowBrowserTracking;
  sp.newTracker('sp',location.origin+'${rec}',{appId:'bench'});
  sp.trackPageView();
  __ready();
  __bench.track=function(e,p){return sp.trackSelfDescribingEvent({event:{schema:'${SNOWPLOW_SCHEMA}',data:p}})};
}
</script>
<script async src="/peers/snowplow/sp.js" onload="__init()"></script></head><body><h1>Snowplow</h1></body></html>`,
  growthbook: () => `${HEAD('GrowthBook')}
<script>
function __init(){
  var gb=window.gb=new growthbook.GrowthBook({attributes:{id:'u1',country:'FR'}});
  gb.init({payload:{features:{'hero-copy':{defaultValue:'a',rules:[{condition:{country:'FR'},force:'b'}]}}}}).then(function(){gb.getFeatureValue('hero-copy','a');__ready()});
}
</script>
<script async src="/peers/growthbook/growthbook.js" onload="__init()"></script></head><body><h1>GrowthBook</h1></body></html>`,
};

function page(name, runId) {
  const make = PAGES[name];
  return make ? make(`/rec/${runId}`) : null;
}

const TRACKERS = ['sillage', 'sillage-gzip', 'segment', 'segment-batching', 'posthog', 'snowplow'].filter((s) => !ONLY || ONLY.includes(s));
const ALL = [...TRACKERS, 'growthbook'].filter((s) => !ONLY || ONLY.includes(s));

// ---------------------------------------------------------------- helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (a) => {
  const s = [...a].filter(Number.isFinite).sort((x, y) => x - y);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (a, p) => {
  const s = [...a].filter(Number.isFinite).sort((x, y) => x - y);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
};
let runSeq = 0;
const newRun = (sdk, what) => `${sdk}.${what}.${++runSeq}`;

async function until(cond, maxMs, stepMs = 50) {
  const end = Date.now() + maxMs;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(stepMs);
  }
  return !!(await cond());
}

/** Waits until a run has been quiet for `quietMs` (nothing received), at most `maxMs`. */
const quiet = (rec, runId, quietMs, maxMs) =>
  until(() => Date.now() - rec.run(runId).lastAt >= quietMs, maxMs, 100);

// ---------------------------------------------------------------- main

if (process.argv.includes('--serve')) {
  // Serve the pages for a look by hand: /page/<sdk>.html?run=<id>.
  const rec = await startRecorder({ files, page });
  console.log(rec.base);
  process.on('SIGINT', () => {
    for (const id of rec.runIds()) console.error(id, JSON.stringify(rec.run(id).requests.map((q) => [q.method, q.path, q.status, q.events.length, q.raw])));
    process.exit(0);
  });
  await new Promise(() => {});
}

const ua0 = (await (async () => {
  const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  const v = b.version();
  const p = await b.newPage();
  const ua = await p.evaluate(() => navigator.userAgent);
  await b.close();
  return { v, ua };
})());
const rec = await startRecorder({ files, page });
const offHost = [];
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    // navigator.webdriver false: PostHog drops events from automated browsers.
    '--disable-blink-features=AutomationControlled',
    // Nothing can leave the machine: names other than 127.0.0.1 do not
    // resolve, and whatever is not 127.0.0.1 goes to a proxy that is not there.
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    '--proxy-server=http://127.0.0.1:9',
    '--proxy-bypass-list=127.0.0.1',
  ],
});
// PostHog also drops events from user agents that say "HeadlessChrome": the
// same user agent without "Headless" is given to every SDK.
const userAgent = ua0.ua.replace('HeadlessChrome', 'Chrome');

async function open(name, runId, { context } = {}) {
  const ctx = context || (await browser.newContext({ userAgent }));
  const p = await ctx.newPage();
  // The safety net that reports: any request for another host than
  // 127.0.0.1 (the browser flags above already make it fail).
  p.on('request', (r) => {
    const u = new URL(r.url());
    if (!['127.0.0.1', ''].includes(u.hostname) && !u.protocol.startsWith('data') && !u.protocol.startsWith('blob')) {
      offHost.push(`${name}: ${r.method()} ${r.url()}`);
    }
  });
  const pageErrors = [];
  p.on('pageerror', (e) => pageErrors.push(String(e.message)));
  await p.goto(`${rec.base}/page/${name}.html?run=${encodeURIComponent(runId)}`);
  const ok = await p
    .waitForFunction(() => window.__bench && window.__bench.ready, null, { timeout: 20_000 })
    .then(() => true, () => false);
  if (!ok) throw new Error(`${name}: not ready after 20 s (page errors: ${pageErrors.join('; ') || 'none'})`);
  return { ctx, p, pageErrors };
}

/** The SDK files the page loaded (resource timing), with their sizes on disk, gzip and brotli. */
async function sdkFiles(p) {
  const names = await p.evaluate(() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname));
  const out = [];
  for (const n of [...new Set(names)]) {
    const posthogStatic = n.match(/^\/rec\/[^/]+\/static\/(?:[\d.]+\/)?([^/]+)$/);
    const f = files(posthogStatic ? `/peers/posthog/${posthogStatic[1]}` : n);
    if (f) out.push({ path: n.replace(/^\/rec\/[^/]+/, ''), ...compressedSizes(f) });
  }
  return out;
}

const results = { reps: REPS, samples: {}, files: {}, notes: [] };
const sample = (sdk, key, v) => {
  results.samples[sdk] ??= {};
  (results.samples[sdk][key] ??= []).push(v);
};

/** 1-4: load, transfer size, ready; 100 events; 1,000 events with CPU. */
async function measureTracker(sdk) {
  const runId = newRun(sdk, 'main');
  const r = rec.run(runId);
  const { ctx, p, pageErrors } = await open(sdk, runId);
  sample(sdk, 'readyMs', await p.evaluate(() => __bench.readyAt));
  await quiet(rec, runId, 1000, 8000);
  const fl = await sdkFiles(p);
  results.files[sdk] = fl;
  sample(sdk, 'gzip', fl.reduce((a, f) => a + f.gzip, 0));
  sample(sdk, 'brotli', fl.reduce((a, f) => a + f.brotli, 0));

  // 4. Requests and bytes per 100 events (a burst of 100 calls).
  let since = Date.now();
  await p.evaluate((name) => {
    for (let i = 0; i < 100; i++) __bench.track(name, { product_id: 'SKU-' + i, price: 129.5, category: 'running', position: i });
  }, BENCH_EVENT);
  await until(() => r.delivered(BENCH_EVENT, since).unique >= 100, 15_000);
  await quiet(rec, runId, 1000, 8000);
  const t100 = r.traffic(since);
  sample(sdk, 'req100', t100.requests);
  sample(sdk, 'bytes100', t100.wireBytes);
  sample(sdk, 'json100', t100.jsonBytes);
  sample(sdk, 'gzip100', t100.gzipBytes);
  sample(sdk, 'delivered100', r.delivered(BENCH_EVENT, since).unique);
  results.wire ??= {};
  results.wire[sdk] = { contentTypes: t100.contentTypes, encodings: t100.encodings };

  // 3. track() inside the call, and main-thread CPU per event over 1,000
  // calls, sending included (CDP Performance.getMetrics deltas).
  const cdp = await ctx.newCDPSession(p);
  await cdp.send('Performance.enable');
  const metrics = async () =>
    Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  since = Date.now();
  const m0 = await metrics();
  // 1,000 calls as a busy page makes them: 10 groups of 100 calls (each
  // group in one task), one group every 500 ms.
  const call = await p.evaluate(async (name) => {
    const n = 1000;
    const d = new Float64Array(n);
    let total = 0;
    for (let g = 0; g < 10; g++) {
      const next = performance.now() + 500;
      const t0 = performance.now();
      for (let i = g * 100; i < (g + 1) * 100; i++) {
        const a = performance.now();
        __bench.track(name, { product_id: 'SKU-' + i, price: 129.5, category: 'running', position: i });
        d[i] = performance.now() - a;
      }
      total += performance.now() - t0;
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
    }
    d.sort();
    return { medianUs: d[n / 2] * 1000, p90Us: d[Math.floor(n * 0.9)] * 1000, meanUs: (total / n) * 1000, isolated: crossOriginIsolated };
  }, BENCH_EVENT);
  // Sending included: until every event was acknowledged (30 s at most).
  await until(() => r.delivered(BENCH_EVENT, since).unique >= 1000, 30_000, 100);
  await quiet(rec, runId, 1000, 10_000);
  const m1 = await metrics();
  const delivered1000 = r.delivered(BENCH_EVENT, since).unique;
  sample(sdk, 'trackUs', call.medianUs);
  sample(sdk, 'trackP90Us', call.p90Us);
  sample(sdk, 'trackMeanUs', call.meanUs);
  sample(sdk, 'cpuUs', ((m1.TaskDuration - m0.TaskDuration) * 1e6) / 1000);
  sample(sdk, 'scriptUs', ((m1.ScriptDuration - m0.ScriptDuration) * 1e6) / 1000);
  sample(sdk, 'delivered1000', delivered1000);
  sample(sdk, 'req1000', r.traffic(since).requests);
  if (!call.isolated) results.notes.push(`${sdk}: page was not cross-origin isolated (timer resolution 100 us)`);
  if (pageErrors.length) results.notes.push(`${sdk}: page errors: ${[...new Set(pageErrors)].join('; ')}`);
  await ctx.close();
}

/** Sillage with slots: transfer, and the decision after navigation start, cold and cached. */
async function measureSlots() {
  const sdk = 'sillage-slots';
  for (let i = 0; i < 3; i++) {
    const runId = newRun(sdk, 'load');
    const ctx = await browser.newContext({ userAgent });
    const p = await ctx.newPage();
    const decided = async () => {
      await p.waitForFunction(() => performance.getEntriesByName('sillage:decided').length > 0, null, { timeout: 10_000 });
      return p.evaluate(() => ({
        at: performance.getEntriesByName('sillage:decided')[0].startTime,
        timedOut: document.documentElement.hasAttribute('data-sillage-timeout'),
        applied: document.querySelectorAll('[data-sillage-applied]').length,
      }));
    };
    await p.goto(`${rec.base}/page/${sdk}.html?run=${runId}`);
    const cold = await decided();
    sample(sdk, 'decidedColdMs', cold.at);
    sample(sdk, 'appliedCold', cold.applied);
    if (i === 0) {
      await sleep(300);
      const fl = await sdkFiles(p);
      results.files[sdk] = fl;
      sample(sdk, 'gzip', fl.reduce((a, f) => a + f.gzip, 0));
      sample(sdk, 'brotli', fl.reduce((a, f) => a + f.brotli, 0));
    }
    await p.reload();
    const cached = await decided();
    sample(sdk, 'decidedCachedMs', cached.at);
    sample(sdk, 'appliedCached', cached.applied);
    await ctx.close();
  }
}

/** 7. GrowthBook: evalCondition over the conformance corpus and over Sillage's own workload; a 200-feature decision. */
async function measureGrowthBook(workload) {
  const runId = newRun('growthbook', 'main');
  const { ctx, p } = await open('growthbook', runId);
  sample('growthbook', 'readyMs', await p.evaluate(() => __bench.readyAt));
  const fl = await sdkFiles(p);
  results.files.growthbook = fl;
  sample('growthbook', 'gzip', fl.reduce((a, f) => a + f.gzip, 0));
  sample('growthbook', 'brotli', fl.reduce((a, f) => a + f.brotli, 0));
  const cases = JSON.parse(fs.readFileSync(CASES, 'utf8')).evalCondition;
  const r = await p.evaluate(
    ({ cases, workload }) => {
      const ev = growthbook.evalCondition;
      const perMs = (list) => {
        for (let k = 0; k < 20; k++) for (const c of list) ev(c[0], c[1], c[2]);
        let n = 0;
        const t0 = performance.now();
        let t = 0;
        do {
          for (const c of list) ev(c[0], c[1], c[2]);
          n += list.length;
          t = performance.now() - t0;
        } while (t < 400);
        return n / t;
      };
      // Conformance cases: [name, condition, attributes, expected, savedGroups?].
      const corpus = cases.map((c) => [c[2], c[1], c[4]]);
      let asExpected = 0;
      for (const c of cases) if (ev(c[2], c[1], c[4]) === c[3]) asExpected++;
      const out = { corpusPerMs: perMs(corpus), asExpected, total: cases.length };
      if (workload) {
        const list = [];
        for (const a of workload.attributes) for (const c of workload.conditions) list.push([a, c, workload.groups]);
        out.workloadPerMs = perMs(list);
        out.workloadTrue = list.filter((c) => ev(c[0], c[1], c[2])).length;
      }
      // 200 features, one conditional rule each (the shapes of Sillage's
      // 200-rule workload), evaluated with isOn() for each: one decision.
      const cond = (i) => {
        const t = i / 200;
        switch (i % 8) {
          case 0: return { 'interests.running': { $gt: 0.95 + t / 100 }, stage: 'purchase' };
          case 1: return { audiences: { $elemMatch: { $eq: 'aud' + (i % 10) } }, device: 'tablet' };
          case 2: return { 'cart.value': { $gte: 500 + i }, 'cart.items': { $gt: 0 } };
          case 3: return { $or: [{ stage: 'loyalty' }, { 'signals.vip': true }], 'visitor.visits': { $gt: 50 } };
          case 4: return { 'page.path': { $regex: '^/collection-' + i + '/' } };
          case 5: return { topInterests: { $all: ['golf', 'tennis'] }, 'time.hour': { $lt: 6 } };
          case 6: return { 'campaign.name': { $in: ['spring-' + i, 'summer'] }, channel: 'Email' };
          default: return { $and: [{ 'session.pageviews': { $gte: 30 } }, { 'consent.personalization': true }], $not: { device: 'mobile' } };
        }
      };
      const features = {};
      for (let i = 0; i < 200; i++) features['f' + i] = { defaultValue: false, rules: [{ condition: cond(i), force: true }] };
      const attributes = {
        id: 'u123', stage: 'consideration', interests: { running: 0.7, golf: 0.2 }, topInterests: ['running', 'golf'],
        audiences: ['aud0', 'aud3'], device: 'desktop', cart: { value: 129.5, items: 1 }, signals: { vip: false },
        visitor: { visits: 7 }, page: { path: '/collection-4/shoes' }, time: { hour: 14 }, campaign: { name: 'summer' },
        channel: 'Email', session: { pageviews: 3 }, consent: { personalization: true },
      };
      const g = new growthbook.GrowthBook({ attributes });
      g.initSync({ payload: { features } });
      const keys = Object.keys(features);
      const times = [];
      let on = 0;
      for (let k = 0; k < 2200; k++) {
        const t0 = performance.now();
        on = 0;
        for (const key of keys) if (g.isOn(key)) on++;
        if (k >= 200) times.push((performance.now() - t0) * 1000);
      }
      times.sort((a, b) => a - b);
      out.decision200 = { p50Us: times[times.length >> 1], p95Us: times[Math.floor(times.length * 0.95)], on };
      return out;
    },
    { cases, workload },
  );
  sample('growthbook', 'conditionsPerMs', r.corpusPerMs);
  if (r.workloadPerMs) sample('growthbook', 'workloadPerMs', r.workloadPerMs);
  sample('growthbook', 'decision200P50Us', r.decision200.p50Us);
  sample('growthbook', 'decision200P95Us', r.decision200.p95Us);
  results.growthbook = { asExpected: r.asExpected, total: r.total, workloadTrue: r.workloadTrue, featuresOn: r.decision200.on };
  await ctx.close();
}

/** Every tracker's page, `reps` times, each in its own context with its own endpoint, once they are quiet. */
async function openEvery(reps, what) {
  const pages = [];
  for (let rep = 0; rep < reps; rep++) {
    for (const sdk of TRACKERS) {
      const runId = newRun(sdk, what);
      pages.push({ sdk, runId, ...(await open(sdk, runId)) });
    }
  }
  await Promise.all(pages.map((o) => quiet(rec, o.runId, 1000, 8000)));
  return pages;
}

/**
 * 5. A 10 s outage (503) while 101 events are recorded at 10/s. Every
 * tracker of every repetition at once (each page on its own endpoint, in its
 * own browser context): the figures are counts, not times, and the SDKs'
 * retry delays (up to a minute) would otherwise dominate the run's length.
 */
async function measureOutage(reps) {
  const open_ = await openEvery(reps, 'outage');
  const start = Date.now();
  for (const o of open_) rec.run(o.runId).outageUntil = start + 10_000;
  await Promise.all(
    open_.map((o) =>
      o.p.evaluate(async (name) => {
        for (let i = 0; i < 101; i++) {
          __bench.track(name, { product_id: 'SKU-' + i, price: 129.5, category: 'running', position: i });
          await new Promise((r) => setTimeout(r, 100));
        }
      }, BENCH_EVENT),
    ),
  );
  // Delivered within 60 s after the outage ended (then the count is taken).
  const deadline = start + 10_000 + 60_000;
  await until(
    () => open_.every((o) => rec.run(o.runId).delivered(BENCH_EVENT, start).unique >= 101),
    Math.max(0, deadline - Date.now()),
    200,
  );
  await sleep(1000);
  for (const o of open_) {
    const r = rec.run(o.runId);
    const d = r.delivered(BENCH_EVENT, start);
    sample(o.sdk, 'outageDelivered', d.unique);
    sample(o.sdk, 'outageDupes', d.dupes);
    sample(o.sdk, 'outageRequests', r.traffic(start).requests);
    const last = r.requests.filter((q) => q.eventPath && q.status < 300).map((q) => q.at).pop();
    sample(o.sdk, 'outageRecoveredS', last ? (last - start - 10_000) / 1000 : NaN);
    await o.ctx.close();
  }
}

/** 6. 20 events, then the page is closed at once: how many arrive (every repetition at once, as above). */
async function measureClose(reps) {
  const open_ = await openEvery(reps, 'close');
  const start = Date.now();
  await Promise.all(
    open_.map(async (o) => {
      await o.p.evaluate((name) => {
        for (let i = 0; i < 20; i++) __bench.track(name, { product_id: 'SKU-' + i, price: 129.5, category: 'running', position: i });
      }, BENCH_EVENT);
      await o.p.close();
    }),
  );
  await sleep(3000);
  for (const o of open_) {
    sample(o.sdk, 'closeDelivered', rec.run(o.runId).delivered(BENCH_EVENT, start).unique);
    await o.ctx.close();
  }
}

/** Sillage's own condition workload (core/benches/workload.rs), for GrowthBook to run too. */
function sillageWorkload() {
  try {
    const src = fs.readFileSync(path.join(root, 'core/benches/workload.rs'), 'utf8');
    const arr = (name) => {
      const m = src.match(new RegExp(`pub const ${name}: &\\[&str\\] = &\\[([\\s\\S]*?)\\n\\];`));
      return [...m[1].matchAll(/r#"([\s\S]*?)"#/g)].map((x) => JSON.parse(x[1]));
    };
    const groups = JSON.parse(src.match(/let groups: Json = serde_json::from_str\(r#"(.*?)"#\)/)[1]);
    return { conditions: arr('CONDITIONS'), attributes: arr('ATTRIBUTES'), groups };
  } catch (e) {
    results.notes.push(`could not read Sillage's condition workload from core/benches/workload.rs (${e.message}): GrowthBook ran on the conformance corpus only`);
    return null;
  }
}

// A scenario that throws is reported and the run goes on; the exit code says so.
const failures = [];
async function attempt(label, f) {
  try {
    await f();
  } catch (e) {
    failures.push(`${label}: ${e.message}`);
    log(`FAILED ${label}: ${e.message}`);
  }
}
if (OUT) fs.rmSync(OUT, { force: true });

try {
  const workload = sillageWorkload();
  for (let rep = 0; rep < REPS; rep++) {
    // Interleaved: every SDK in each repetition, the order rotating.
    const order = ALL.map((_, i) => ALL[(i + rep) % ALL.length]);
    for (const sdk of order) {
      log(`rep ${rep + 1}/${REPS}: ${LABEL[sdk]}: load, 100 events, 1,000 events`);
      await attempt(`rep ${rep + 1} ${sdk}`, () => (sdk === 'growthbook' ? measureGrowthBook(workload) : measureTracker(sdk)));
    }
    if (!ONLY || ONLY.includes('sillage')) {
      log(`rep ${rep + 1}/${REPS}: Sillage with slots: cold and cached decisions`);
      await attempt(`rep ${rep + 1} sillage-slots`, measureSlots);
    }
  }
  log(`10 s outage: ${REPS} repetitions of every tracker at once`);
  await attempt('outage', () => measureOutage(REPS));
  log(`20 events then close: ${REPS} repetitions of every tracker at once`);
  await attempt('close', () => measureClose(REPS));
} finally {
  if (DUMP) {
    fs.mkdirSync(DUMP, { recursive: true });
    for (const id of rec.runIds()) {
      const reqs = rec.run(id).requests.map(({ headers, ...q }) => ({ ...q, headers }));
      fs.writeFileSync(path.join(DUMP, `${id}.json`), JSON.stringify(reqs, null, 1));
    }
  }
  await browser.close();
  await rec.close();
}

const summary = {};
for (const [sdk, keys] of Object.entries(results.samples)) {
  summary[sdk] = {};
  for (const [k, v] of Object.entries(keys)) {
    summary[sdk][k] = { median: median(v), min: Math.min(...v), max: Math.max(...v), p95: pct(v, 95), n: v.length, values: v };
  }
}
const out = {
  generatedAt: new Date().toISOString(),
  chromium: ua0.v,
  userAgent,
  machine: {
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
  },
  versions: {
    sillage: SILLAGE_VERSION,
    segment: pkgVersion('@segment/analytics-next'),
    posthog: pkgVersion('posthog-js'),
    snowplow: pkgVersion('@snowplow/browser-tracker'),
    growthbook: pkgVersion('@growthbook/growthbook'),
  },
  reps: REPS,
  summary,
  files: results.files,
  wire: results.wire,
  growthbook: results.growthbook,
  offHost,
  serverErrors: rec.errors,
  notes: results.notes,
  failures,
};
const text = JSON.stringify(out, null, 1);
if (OUT) fs.writeFileSync(OUT, text);
else console.log(text);
log(`done in ${((Date.now() - t00) / 1000).toFixed(0)} s${offHost.length ? `; ${offHost.length} requests for other hosts were refused` : ''}`);
if (failures.length) {
  log(`${failures.length} scenario(s) could not run:\n  ${failures.join('\n  ')}`);
  process.exitCode = 1;
}
