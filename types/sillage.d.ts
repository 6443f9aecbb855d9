/*! Sillage (MIT OR Apache-2.0) */
/**
 * The public API of the npm packages `sillage` (the tracking module) and
 * `sillage/full` (tracking and personalization linked together): the same
 * calls as `window.sillage` with the loader.
 *
 * Written by hand in `types/sillage.d.ts`; `cargo xtask build` checks that it
 * declares exactly the functions the module exports. `Config` and `Profile`
 * are generated from the config's and the profile's JSON Schemas
 * (`www/sillage.schema.json`, `www/sillage.profile.schema.json`).
 *
 * ```ts
 * import init, { boot, track, flush } from 'sillage';
 * await init();
 * boot({ config: { version: 1, collector: { url: '/v1/batch' } } });
 * track('Signed Up', { plan: 'pro' });
 * ```
 *
 * Bad arguments never throw: they are reported with `console.warn`, naming
 * the argument.
 */

import type { SillageConfig } from './config.js';
import type { SillageVisitorProfile } from './profile.js';

/** A config document (`"version": 1`), as `www/sillage.schema.json` describes it. */
export type Config = SillageConfig;

/** What `profile()` returns: the visitor profile worked out on the device. */
export type Profile = SillageVisitorProfile;

/** A journey stage: `discovery`, `consideration`, `purchase`, `post_purchase` or `loyalty`. */
export type Stage = Profile['stage'];

/** One signal behind the likely stage, e.g. "Cart Viewed 12 min ago +3.0 purchase". */
export type Reason = Profile['reasons'][number];

/**
 * An event's properties or a user's traits: an object of JSON values.
 * A value typed by an `interface` (which has no index signature) goes in
 * spread: `track('Order Completed', { ...order })`.
 */
export type Properties = Record<string, unknown>;

/** What an `on('stage')` callback receives when the likely journey stage changes. */
export interface StageChange {
  /** The stage announced before. */
  from: Stage;
  /** The new likely stage. */
  to: Stage;
  /** The signals carrying the most weight now. */
  reasons: Reason[];
}

/** The visitor's choices, merged into the stored ones. */
export interface ConsentChoices {
  /** `false` stops tracking (the queue and ids are discarded in every tab); `true` allows it. */
  analytics?: boolean;
  /** `false` shows every slot's default content. */
  personalization?: boolean;
  /** Other purposes, which rule conditions see as `consent.<purpose>`. */
  [purpose: string]: boolean | undefined;
}

/** One slot's decision in `debug()`. */
export interface SlotDecision {
  /** The slot's name (`data-sillage-slot`). */
  slot: string;
  /** The id of the rule that decided it, or `null` when none matched. */
  rule: string | null;
  /** What it shows, e.g. `the default content` or `variant "runner" (template hero/runner)`. */
  shows: string;
  /** `experiment/variation` (and ` (holdout)`), or `null`. */
  experiment: string | null;
  /** Whether `?sillage_force` chose it. */
  forced: boolean;
  /** Each rule considered and why it matched or not. */
  why: string;
}

/** What `debug()` returns: what a journey panel shows besides the profile. */
export interface Debug {
  /** The stored consent choices. */
  consent: Record<string, boolean>;
  /** Whether this tab is the one that sends (one tab of the site sends at a time). */
  sender: boolean;
  queue: {
    /** Events recorded and not yet acknowledged. */
    waiting: number;
    /** Whether a request is in flight. */
    inFlight: boolean;
    /** Whether the last request failed and a retry is scheduled. */
    retrying: boolean;
    /** Events acknowledged by the collector (this page). */
    delivered: number;
    /** Events the collector refused (this page). */
    refused: number;
    /** Events dropped by the queue's caps. */
    dropped: number;
    /** Where events are kept: `local` (localStorage) or `memory`. */
    storage: 'local' | 'memory';
    /** Whether tracking may run. */
    tracking: 'allowed' | 'pending' | 'denied';
    /** The collector's URL, or `null` without one. */
    collector: string | null;
  };
  /** Each slot's decision with its reasons (empty without personalization). */
  slots: SlotDecision[];
}

