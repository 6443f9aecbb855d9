// Demo store behaviour: the calls a real site would make, plus a live view of
// the on-device profile and of what reached the collector. Note the page never
// reads form field values.
(function () {
  document.querySelectorAll('[data-add]').forEach(function (b) {
    b.addEventListener('click', function () {
      sillage.track('Product Added', JSON.parse(b.getAttribute('data-add')));
      sillage.attributes({}); // decide the slots again with the new cart
      setTimeout(showProfile, 50);
    });
  });
  function on(id, f) { document.getElementById(id).addEventListener('click', f); }
  on('interest', function () { sillage.interest('running', 0.8); sillage.attributes({}); setTimeout(showProfile, 50); });
  on('checkout', function () { sillage.track('Checkout Started', {}); sillage.attributes({}); setTimeout(showProfile, 50); });
  on('order', function () { sillage.track('Order Completed', { order_id: 'o-' + Date.now(), total: 129 }); sillage.attributes({}); setTimeout(showProfile, 50); });
  on('signup', function () { sillage.track('Signed Up', { plan: 'pro' }); });
  on('flush', function () { sillage.flush().then(refresh); });
  on('forget', function () { sillage.forget().then(function () { refresh(); showProfile(); }); });
  sillage.ready(function () { sillage.on('stage', showProfile); showProfile(); });

  function showProfile() {
    var p = sillage.profile && sillage.profile();
    if (!p) return;
    var pct = function (x) { return Math.round(x * 100) + '%'; };
    document.getElementById('stage').textContent = 'Journey stage: ' + p.stage + ' (' + pct(p.stageProbabilities[p.stage]) + ')';
    var ul = document.getElementById('reasons');
    ul.textContent = '';
    p.reasons.forEach(function (r) { var li = document.createElement('li'); li.textContent = r.text; ul.appendChild(li); });
    document.getElementById('interests').textContent = 'Interests: ' + (Object.keys(p.interests).map(function (k) { return k + ' ' + pct(p.interests[k]); }).join(', ') || 'none yet');
  }

  function cell(text) {
    var td = document.createElement('td');
    td.textContent = text;
    return td;
  }

  // What the collector stored for this visitor, through the visitor view
  // (GET /v1/me/events): the collector answers with the events of the
  // anonymousId presented in the Sillage-Anonymous-Id header, and of no
  // other. That id is a random UUID only this browser holds.
  function refresh() {
    var me = localStorage.getItem('sillage.anonymousId');
    var status = document.getElementById('events-status');
    document.getElementById('who').textContent = me ? '(anonymousId ' + me + ')' : '';
    if (!me) return;
    fetch('/v1/me/events?limit=15', { headers: { 'Sillage-Anonymous-Id': me } }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) throw new Error(data.error || 'HTTP ' + r.status);
        return data;
      });
    }).then(function (data) {
      status.textContent = '';
      var body = document.getElementById('events');
      body.textContent = '';
      data.events.slice().reverse().forEach(function (e) {
        var tr = document.createElement('tr');
        tr.appendChild(cell(e.receivedAt || ''));
        tr.appendChild(cell(e.type));
        tr.appendChild(cell(e.event || e.name || ''));
        tr.appendChild(cell(JSON.stringify(e.properties || e.traits || {})));
        body.appendChild(tr);
      });
    }).catch(function (err) { status.textContent = 'Cannot show what the collector stored: ' + err.message; });
  }
  refresh();
  setInterval(refresh, 2000);
})();
