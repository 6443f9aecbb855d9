// The account page's "Your data": what the collector stored for this
// visitor, read through its visitor view (GET /v1/me/events, on in the demo):
// it answers only with the events of the anonymousId this browser presents
// (a random id kept in this site's storage), never anyone else's. Also the
// privacy buttons: send now, forget me, personalization off.
(function (d) {
  'use strict';
  function on(id, f) { var b = d.getElementById(id); if (b) b.addEventListener('click', f); }
  on('flush', function () { sillage.flush().then(refresh); });
  on('forget', function () {
    sillage.forget().then(function () {
      d.getElementById('events').textContent = '';
      refresh();
    });
  });
  // Personalization consent, as a toggle: off shows every page's defaults.
  var toggle = d.getElementById('no-personalization');
  function label(off) {
    toggle.textContent = off ? 'Personalization is off: turn it back on' : 'Show me the defaults (consent: personalization off)';
    toggle.setAttribute('data-off', off ? 'true' : 'false');
  }
  Promise.resolve(sillage.debug()).then(function (dbg) { label(!!(dbg && dbg.consent && dbg.consent.personalization === false)); });
  on('no-personalization', function () {
    var off = toggle.getAttribute('data-off') !== 'true';
    sillage.consent({ personalization: !off });
    label(off);
  });
  function cell(text) {
    var td = d.createElement('td');
    td.textContent = text;
    return td;
  }
  function refresh() {
    var me = localStorage.getItem('sillage.anonymousId');
    var status = d.getElementById('events-status');
    d.getElementById('who').textContent = me ? '(anonymousId ' + me + ')' : '';
    if (!me) return;
    fetch('/v1/me/events?limit=15', { headers: { 'Sillage-Anonymous-Id': me } }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) throw new Error(data.error || 'HTTP ' + r.status);
        return data;
      });
    }).then(function (data) {
      status.textContent = '';
      var body = d.getElementById('events');
      body.textContent = '';
      data.events.slice().reverse().forEach(function (e) {
        var tr = d.createElement('tr');
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
})(document);
