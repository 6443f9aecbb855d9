// The trail finder: a small single-page app. Each answer is a
// history.pushState navigation (Sillage records each as a page view), and
// the last one is a zero-party interest (sillage.interest), which the
// "finder-picks" rule turns into recommendations.
(function (w, d) {
  'use strict';
  var S = w.SillageSports;
  var STEPS = {
    start: { q: 'Where do you like to go?', a: [['Forest paths and hills', 'terrain', 'running'], ['High mountains, several days', 'terrain', 'hiking']] },
    terrain: { q: 'How far do you go?', a: [['Up to an hour', 'result'], ['Half a day or more', 'result']] }
  };
  var root = d.getElementById('finder');
  function topicOf() { return new URLSearchParams(location.search).get('topic') || 'running'; }
  function render(step) {
    root.textContent = '';
    if (step === 'result') {
      var topic = topicOf();
      root.appendChild(S.el('h2', { text: topic === 'hiking' ? 'You are a hiker' : 'You are a trail runner' }));
      root.appendChild(S.el('p', { text: 'We will show you more ' + topic + ' gear from now on (you told us: sillage.interest("' + topic + '", 0.9)).' }));
      var again = S.el('button', { type: 'button', text: 'Start again' });
      again.addEventListener('click', function () { go('start'); });
      root.appendChild(again);
      return;
    }
    var s = STEPS[step] || STEPS.start;
    root.appendChild(S.el('h2', { text: s.q }));
    var choices = S.el('div', { class: 'finder-choices' });
    s.a.forEach(function (a) {
      var b = S.el('button', { type: 'button', text: a[0] });
      b.addEventListener('click', function () {
        if (a[2]) w.sillage.interest(a[2], 0.9);
        go(a[1], a[2]);
      });
      choices.appendChild(b);
    });
    root.appendChild(choices);
  }
  function go(step, topic) {
    var q = step === 'start' ? '' : '?step=' + step + '&topic=' + (topic || topicOf());
    history.pushState({ step: step }, '', '/finder.html' + q);
    d.title = 'Trail finder: ' + step + ' · Sillage Sports';
    render(step);
  }
  w.addEventListener('popstate', function (e) { render((e.state && e.state.step) || 'start'); });
  w.SillageFinder = function () { render(new URLSearchParams(location.search).get('step') || 'start'); };
})(window, document);
