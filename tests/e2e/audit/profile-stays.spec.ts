// Runs after every other e2e spec (the `audit` project depends on `e2e`):
// reads everything the collector stored during the whole run and checks
// that no payload carries a field of the on-device profile. Only a stage
// change leaves the device, as `Journey Stage Changed {from, to, reasons}`.
import { test, expect } from '@playwright/test';
import { sql } from '../helpers';

/** Fields of the profile snapshot (docs/profile.md) that must never be sent. */
const PROFILE_FIELDS = [
  'stageProbabilities',
  'confidence',
  'interests',
  'topInterests',
  'signals',
  'reasons',
  'firstTouch',
  'lastTouch',
  'lastOrder',
  'recent',
  'firstSeen',
  'lastSeen',
];

/** Every `path.to.key` in `v` whose key is a profile field. */
function profileKeys(v: unknown, path: string, out: string[]) {
  if (Array.isArray(v)) v.forEach((x, i) => profileKeys(x, `${path}[${i}]`, out));
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      const p = path ? `${path}.${k}` : k;
      if (PROFILE_FIELDS.includes(k)) out.push(p);
      profileKeys(x, p, out);
    }
  }
}

test('no payload of the whole e2e run carries a profile field', async () => {
  const rows = sql('SELECT payload FROM events');
  // The run stored events: this audit read something real.
  expect(rows.length).toBeGreaterThan(100);
  const found: string[] = [];
  let stageChanges = 0;
  for (const row of rows) {
    const e = JSON.parse(row.payload as string);
    const keys: string[] = [];
    if (e.event === 'Journey Stage Changed') {
      // The documented stage change: its reasons are its own.
      stageChanges++;
      expect(Object.keys(e.properties).sort()).toEqual(['from', 'reasons', 'to']);
      const { reasons: _reasons, ...rest } = e;
      profileKeys({ ...rest, properties: { from: e.properties.from, to: e.properties.to } }, '', keys);
    } else {
      profileKeys(e, '', keys);
    }
    found.push(...keys.map((k) => `${e.event ?? e.type} ${e.messageId}: ${k}`));
  }
  expect(stageChanges, 'the run recorded stage changes, so the exception was exercised').toBeGreaterThan(0);
  expect(found).toEqual([]);
});
