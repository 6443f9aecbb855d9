// Shared helpers for the e2e specs: read what the collector stored, straight
// from its SQLite file, and watch a page for errors.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { test as base, expect, type APIRequestContext, type Browser, type BrowserContext, type Page } from '@playwright/test';

export { expect };

/**
 * What the SDK wrote on the device and sent, across the whole e2e run, for
 * the PRIVACY.md audit (`audit/privacy-doc.spec.ts`): every spec imports
 * `test` from here, and this automatic fixture instruments every browser
 * context of the test (the default one and those made with
 * `browser.newContext`). A write counts as the SDK's when the SDK's glue
 * (`sillage_glue.js`, `sillage_full.js`, `sillage_p13n.js` or their wasm) is on the JavaScript stack: a test page seeding
 * storage itself, or Segment's library in the wire-compatibility spec, is
 * not Sillage. Records go to `$SILLAGE_AUDIT_DIR/*.jsonl`.
 */
export const test = base.extend<{ privacyAudit: void }>({
  privacyAudit: [
    async ({ browser, context }, use, testInfo) => {
      const dir = process.env.SILLAGE_AUDIT_DIR;
      if (!dir) throw new Error('SILLAGE_AUDIT_DIR is not set: run the e2e tests through `cargo xtask e2e`');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `worker-${testInfo.workerIndex}.jsonl`);
      const records: object[] = [];
      const where = `${testInfo.file.split('/').pop()}: ${testInfo.title}`;
      const instrument = async (ctx: BrowserContext) => {
        await ctx.exposeBinding('__sillageAudit', (_source, kind: string, name: string) => {
          records.push({ where, kind, name });
        });
        await ctx.addInitScript(auditScript);
        ctx.on('request', (r) => {
          const url = new URL(r.url());
          if (r.method() !== 'POST' || !/^\/v1\/(batch|b|forget)$/.test(url.pathname)) return;
          // The reference collector, and the local proxies in front of it
          // (privacy.spec.ts sends its erasures through one): any loopback host.
          if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) return;
          let body = r.postDataBuffer();
          if (!body) return;
          try {
            if (url.searchParams.get('ce') === 'gzip') body = gunzipSync(body);
            records.push({ where, kind: 'body', name: url.pathname, body: JSON.parse(body.toString('utf8')) });
          } catch (e) {
            records.push({ where, kind: 'unreadable', name: url.pathname, body: String(e) });
          }
        });
      };
      await instrument(context);
      const newContext = browser.newContext.bind(browser);
      (browser as Browser).newContext = async (...args: Parameters<Browser['newContext']>) => {
        const ctx = await newContext(...args);
        await instrument(ctx);
        return ctx;
      };
      await use();
      (browser as Browser).newContext = newContext;
      if (records.length) appendFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    },
    { auto: true },
  ],
});

/**
 * Runs in every page before its own scripts: reports each storage key,
 * cookie and IndexedDB database the SDK's code creates.
 */
function auditScript() {
  const report = (kind: string, name: string) => {
    if (!/\/sillage(_glue|_full|_p13n)?(_bg)?\.(js|wasm)/.test(new Error().stack || '')) return;
    try {
      (window as any).__sillageAudit(kind, name);
    } catch {
      // The binding is there in every instrumented context.
    }
  };
  const setItem = Storage.prototype.setItem;
  Storage.prototype.setItem = function (key: string, value: string) {
    report(this === window.sessionStorage ? 'sessionStorage' : 'localStorage', String(key));
    return setItem.call(this, key, value);
  };
  const cookie = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie');
  if (cookie?.set) {
    Object.defineProperty(Document.prototype, 'cookie', {
      configurable: true,
      get() {
        return cookie.get!.call(this);
      },
      set(v: string) {
        report('cookie', String(v).split('=')[0].trim());
        cookie.set!.call(this, v);
      },
    });
  }
  if (window.indexedDB) {
    const open = IDBFactory.prototype.open;
    IDBFactory.prototype.open = function (name: string, version?: number) {
      report('indexedDB', String(name));
      return version === undefined ? open.call(this, name) : open.call(this, name, version);
    };
  }
  if (window.caches) {
    const openCache = CacheStorage.prototype.open;
    CacheStorage.prototype.open = function (name: string) {
      report('cacheStorage', String(name));
      return openCache.call(this, name);
    };
  }
}

