// Generates the npm package's `Config` and `Profile` types from the JSON
// Schemas, with json-schema-to-typescript (pinned in package.json):
//   www/sillage.schema.json          -> OUT/config.d.ts  (SillageConfig)
//   www/sillage.profile.schema.json  -> OUT/profile.d.ts (SillageVisitorProfile)
// The config's schema is generated from the CLI's Rust document types
// (`sillage schema`, cli/src/schema.rs) and the profile's is the one the
// core's snapshots are validated against, so the types follow both.
// Run by `cargo xtask build` (and the types step of `cargo xtask test`):
//   node types/generate.mjs OUT
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile } from 'json-schema-to-typescript';

const out = process.argv[2];
if (!out) {
  console.error('usage: node types/generate.mjs OUT_DIR');
  process.exit(2);
}

// json-schema-to-typescript reads draft-07 tuples (`items: [...]`,
// `additionalItems`); the schemas are draft 2020-12 (`prefixItems`,
// `items: false`). Rewrite those, and fail on a keyword that it would
// silently type as something looser or wrong.
function draft07(v, path) {
  if (Array.isArray(v)) return v.map((x, i) => draft07(x, `${path}/${i}`));
  if (v === null || typeof v !== 'object') return v;
  const o = {};
  for (const [k, x] of Object.entries(v)) {
    if (['$dynamicRef', '$dynamicAnchor', 'unevaluatedProperties', 'unevaluatedItems', 'dependentSchemas', 'if'].includes(k)) {
      throw new Error(`${path}/${k}: not supported by the type generator; extend types/generate.mjs`);
    }
    o[k] = draft07(x, `${path}/${k}`);
  }
  if (Array.isArray(o.prefixItems)) {
    // A closed tuple whose last items may be missing: one fixed tuple per
    // allowed length (the generator's own optional tuple items print
    // wrongly inside an array type).
    const { prefixItems, items, minItems, maxItems, type, ...rest } = o;
    if (items !== false) {
      throw new Error(`${path}: an open tuple (prefixItems without items: false); extend types/generate.mjs`);
    }
    const tuple = (n) => ({ type: 'array', items: prefixItems.slice(0, n), minItems: n, maxItems: n, additionalItems: false });
    const lengths = [];
    for (let n = minItems ?? 0; n <= Math.min(maxItems ?? prefixItems.length, prefixItems.length); n++) {
      lengths.push(tuple(n));
    }
    return lengths.length === 1 ? { ...rest, ...lengths[0] } : { ...rest, anyOf: lengths };
  }
  return o;
}

const banner = (from) =>
  `/*! Sillage (MIT OR Apache-2.0) */\n/* Generated from ${from} by types/generate.mjs (cargo xtask build): do not edit. */`;

for (const [schema, file] of [
  ['www/sillage.schema.json', 'config.d.ts'],
  ['www/sillage.profile.schema.json', 'profile.d.ts'],
]) {
  const doc = draft07(JSON.parse(readFileSync(schema, 'utf8')), schema);
  // The `$id`s are where the schemas are served, not where to resolve refs.
  delete doc.$id;
  const ts = await compile(doc, doc.title, {
    bannerComment: banner(schema),
    unknownAny: true,
    strictIndexSignatures: true,
    // An array with `minItems` types its first items (`[V, V, ...V[]]`
    // for two variants); a `maxItems` is left to the docs (no unions of
    // tuples of every length).
    ignoreMinAndMaxItems: false,
    maxItems: 0,
    declareExternallyReferenced: true,
  });
  writeFileSync(join(out, file), ts);
  console.log(`wrote ${join(out, file)} from ${schema}`);
}
