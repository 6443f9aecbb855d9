/*! Sillage (MIT OR Apache-2.0) */
/**
 * The personalization module of the npm package, `sillage/p13n`. Its only
 * use is `boot()`'s `p13n` option of the tracking module, which loads it
 * when a slot needs it:
 *
 * ```ts
 * import init, { boot } from 'sillage';
 * await init();
 * boot({
 *   configUrl: '/sillage.config.json',
 *   p13n: () => import('sillage/p13n').then((m) => m.default().then(() => m)),
 * });
 * ```
 *
 * Written by hand in `types/sillage_p13n.d.ts`: the functions the tracking
 * module calls are internal and not declared.
 */

/** What `init()` can load the WebAssembly module from. */
export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

/** Loads the WebAssembly module (by default from beside this file). */
export default function init(options?: {
  module_or_path?: InitInput | Promise<InitInput>;
}): Promise<unknown>;

/** Instantiates the WebAssembly module from its bytes or a compiled module, synchronously. */
export function initSync(options: { module: BufferSource | WebAssembly.Module }): unknown;