/**
 * The headers of the collector's read and admin routes (`/v1/stats`,
 * `/v1/faults`, ...): the Bearer admin token that `cargo xtask` generated for
 * this run and passed in `SILLAGE_ADMIN_TOKEN`.
 */
export function adminHeaders(): Record<string, string> {
  const token = process.env.SILLAGE_ADMIN_TOKEN;
  if (!token) throw new Error('SILLAGE_ADMIN_TOKEN is not set: run the e2e tests through `cargo xtask e2e`');
  return { Authorization: `Bearer ${token}` };
}

/**
 * Puts a collector fault in force (`POST /v1/faults`, see
 * collector/src/faults.rs), replacing any other, or ends it (`null`).
 */
export async function fault(request: APIRequestContext, spec: object | null) {
  const headers = adminHeaders();
  const res = spec
    ? await request.post('/v1/faults', { data: spec, headers })
    : await request.delete('/v1/faults', { headers });
  expect(res.ok(), `fault ${JSON.stringify(spec)}: ${await res.text()}`).toBeTruthy();
}

/** The collector's counters (`GET /v1/stats`): requests, faulted, duplicates, bytesReceived... */
export async function stats(request: APIRequestContext): Promise<Record<string, number>> {
  const res = await request.get('/v1/stats', { headers: adminHeaders() });
  expect(res.ok()).toBeTruthy();
  return res.json();
}

/** Records `n` track events `<prefix> <i>` with properties `{ i }`, in one task. */
export async function track(page: Page, n: number, prefix: string) {
  await page.evaluate(
    ([n, prefix]) => {
      for (let i = 0; i < (n as number); i++) window['sillage'].track(`${prefix} ${i}`, { i });
    },
    [n, prefix] as const,
  );
}

/** Rows of a read-only SQL query on the collector's SQLite file (via Python's sqlite3). */
export function sql(query: string, params: (string | number)[] = []): Record<string, unknown>[] {
  const db = process.env.SILLAGE_DB;
  if (!db) throw new Error('SILLAGE_DB is not set');
  const script = [
    'import json, sqlite3, sys',
    'c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)',
    'c.row_factory = sqlite3.Row',
    'rows = c.execute(sys.argv[2], json.loads(sys.argv[3])).fetchall()',
    'print(json.dumps([dict(r) for r in rows]))',
  ].join('\n');
  // The audits read every row of the run: tens of megabytes.
  const out = execFileSync('python3', ['-c', script, db, query, JSON.stringify(params)], { maxBuffer: 512 * 1024 * 1024 });
  return JSON.parse(out.toString());
}

/**
 * Every error the page throws or logs, to assert that the SDK never breaks a
 * page. The browser's own network log lines ("Failed to load resource: ...
 * 404") are not the page's errors: a missing config is expected to log one.
 */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) {
      errors.push(`console.error: ${m.text()}`);
    }
  });
  return errors;
}

/** The anonymousId the SDK stored for this browser context. */
export async function anonymousId(page: Page): Promise<string> {
  await expect
    .poll(() => page.evaluate(() => localStorage.getItem('sillage.anonymousId')))
    .toMatch(/^[0-9a-f-]{36}$/);
  return (await page.evaluate(() => localStorage.getItem('sillage.anonymousId')))!;
}

/** Waits until the collector stored `n` events for this visitor; returns their rows. */
export async function storedRows(anon: string, n: number, timeout = 10_000) {
  await expect
    .poll(() => sql('SELECT count(*) AS n FROM events WHERE anonymous_id = ?', [anon])[0].n, {
      timeout,
    })
    .toBe(n);
  return sql('SELECT * FROM events WHERE anonymous_id = ? ORDER BY rowid', [anon]);
}

