/*! Sillage loader (MIT OR Apache-2.0) */
/* A tiny stub that queues calls until the SDK is ready:
 * <script async src="/sillage/sillage.js" data-config="/sillage.config.json"></script>
 * It finds its own URL, loads sillage_glue.js and sillage_bg.wasm from beside
 * itself, boots the SDK with the config, then replays the queued calls in order.
 * A page whose HTML has slots (or the anti-flicker snippet) gets the SDK with
 * personalization linked in (sillage_full.js); any other page the tracking
 * module alone, and the personalization module (sillage_p13n.js) only if a
 * slot appears later and the config has rules.
 * With ?sillage_debug=1 it also loads the journey panel (sillage-panel.js).
 * Methods that return a value (flush, forget, profile, debug) return a Promise
 * that settles once the SDK has loaded. It never throws into the page: if
 * anything fails, the page works without it. */
(function (w, d) {
  var s = w.sillage;
  if (s && s.__sillage) return; // included twice: the first copy wins
  var q = (s && s._q) || [];
  var api = { __sillage: 1, _q: q };
  var names = 'track page identify group alias reset consent attributes interest on ready flush forget profile debug'.split(' ');
  var valued = /^(flush|forget|profile|debug)$/;
  names.forEach(function (m) {
    api[m] = function () {
      var args = [].slice.call(arguments);
      if (valued.test(m)) {
        return new Promise(function (resolve) { q.push([m, args, resolve]); });
      }
      q.push([m, args]);
    };
  });
  w.sillage = api;
  var me = d.currentScript;
  if (!me || !me.src) {
    console.warn('sillage: the loader must be included with a <script src> tag');
    return;
  }
  var base = new URL('.', me.src).href;
  var cfg = me.getAttribute('data-config');
  function load(js, wasm) {
    return import(base + js).then(function (m) {
      return m.default({ module_or_path: base + wasm }).then(function () { return m; });
    });
  }
  var slots = d.getElementById('sillage-hide') || d.querySelector('[data-sillage-slot]');
  (slots ? load('sillage_full.js', 'sillage_full_bg.wasm') : load('sillage_glue.js', 'sillage_bg.wasm'))
    .then(function (mod) {
      mod.boot({
        configUrl: cfg ? new URL(cfg, d.baseURI).href : undefined,
        messagesUrl: base + 'sillage_messages.json',
        p13n: function () { return load('sillage_p13n.js', 'sillage_p13n_bg.wasm'); }
      });
      // Replay and swap in one synchronous step, so no call slips between.
      mod.replay(q.splice(0));
      names.forEach(function (m) { api[m] = mod[m]; });
      // ?sillage_debug=1: the journey panel, a separate module beside the
      // SDK; it opens only if the config has "debug": true.
      if (/[?&]sillage_debug=1/.test(location.search)) import(base + 'sillage-panel.js').catch(function () {});
    })
    .catch(function (e) {
      console.warn('sillage: could not start; the page keeps working without it', e);
    });
})(window, document);
