// Shared helpers for the e2e specs: read what the collector stored, straight
// from its SQLite file, and watch a page for errors.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, type Page } from '@playwright/test';

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
  const out = execFileSync('python3', ['-c', script, db, query, JSON.stringify(params)]);
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
