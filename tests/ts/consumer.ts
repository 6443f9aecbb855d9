// A typed consumer of the npm package, compiled with `tsc --strict` by the
// TypeScript step of `cargo xtask test` (tests/ts/tsconfig.json resolves
// `sillage` to pkg/ through its package.json `exports`). The documented
// calls must compile; each `@ts-expect-error` line is a mistake the types
// must refuse (tsc fails on an expected error that does not happen).

import init, {
  alias,
  attributes,
  boot,
  consent,
  debug,
  flush,
  forget,
  group,
  identify,
  interest,
  on,
  page,
  profile,
  ready,
  reset,
  track,
  type BootOptions,
  type Config,
  type Debug,
  type Profile,
  type Stage,
  type StageChange,
} from 'sillage';
import initFull, * as full from 'sillage/full';
import initP13n from 'sillage/p13n';

// No internal name in the public types: the loader's replay, wasm-bindgen's
// InitOutput (the wasm's exports, closure shims), the p13n module's calls.
// @ts-expect-error replay is internal
import { replay } from 'sillage';
// @ts-expect-error InitOutput is internal
import type { InitOutput } from 'sillage';
// @ts-expect-error the personalization module's functions are internal
import { plan } from 'sillage/p13n';
void replay;
void plan;
export type Unused = InitOutput;

// (The README's ```ts examples are checked as they are: tests/ts/generated/.)

// ----- Every method of the README's API table. -----
await init();
await init({ module_or_path: new URL('/sillage/sillage_bg.wasm', 'https://shop.example') });
boot({ config: { version: 1, collector: { url: '/v1/batch' } } });
track('Signed Up');
const delivered: boolean = await flush();
on('stage', ({ from, to, reasons }) => console.log(from, '->', to, reasons[0]?.text));
track('Product Added', { product_id: 'p1', price: 129, tags: ['trail'], nested: { a: null } });
// A `type` alias is an object of string keys; a value typed by an
// `interface` (no index signature) goes in spread.
type Plan = { plan: string; seats: number };
const chosen: Plan = { plan: 'pro', seats: 3 };
track('Plan Chosen', chosen);
interface Order {
  order_id: string;
  total: number;
}
const order: Order = { order_id: 'o1', total: 129 };
track('Order Completed', { ...order, currency: 'EUR' });
page();
page('Pricing');
page('Pricing', { plan: 'pro' });
page('Docs', 'Pricing', { plan: 'pro' });
page({ title: 'Pricing' });
identify('u1');
identify('u1', { email: 'a@example.com' });
identify(null, { plan: 'pro' });
identify();
group('acme');
group('acme', { employees: 40 });
alias('u2');
alias('u2', 'u1');
reset();
const forgotten: Promise<true> = forget();
await forgotten;
consent({ analytics: false });
consent({ analytics: true, personalization: false, ads: false });
attributes({ plan: 'pro', account: { tier: 'gold' } });
interest('running', 0.8);
ready(() => console.log('config applied'));
on('stage', (change: StageChange) => {
  const to: Stage = change.to;
  const from: Stage = change.from;
  console.log(from, to, change.reasons.map((r) => r.text).join('; '));
});

const p: Profile | null = profile();
if (p) {
  const stage: Stage = p.stage;
  const odds: number = p.stageProbabilities.post_purchase;
  const running: number | undefined = p.interests['running'];
  const abandoned: boolean | number = p.signals.cartAbandoned.value;
  const items: number = p.cart.items;
  const [at, kind, name] = p.recent[0] ?? [0, 'page', '/'];
  console.log(stage, odds, running, abandoned, items, at.toFixed(0), kind, name);
  // @ts-expect-error a stage name that does not exist
  if (p.stage === 'considration') console.log('never');
  // @ts-expect-error profile fields are what the schema says
  console.log(p.stages);
}
const d: Debug = debug();
const waiting: number = d.queue.waiting;
const tracking: 'allowed' | 'pending' | 'denied' = d.queue.tracking;
console.log(delivered, waiting, tracking, d.slots.map((s) => s.why));

// ----- Boot options and the config. -----
boot();
boot({ configUrl: '/sillage.config.json' });
const config: Config = {
  $schema: '/sillage.schema.json',
  version: 1,
  collector: {
    url: '/v1/batch',
    writeKey: 'optional',
    batch: { maxEvents: 20, maxBytes: 60000, flushMs: 2000 },
    queue: { maxEvents: 5000, maxBytes: 2000000, maxAgeDays: 7 },
  },
  privacy: { consent: 'required', send: 'summary', noise: 0.05, stageEvents: false },
  capture: { pageviews: true, hashRouting: false, engagement: true, clicks: true },
  topics: [{ topic: 'running', path: '/running/*' }],
  attributes: ['plan', 'account.tier'],
  rules: [
    {
      id: 'hero-runner',
      slot: 'hero',
      when: { 'interests.running': { $gt: 0.3 }, stage: 'consideration' },
      variant: 'runner',
    },
    {
      id: 'cart-reminder',
      slot: 'banner',
      when: { stage: { $in: ['purchase'] } },
      actions: [{ type: 'setText', selector: 'h2', text: 'Your cart is waiting' }],
    },
  ],
};
const options: BootOptions = { config };
boot(options);
// `sillage/full` links personalization in: no `p13n` option.
await initFull();
full.boot({ config });
full.track('Signed Up');
await initP13n();

// ----- The mistakes the types must refuse. -----
// @ts-expect-error track needs an event name
track();
// @ts-expect-error an event name is a string
track(42);
// @ts-expect-error properties are an object
track('Signed Up', 'pro');
// @ts-expect-error an unknown boot option (a typo of config)
boot({ confg: 42 });
// @ts-expect-error an unknown key in the config (a typo of collector)
boot({ config: { version: 1, colector: { url: '/v1/batch' } } });
// @ts-expect-error the config's version is 1
boot({ config: { version: 2 } });
// @ts-expect-error a value outside the schema's list
boot({ config: { version: 1, privacy: { consent: 'implicit' } } });
// @ts-expect-error a rule action the schema does not know
boot({ config: { version: 1, rules: [{ id: 'r', slot: 's', actions: [{ type: 'setTxt', text: 'x' }] }] } });
// @ts-expect-error configUrl is a string
boot({ configUrl: new URL('https://example.com/c.json') });
// @ts-expect-error p13n is a function that loads the module
boot({ p13n: 'sillage/p13n' });
// @ts-expect-error the only event is 'stage'
on('stagee', () => {});
// @ts-expect-error a stage change is not a string
on('stage', (change: string) => console.log(change));
// @ts-expect-error page's properties come last
page({ title: 'x' }, 'Pricing');
// @ts-expect-error a group needs its id
group();
// @ts-expect-error alias needs the new user id
alias();
// @ts-expect-error consent choices are booleans
consent({ analytics: 'yes' });
// @ts-expect-error an interest's weight is a number
interest('running', 'high');
// @ts-expect-error flush resolves to a boolean
const wrong: Promise<string> = flush();
// @ts-expect-error the profile may be null before the config was applied
const early: Profile = profile();
void wrong;
void early;
