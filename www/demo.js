// Demo store behaviour: the calls a real site would make, plus a live view of
// what reached the collector. Note the page never reads form field values.
(function () {
  document.querySelectorAll('[data-add]').forEach(function (b) {
    b.addEventListener('click', function () {
      sillage.track('Product Added', JSON.parse(b.getAttribute('data-add')));
    });
  });
  document.getElementById('signup').addEventListener('click', function () {
    sillage.track('Signed Up', { plan: 'pro' });
  });
  document.getElementById('flush').addEventListener('click', function () {
    sillage.flush().then(refresh);
  });
  document.getElementById('forget').addEventListener('click', function () {
    sillage.forget().then(refresh);
  });

  function cell(text) {
    var td = document.createElement('td');
    td.textContent = text;
    return td;
  }

  function refresh() {
    var me = localStorage.getItem('sillage.anonymousId');
    document.getElementById('who').textContent = me ? '(anonymousId ' + me + ')' : '';
    fetch('/v1/events?limit=1000').then(function (r) { return r.json(); }).then(function (data) {
      var body = document.getElementById('events');
      body.textContent = '';
      data.events.filter(function (e) { return e.anonymousId === me; }).slice(-15).reverse().forEach(function (e) {
        var tr = document.createElement('tr');
        tr.appendChild(cell(e.receivedAt || ''));
        tr.appendChild(cell(e.type));
        tr.appendChild(cell(e.event || e.name || ''));
        tr.appendChild(cell(JSON.stringify(e.properties || e.traits || {})));
        body.appendChild(tr);
      });
    }).catch(function () {});
  }
  refresh();
  setInterval(refresh, 2000);
})();
