// The journey report in Chromium: the page the collector writes
// (`sillage-collector report`) reads without JavaScript, fetches nothing, and
// data cannot script it. The screenshot is kept as an artifact under
// test-results/ (never committed; docs/img/report.png is a reduced copy).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from './helpers';

const ROOT = join(__dirname, '../..');
const BIN = join(process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target'), 'debug', 'sillage-collector');
const ARTIFACTS = join(ROOT, 'test-results');

/** Runs the collector binary (built by `cargo xtask e2e`); returns stderr. */
function collector(args: string[]): string {
  return execFileSync(BIN, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

/** Writes a fixture database and its report; returns the report's path. */
function report(fixture: string[], extra: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'sillage-report-'));
  const db = join(dir, 'events.db');
  const config = join(dir, 'config.json');
  collector(['fixture', '--db', db, '--write-config', config, ...fixture]);
  const out = join(dir, 'report.html');
  collector(['report', '--db', db, '--out', out, '--config', config, ...extra]);
  return out;
}

test('the report reads without JavaScript, fetches nothing, and is kept as a screenshot', async ({ browser }) => {
  const file = report(['--events', '20000', '--seed', '7']);
  const html = readFileSync(file, 'utf8');
  expect(html).not.toMatch(/<script/i);
  const context = await browser.newContext({
    javaScriptEnabled: false,
    viewport: { width: 1200, height: 900 },
  });
  const page = await context.newPage();
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto('file://' + file);
  // Only the document itself: no font, image, style or script from anywhere.
  expect(requests).toEqual(['file://' + file]);
  await expect(page.locator('h1')).toHaveText('Journey report');
  for (const title of [
    'Funnel: visitors per journey stage',
    'Stage-to-stage transitions',
    'Typical journeys to a first order',
    'Channels by stage',
    'Conversion attribution by channel',
    'Personalization impact',
    'Experiments: do the nudges work?',
    'Abandoned carts and unconverted quotes',
  ]) {
    await expect(page.getByRole('heading', { name: title })).toBeVisible();
  }
  // The offline touchpoints are split by kind, and the flawed experiment is flagged.
  await expect(page.locator('#channels').getByText('Offline · QR code').first()).toBeVisible();
  await expect(page.locator('#experiments .badge.alert')).toContainText('Sample ratio mismatch');
  // Nothing overflows the page horizontally at a laptop width.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
  await page.screenshot({ path: join(ARTIFACTS, 'report-top.png') });
  await context.close();
});

test('names from the data stay text: a malicious campaign or slot runs nothing', async ({ browser }) => {
  const file = report(['--known', 'journeys']);
  // With JavaScript on, so that anything injected would run.
  const context = await browser.newContext({ javaScriptEnabled: true });
  const page = await context.newPage();
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('file://' + file);
  await expect(page.locator('#channels')).toContainText("<script>alert('campaign')</script>");
  await expect(page.locator('#personalization')).toContainText('"><svg onload=alert(');
  expect(await page.locator('script').count()).toBe(0);
  expect(await page.locator('img').count()).toBe(0);
  expect(await page.locator('#personalization svg').count()).toBe(0);
  await page.waitForTimeout(200);
  expect(dialogs).toEqual([]);
  expect(errors).toEqual([]);
  await context.close();
});
