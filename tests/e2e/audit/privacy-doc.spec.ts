// Runs after every other e2e spec (the `audit` project depends on `e2e`):
// keeps PRIVACY.md true. Everything the SDK wrote on the device (recorded by
// the `privacyAudit` fixture of helpers.ts in every test) and every field of
// everything it sent (the request bodies the fixture saw, and every event of
// the SDK the collector stored during the run) must be listed in PRIVACY.md.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '@playwright/test';
import { sql } from '../helpers';

const DOC = readFileSync(join(__dirname, '../../../PRIVACY.md'), 'utf8');

/** The code spans of the first column of the tables in the `## ` or `### ` section titled `title`. */
function documented(title: string): string[] {
  const start = DOC.split('\n').findIndex((l) => /^#{2,3} /.test(l) && l.includes(title));
  expect(start, `PRIVACY.md has a section "${title}"`).toBeGreaterThanOrEqual(0);
  const lines = DOC.split('\n').slice(start + 1);
  const end = lines.findIndex((l) => /^#{2,3} /.test(l));
  const out: string[] = [];
  for (const l of end < 0 ? lines : lines.slice(0, end)) {
    const cell = l.match(/^\|([^|]*)\|/);
    if (!cell) continue;
    for (const m of cell[1].matchAll(/`([^`]+)`/g)) out.push(m[1]);
  }
  expect(out.length, `PRIVACY.md "${title}" lists something`).toBeGreaterThan(0);
  return out;
}

/** Whether `name` matches a documented entry (`<...>` in an entry stands for any text). */
function listed(name: string, entries: string[]): boolean {
  return entries.some((e) => {
    const re = new RegExp('^' + e.split(/<[^>]+>/).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.+') + '$');
    return re.test(name);
  });
}

/** Sillage's own events: their properties are documented one by one. */
const OWN_EVENTS = [
  'Experiment Viewed',
  'File Downloaded',
  'Interests Shared',
  'Journey Stage Changed',
  'Outbound Link Clicked',
  'Page Engaged',
  'Personalization Clicked',
  'Personalization Viewed',
  'Rage Click',
];
/** What a page view's properties hold besides the site's own. */
const PAGE_PROPERTIES = ['path', 'referrer', 'search', 'title', 'url', 'name', 'category'];

/** Every field path of `v` (`a.b.c`; array items share their array's path). */
function paths(v: unknown, prefix: string, out: Set<string>) {
  if (Array.isArray(v)) {
    if (v.length === 0 || v.every((x) => x === null || typeof x !== 'object')) out.add(prefix);
    for (const x of v) if (x && typeof x === 'object') paths(x, prefix, out);
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) paths(x, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.add(prefix);
  }
}

/** The field paths of one event; the site's own data (its events' properties, traits) counts as one field. */
function eventPaths(e: Record<string, any>, out: Set<string>) {
  const { properties, traits, ...rest } = e;
  paths(rest, '', out);
  if (traits !== undefined) out.add('traits');
  if (properties === undefined) return;
  out.add('properties');
  if (e.type === 'track' && OWN_EVENTS.includes(e.event)) {
    // Each own event's properties are documented under its name.
    const own = new Set<string>();
    paths(properties, '', own);
    for (const p of own) out.add(`${e.event}: ${p}`);
  } else if (e.type === 'page') {
    for (const [k, x] of Object.entries(properties)) {
      if (PAGE_PROPERTIES.includes(k)) paths(x, `properties.${k}`, out);
    }
  }
}

type Record_ = { where: string; kind: string; name: string; body?: any };

test('PRIVACY.md lists every storage key written and every field sent during the e2e run', async () => {
  const dir = process.env.SILLAGE_AUDIT_DIR;
  if (!dir) throw new Error('SILLAGE_AUDIT_DIR is not set: run the e2e tests through `cargo xtask e2e`');
  const records: Record_[] = readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    );

  // On the device: localStorage only, each key listed.
  const keys = documented('What is stored on the device');
  const writes = records.filter((r) => r.kind !== 'body' && r.kind !== 'unreadable');
  // The run exercised storage: this audit read something real.
  expect(writes.length).toBeGreaterThan(100);
  const badWrites = new Map<string, string>();
  for (const r of writes) {
    const what = `${r.kind} ${r.name}`;
    if ((r.kind !== 'localStorage' || !listed(r.name, keys)) && !badWrites.has(what)) badWrites.set(what, r.where);
  }
  expect([...badWrites].map(([what, where]) => `${what} (first in ${where})`), 'written by the SDK but not listed in PRIVACY.md "What is stored on the device"').toEqual([]);

  // What was sent: the batch requests, each event, the erasure requests.
  expect(records.filter((r) => r.kind === 'unreadable')).toEqual([]);
  const bodies = records.filter((r) => r.kind === 'body');
  const envelope = new Set<string>();
  const erasure = new Set<string>();
  const events = new Set<string>();
  for (const r of bodies) {
    if (r.name === '/v1/forget') {
      paths(r.body, '', erasure);
      continue;
    }
    const { batch, ...rest } = r.body;
    paths(rest, '', envelope);
    envelope.add('batch');
    for (const e of batch ?? []) eventPaths(e, events);
  }
  let stored = 0;
  for (const row of sql('SELECT payload FROM events')) {
    const e = JSON.parse(row.payload as string);
    if (e.context?.library?.name !== 'sillage') continue;
    stored++;
    eventPaths(e, events);
  }
  expect(bodies.length, 'the run sent batches').toBeGreaterThan(50);
  expect(stored, 'the collector stored the SDK’s events').toBeGreaterThan(100);

  const missing = (found: Set<string>, title: string) => {
    const entries = documented(title);
    return [...found].filter((p) => !listed(p, entries)).sort();
  };
  expect(missing(envelope, 'The batch request'), 'PRIVACY.md "The batch request"').toEqual([]);
  expect(missing(erasure, 'The erasure request'), 'PRIVACY.md "The erasure request"').toEqual([]);
  const fields = [...events].filter((p) => !p.includes(': '));
  const own = [...events].filter((p) => p.includes(': '));
  expect(missing(new Set(fields), 'Fields of every event'), 'PRIVACY.md "Fields of every event"').toEqual([]);
  expect(missing(new Set(own), "Properties of Sillage's own events"), 'PRIVACY.md "Properties of Sillage\'s own events"').toEqual([]);
  // forget() with a collector ran (privacy.spec.ts): the erasure body was checked.
  expect(erasure.size, 'the run sent an erasure request').toBeGreaterThan(0);
});