/** The personalization module (`sillage/p13n`), once initialised. */
export type P13nModule = typeof import('./sillage_p13n.js');

/** What `boot()` takes. An inline `<script type="application/json" id="sillage-config">` wins over both `config` and `configUrl`. */
export interface BootOptions {
  /** The config, as an object. */
  config?: Config;
  /** A URL to fetch the config from, when `config` is not given. */
  configUrl?: string;
  /**
   * Loads the personalization module when a slot needs it (and the config
   * has rules). Without it, slots show their default content. Not needed
   * with `sillage/full`:
   *
   * ```ts
   * p13n: () => import('sillage/p13n').then((m) => m.default().then(() => m))
   * ```
   */
  p13n?: () => Promise<P13nModule>;
  /**
   * Where `sillage_messages.json` (in the package, beside the wasm) is
   * served: the sentences of diagnostics, fetched only when the config says
   * `"debug": true` or has errors. Without it, diagnostics print as a JSON
   * path and a code (`npx sillage check` prints a config's in words). For
   * example, copy `node_modules/sillage/sillage_messages.json` into the
   * site's public files and pass `messagesUrl: '/sillage_messages.json'`.
   */
  messagesUrl?: string;
}

/** What `init()` can load the WebAssembly module from. */
export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

/** Loads the WebAssembly module (by default from beside this file). Call it once, before anything else. */
export default function init(options?: {
  module_or_path?: InitInput | Promise<InitInput>;
}): Promise<unknown>;

/** Instantiates the WebAssembly module from its bytes or a compiled module, synchronously. */
export function initSync(options: { module: BufferSource | WebAssembly.Module }): unknown;

/** Starts the SDK: records the landing, reads the config and installs the page listeners. Call it once. */
export function boot(options?: BootOptions): void;

/** Records a track event. */
export function track(event: string, properties?: Properties): void;

/** Records a page view (one is recorded automatically on load and on each SPA navigation). */
export function page(properties?: Properties): void;
/** Records a page view with a name. */
export function page(name: string, properties?: Properties): void;
/** Records a page view with a category and a name. */
export function page(category: string, name: string, properties?: Properties): void;

/** Sets the user id (kept in first-party storage; `null` keeps the current one) and records an identify event. */
export function identify(userId?: string | null, traits?: Properties): void;

/** Records a group event: the account or company the user belongs to. */
export function group(groupId: string, traits?: Properties): void;

/** Records an alias event linking `previousId` (by default the current user id, else the anonymous id) to `userId`. */
export function alias(userId: string, previousId?: string): void;

/** Logs out: a new anonymous id, no user id; the on-device profile is kept. */
export function reset(): void;

/**
 * Sends what is waiting now. Resolves to `true` once everything this page
 * recorded before the call was acknowledged, `false` if nothing may be sent
 * or a send failed (the events stay queued for retry). Never rejects.
 */
export function flush(): Promise<boolean>;

/**
 * Erases the visitor from the device (and, with a collector, the collector's
 * rows of the old anonymous id). Resolves to `true` once the device is
 * erased; an erasure the collector did not confirm is kept owed and sent
 * again by a later page. Never rejects.
 */
export function forget(): Promise<true>;

/** The visitor's consent choices. */
export function consent(choices: ConsentChoices): void;

/** The site's own attributes for rule conditions; slots are decided again within a frame. */
export function attributes(values: Record<string, unknown>): void;

/** An explicit interest in `topic`, from 0 to 1, which overrides the inferred one; 0 hides it. */
export function interest(topic: string, weight: number): void;

/** Calls `callback` once the config was applied (or failed to load); at once if it already was. */
export function ready(callback: () => void): void;

/** The visitor profile worked out on the device; `null` before the config was applied. */
export function profile(): Profile | null;

/** Calls `callback` when the likely journey stage changes. */
export function on(event: 'stage', callback: (change: StageChange) => void): void;

/** What a journey panel shows besides the profile: tracking state, consent, the queue, each slot's decision. */
export function debug(): Debug;