/** Console messages of one type ('warning', 'error', 'log'...), as they come. */
export function consoleOf(page: Page, type: string): string[] {
  const out: string[] = [];
  page.on('console', (m) => m.type() === type && out.push(m.text()));
  return out;
}

/** Waits until the SDK applied its config (`sillage.ready`). */
export async function sdkReady(page: Page) {
  await page.evaluate(() => new Promise((r) => window['sillage'].ready(r)));
}

/** Waits until the SDK decided the slots present at start (`performance.mark('sillage:decided')`). */
export async function decided(page: Page): Promise<number> {
  await expect
    .poll(() => page.evaluate(() => performance.getEntriesByName('sillage:decided').length))
    .toBe(1);
  return page.evaluate(() => performance.getEntriesByName('sillage:decided')[0].startTime);
}

/** Sends what is waiting and resolves once the collector acknowledged it. */
export async function flushed(page: Page) {
  expect(await page.evaluate(() => window['sillage'].flush())).toBe(true);
}

/** The stored track events `event` of a visitor, oldest first, with their properties. */
export function tracked(anon: string, event: string): Record<string, any>[] {
  return sql('SELECT payload FROM events WHERE anonymous_id = ? AND event = ? ORDER BY rowid', [anon, event]).map(
    (r) => JSON.parse(r.payload as string).properties,
  );
}

/** How many of `props` have each value of `key`: {"hero-new": 1, ...}. */
export function countBy(props: Record<string, any>[], key: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of props) out[p[key]] = (out[p[key]] || 0) + 1;
  return out;
}

/** The directory served at `/`. */
export const WWW = join(__dirname, '../../www');

/**
 * The anti-flicker head snippet as documented (the one in
 * www/test/p13n.html): its tag, its text, and the CSP source that allows it
 * (`'sha256-<base64 of the SHA-256 of its text>'`).
 */
export function snippet() {
  const html = readFileSync(join(WWW, 'test/p13n.html'), 'utf8');
  const tag = html.match(/<script>!function\(d,t\).*?<\/script>/)![0];
  const text = tag.slice('<script>'.length, -'</script>'.length);
  return { tag, text, hash: `'sha256-${createHash('sha256').update(text).digest('base64')}'` };
}

/**
 * Makes the anti-flicker snippet's timeout (300 ms, set while the head is
 * parsed) effectively never fire on this page. Tests whose subject is not
 * timing use it, so that a loaded machine, where the SDK may decide after
 * 300 ms, cannot turn their assertions into a race: the snippet's own
 * behaviour (defaults shown and kept when it fires first) is tested in
 * personalization-timing.spec.ts, by loads that count.
 */
export async function patientSnippet(page: Page) {
  await page.addInitScript(() => {
    const setTimeout = window.setTimeout;
    (window as any).setTimeout = function (fn: TimerHandler, ms?: number, ...rest: unknown[]) {
      // The snippet's call: 300 ms, while the head is parsed.
      if (ms === 300 && !document.body) ms = 120_000;
      return setTimeout.call(window, fn, ms, ...rest);
    };
  });
}

/**
 * The console line the shipped wasm prints for a diagnostic without the
 * catalogue of sentences: `sillage: [path: ]code <hex> (arguments)`. Matches a
 * line of the sentence that starts with `start` in either form, in words (the
 * catalogue was loaded) or as its code, read from the built catalogue.
 */
export function diagnosticLine(start: string): RegExp {
  const catalogue: Record<string, string> = JSON.parse(
    readFileSync(join(__dirname, '../../target/sillage-sdk/sillage_messages.json'), 'utf8'),
  );
  const codes = Object.entries(catalogue).filter(([, s]) => s.startsWith(start)).map(([c]) => c);
  if (codes.length !== 1) throw new Error(`${codes.length} sentences start with ${JSON.stringify(start)}`);
  const words = start.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\{\\\}/g, '.*');
  return new RegExp(`^sillage: (.*: )?(${words}|code ${codes[0]}\\b)`);
}
