// The side-by-side benchmark's local web server (`tests/bench/peers.mjs`):
// it serves the bench pages and every SDK's files on 127.0.0.1, and is the
// recording endpoint every SDK sends to, so nothing leaves the machine.
//
// Each page is given a run id (`?run=<id>`); its SDK sends to `/rec/<id>/...`.
// For each run the server records every request (path, status, bytes as
// sent), decompresses gzip bodies, reads the events inside with the SDK's own
// wire format and counts them by their unique ids (Segment and Sillage
// `messageId`, PostHog `uuid`, Snowplow `eid`). A run can be put in an
// outage: its event requests are then answered 503 and none of their events
// counts as delivered.
import http from 'node:http';
import zlib from 'node:zlib';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

/** The SDKs' names in the tables. */
export const LABEL = {
  sillage: 'Sillage',
  'sillage-gzip': 'Sillage (gzip)',
  segment: 'Segment',
  'segment-batching': 'Segment (batching)',
  posthog: 'PostHog',
  snowplow: 'Snowplow',
  growthbook: 'GrowthBook',
};

/** The event name every benchmark call uses (Snowplow: the schema below). */
export const BENCH_EVENT = 'Product Viewed';
export const SNOWPLOW_SCHEMA = 'iglu:com.example/product_viewed/jsonschema/1-0-0';

/**
 * The events inside one request body, as `{id, name}`, for `sdk`'s wire
 * format; `null` when the request carries no events (config, flags).
 */
