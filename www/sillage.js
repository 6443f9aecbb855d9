/*! Sillage loader (MIT OR Apache-2.0) */
/* A tiny stub that queues calls until the SDK is ready:
 * <script async src="/sillage/sillage.js" data-config="/sillage.config.json"></script>
 * It finds its own URL, loads sillage_glue.js and sillage_bg.wasm from beside
 * itself, boots the SDK with the config, then replays the queued calls in order.
 * It never throws into the page: if anything fails, the page works without it. */
(function (w, d) {
  var s = w.sillage;
  if (s && s.__sillage) return; // included twice: the first copy wins
  var q = (s && s._q) || [];
  var api = { __sillage: 1, _q: q };
  var names = ['track', 'page', 'identify', 'consent', 'attributes', 'profile', 'interest', 'flush', 'forget', 'on', 'ready'];
  names.forEach(function (m) {
    api[m] = function () {
      var args = [].slice.call(arguments);
      if (m === 'flush' || m === 'forget') {
        return new Promise(function (resolve) { q.push([m, args, resolve]); });
      }
      if (m === 'profile') return null;
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
  import(base + 'sillage_glue.js')
    .then(function (mod) {
      return mod.default({ module_or_path: base + 'sillage_bg.wasm' }).then(function () {
        mod.boot({ configUrl: cfg ? new URL(cfg, d.baseURI).href : undefined });
        // Replay and swap in one synchronous step, so no call slips between.
        mod.replay(q.splice(0));
        names.forEach(function (m) { api[m] = mod[m]; });
      });
    })
    .catch(function (e) {
      console.warn('sillage: could not start; the page keeps working without it', e);
    });
})(window, document);