export function eventsOf(sdk, reqPath, json) {
  const list = (a) => (Array.isArray(a) ? a : []);
  switch (sdk) {
    case 'sillage':
    case 'sillage-gzip':
      return list(json?.batch).map((e) => ({ id: e.messageId, name: e.type === 'track' ? e.event : e.type }));
    case 'segment':
    case 'segment-batching':
      if (/\/(b|batch)$/.test(reqPath)) {
        return list(json?.batch).map((e) => ({ id: e.messageId, name: e.type === 'track' ? e.event : e.type }));
      }
      return json && json.messageId ? [{ id: json.messageId, name: json.type === 'track' ? json.event : json.type }] : [];
    case 'posthog': {
      const arr = Array.isArray(json) ? json : json && Array.isArray(json.batch) ? json.batch : json ? [json] : [];
      return arr.map((e) => ({ id: e.uuid, name: e.event }));
    }
    case 'snowplow':
      return list(json?.data).map((e) => {
        let name = e.e;
        if (e.e === 'ue') {
          let ue = e.ue_pr;
          if (!ue && e.ue_px) ue = Buffer.from(e.ue_px.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString();
          try {
            const schema = JSON.parse(ue).data.schema;
            name = schema === SNOWPLOW_SCHEMA ? BENCH_EVENT : schema;
          } catch {
            name = 'ue?';
          }
        }
        return { id: e.eid, name };
      });
    default:
      return [];
  }
}

/** Is `p` (a path under /rec/<run>) one that carries events for `sdk`? */
function isEventPath(sdk, p) {
  if (sdk === 'sillage' || sdk === 'sillage-gzip') return p === '/v1/batch';
  if (sdk.startsWith('segment')) return /^\/v1\/[tpigasb]$/.test(p) || p === '/v1/batch';
  if (sdk === 'posthog') return /^\/(e|i\/v0\/e|batch|engage|s)\/?$/.test(p);
  if (sdk === 'snowplow') return p.startsWith('/com.snowplowanalytics.snowplow/') || p === '/i';
  return false;
}

/** What PostHog's API would answer to its configuration requests (no flags, no recording, compression on). */
const POSTHOG_REMOTE = {
  supportedCompression: ['gzip', 'gzip-js'],
  autocapture_opt_out: false,
  autocaptureExceptions: false,
  capturePerformance: false,
  sessionRecording: false,
  heatmaps: false,
  surveys: false,
  siteApps: [],
  elementsChainAsString: true,
  hasFeatureFlags: false,
};

class Run {
  constructor(id) {
    this.id = id;
    this.sdk = id.split('.')[0];
    this.requests = [];
    this.outageUntil = 0;
    this.lastAt = 0;
  }
  /** Delivered (acknowledged) events named `name`: unique ids and duplicates. */
  delivered(name = BENCH_EVENT, since = 0) {
    let unique = 0;
    let dupes = 0;
    const seen = new Map();
    for (const r of this.requests) {
      if (r.at < since || r.status >= 300) continue;
      for (const e of r.events) {
        if (e.name !== name) continue;
        seen.set(e.id, (seen.get(e.id) || 0) + 1);
      }
    }
    for (const n of seen.values()) {
      unique += 1;
      dupes += n - 1;
    }
    return { unique, dupes };
  }
  /** Event requests since `since` (ms, server clock): count, bytes as sent, bytes of JSON. */
  traffic(since = 0) {
    const rs = this.requests.filter((r) => r.at >= since && r.eventPath);
    return {
      requests: rs.length,
      wireBytes: rs.reduce((a, r) => a + r.wireBytes, 0),
      jsonBytes: rs.reduce((a, r) => a + r.jsonBytes, 0),
      gzipBytes: rs.reduce((a, r) => a + r.gzipBytes, 0),
      statuses: rs.reduce((a, r) => ((a[r.status] = (a[r.status] || 0) + 1), a), {}),
      contentTypes: [...new Set(rs.map((r) => r.contentType))],
      encodings: [...new Set(rs.map((r) => r.encoding))],
    };
  }
}

/**
 * Starts the server. `files(urlPath)` maps a static URL to a file on disk (or
 * null); `page(name, run)` returns a page's HTML (or null).
 */
export async function startRecorder({ files, page }) {
  const runs = new Map();
  const run = (id) => {
    if (!runs.has(id)) runs.set(id, new Run(id));
    return runs.get(id);
  };
  const errors = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        handle(req, res, url, Buffer.concat(chunks));
      } catch (e) {
        errors.push(`${req.method} ${req.url}: ${e.stack || e}`);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      }
    });
  });

  function handle(req, res, url, body) {
    const isolated = {
      // Cross-origin isolation gives performance.now() 5 us resolution (100 us otherwise).
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    };
    const m = url.pathname.match(/^\/rec\/([^/]+)(\/.*)$/);
    if (m) return record(req, res, url, body, run(m[1]), m[2]);
    const pm = url.pathname.match(/^\/page\/([\w-]+)\.html$/);
    if (pm) {
      const html = page(pm[1], url.searchParams.get('run') || pm[1]);
      if (html == null) return notFound(res);
      res.writeHead(200, { 'Content-Type': TYPES['.html'], 'Cache-Control': 'no-store', ...isolated });
      return res.end(html);
    }
    const file = files(url.pathname);
    if (file) return serveFile(req, res, file, isolated);
    notFound(res);
  }

  function notFound(res) {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found');
  }

  /** Static files as the reference collector serves the SDK: `no-cache`, revalidated by ETag. */
  function serveFile(req, res, file, extra) {
    let stat;
    try {
      stat = fs.statSync(file);
    } catch {
      return notFound(res);
    }
    const etag = `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
    const headers = {
      'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream',
      'Cache-Control': 'no-cache',
      ETag: etag,
      'Cross-Origin-Resource-Policy': 'same-origin',
      ...extra,
    };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers);
      return res.end();
    }
    res.writeHead(200, { ...headers, 'Content-Length': stat.size });
    fs.createReadStream(file).pipe(res);
  }

  function record(req, res, url, body, r, sub) {
    const now = Date.now();
    r.lastAt = now;
    const cors = {
      'Access-Control-Allow-Origin': req.headers.origin || '*',
      'Access-Control-Allow-Credentials': 'true',
      'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] || '*',
      'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
      'Cross-Origin-Resource-Policy': 'cross-origin',
    };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, cors);
      return res.end();
    }
    // PostHog's configuration and its lazily loaded extensions (its assets
    // host is its API host when that is not PostHog's cloud).
    if (r.sdk === 'posthog') {
      const token = sub.match(/^\/array\/([^/]+)\/config(\.js)?$/);
      if (token) {
        const cfg = JSON.stringify({ token: token[1], ...POSTHOG_REMOTE });
        if (token[2]) {
          res.writeHead(200, { ...cors, 'Content-Type': TYPES['.js'] });
          return res.end(
            `(function(){window._POSTHOG_REMOTE_CONFIG=window._POSTHOG_REMOTE_CONFIG||{};window._POSTHOG_REMOTE_CONFIG[${JSON.stringify(token[1])}]={config:${cfg},siteApps:[]}})();`,
          );
        }
        res.writeHead(200, { ...cors, 'Content-Type': 'application/json' });
        return res.end(cfg);
      }
      if (/^\/(flags|decide)\/?$/.test(sub)) {
        res.writeHead(200, { ...cors, 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ flags: {}, featureFlags: {}, errorsWhileComputingFlags: false, ...POSTHOG_REMOTE }));
      }
      // `/static/<version>/<file>`: the extensions of the same build.
      const st = sub.match(/^\/static\/(?:[\d.]+\/)?([^/]+)$/);
      const file = st ? files(`/peers/posthog/${st[1]}`) : null;
      if (file) return serveFile(req, res, file, {});
    }
    const eventPath = req.method === 'POST' && isEventPath(r.sdk, sub);
    // PostHog gzips its bodies itself (gzip-js), without a Content-Encoding.
    const gzipped = body.length > 2 && body[0] === 0x1f && body[1] === 0x8b;
    const encoding = req.headers['content-encoding'] || (gzipped ? 'gzip (in the body)' : 'identity');
    let text = body;
    if (gzipped) {
      try {
        text = zlib.gunzipSync(body);
      } catch {
        text = body;
      }
    }
    let json = null;
    let events = [];
    if (eventPath) {
      let s = text.toString('utf8');
      if (r.sdk === 'posthog' && s.startsWith('data=')) {
        s = Buffer.from(decodeURIComponent(s.slice(5).split('&')[0]), 'base64').toString('utf8');
      }
      try {
        json = JSON.parse(s);
      } catch {
        json = null;
      }
      events = eventsOf(r.sdk, sub, json).filter((e) => e.id);
    }
    const outage = eventPath && now < r.outageUntil;
    const status = outage ? 503 : 200;
    r.requests.push({
      at: now,
      method: req.method,
      path: sub,
      eventPath,
      status,
      wireBytes: body.length,
      jsonBytes: text.length,
      // What the body would weigh gzipped (level 6, as a browser's CompressionStream).
      gzipBytes: gzipped ? body.length : zlib.gzipSync(text).length,
      encoding,
      contentType: req.headers['content-type'] || '',
      headers: req.headers,
      events,
      body: eventPath ? json : null,
      raw: eventPath && !json ? text.toString('latin1').slice(0, 300) : undefined,
    });
    if (outage) {
      res.writeHead(503, { ...cors, 'Content-Type': 'text/plain' });
      return res.end('outage');
    }
    res.writeHead(200, { ...cors, 'Content-Type': 'application/json' });
    res.end(r.sdk === 'posthog' ? '{"status":1}' : '{}');
  }

  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    base,
    run,
    runIds: () => [...runs.keys()],
    errors,
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections?.();
        server.close(ok);
      }),
  };
}

/** gzip (level 9) and brotli (quality 11) sizes of a file, cached by path. */
const sizeCache = new Map();
export function compressedSizes(file) {
  if (!sizeCache.has(file)) {
    const b = fs.readFileSync(file);
    sizeCache.set(file, {
      raw: b.length,
      gzip: zlib.gzipSync(b, { level: 9 }).length,
      brotli: zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
      sha256: crypto.createHash('sha256').update(b).digest('hex').slice(0, 12),
    });
  }
  return sizeCache.get(file);
}
