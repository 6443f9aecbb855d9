// Sillage Sports: the demo store's shared behaviour, without a framework.
// Each page includes this file at the top of its <body>: it draws the shared
// header (with the cart count and the personalized "banner" slot) at once,
// then, once the page is parsed, the footer, the page's own behaviour and the
// Segment e-commerce events, with the real products and values of the cart.
// The cart is the store's own, kept in this site's localStorage
// ("sillage-sports.cart"); Sillage only sees the events the store records.
// Everything is built with createElement and textContent: no innerHTML.
(function (w, d) {
  'use strict';

  // The products (the config's "catalog" lists the same ids for the
  // recommendations).
  var PRODUCTS = {
    'TRAIL-1': { name: 'Trail Runner', category: 'running', price: 129, slug: 'trail-runner', blurb: 'Light, grippy shoes for your first trails.' },
    'TRAIL-PRO': { name: 'Trail Runner Pro', category: 'running', price: 179, slug: 'trail-runner-pro', blurb: 'A carbon plate and deeper lugs for long, technical runs.' },
    'JACKET-2': { name: 'Storm Rain Jacket', category: 'hiking', price: 189, slug: 'storm-rain-jacket', blurb: 'Packable, waterproof and breathable.' },
    'BOOTS-5': { name: 'Ridge Hiking Boots', category: 'hiking', price: 159, slug: 'ridge-hiking-boots', blurb: 'Waterproof leather boots for long days out.' },
    'SOCKS-3': { name: 'Merino Socks (3 pairs)', category: 'running', price: 29, slug: 'merino-socks', blurb: 'Soft, warm and blister-free in all seasons.' },
    'FLASK-4': { name: 'Soft Flask 500 ml', category: 'running', price: 19, slug: 'soft-flask', blurb: 'Squeezes flat when empty, fits any vest.' }
  };
  var CART_KEY = 'sillage-sports.cart';
  var ORDERS_KEY = 'sillage-sports.orders';
  var PANEL_KEY = 'sillage-sports.panel';
  var SHIPPING = 4.9;
  var FREE_SHIPPING_FROM = 100;

  function el(tag, attrs, children) {
    var e = d.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === 'text') e.textContent = attrs[k];
        else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) e.setAttribute(k, attrs[k]);
      });
    }
    (children || []).forEach(function (c) { if (c) e.appendChild(typeof c === 'string' ? d.createTextNode(c) : c); });
    return e;
  }
  function euros(n) { return '€' + (Math.round(n * 100) / 100).toFixed(2).replace(/\.00$/, ''); }
  function read(key, fallback) {
    try { var v = JSON.parse(localStorage.getItem(key)); return v === null ? fallback : v; } catch (e) { return fallback; }
  }
  function write(key, v) { try { localStorage.setItem(key, JSON.stringify(v)); } catch (e) { /* private mode: the cart lives for this page */ } }
  function track(event, props) { if (w.sillage) w.sillage.track(event, props); }

  // ---- The cart ----------------------------------------------------------
  function cart() { return read(CART_KEY, []).filter(function (l) { return PRODUCTS[l.id] && l.quantity > 0; }); }
  function cartCount() { return cart().reduce(function (n, l) { return n + l.quantity; }, 0); }
  function line(id, quantity, position) {
    var p = PRODUCTS[id];
    var out = { product_id: id, sku: id, name: p.name, category: p.category, price: p.price, quantity: quantity,
      url: '/products/' + p.slug + '.html', image_url: '/assets/img/' + p.slug + '.svg' };
    if (position) out.position = position;
    return out;
  }
  function cartLines() { return cart().map(function (l) { return line(l.id, l.quantity); }); }
  function subtotal() { return cart().reduce(function (n, l) { return n + PRODUCTS[l.id].price * l.quantity; }, 0); }
  function shipping(sub) { return sub === 0 || sub >= FREE_SHIPPING_FROM ? 0 : SHIPPING; }
  function cartId() {
    var id = read('sillage-sports.cartId', null);
    if (!id) { id = 'c-' + Math.random().toString(36).slice(2, 10); write('sillage-sports.cartId', id); }
    return id;
  }
  function add(id) {
    var c = cart();
    var l = c.filter(function (x) { return x.id === id; })[0];
    if (l) l.quantity += 1; else c.push({ id: id, quantity: 1 });
    write(CART_KEY, c);
    var props = line(id, 1);
    props.cart_id = cartId();
    props.currency = 'EUR';
    track('Product Added', props);
    refreshCount();
  }
  function remove(id) {
    var c = cart();
    var l = c.filter(function (x) { return x.id === id; })[0];
    if (!l) return;
    write(CART_KEY, c.filter(function (x) { return x.id !== id; }));
    var props = line(id, l.quantity);
    props.cart_id = cartId();
    props.currency = 'EUR';
    track('Product Removed', props);
    refreshCount();
  }
  function refreshCount() {
    var n = cartCount();
    var c = d.getElementById('cart-count');
    if (c) c.textContent = String(n);
    shareCart();
  }
  // The rules see the cart through the events; the up-sell rule also reads
  // which products are in it, as the site's own attribute "cartSkus" (the
  // config declares it). Setting attributes decides the slots again.
  function shareCart() {
    if (w.sillage) w.sillage.attributes({ cartSkus: cart().map(function (l) { return l.id; }) });
  }
  shareCart();

  // ---- The shared header and footer ---------------------------------------
  var NAV = [
    ['/shop.html', 'Shop'], ['/blog/trail-running-guide.html', 'Guide'], ['/compare.html', 'Compare'],
    ['/reviews.html', 'Reviews'], ['/finder.html', 'Trail finder'], ['/quote.html', 'Team orders'],
    ['/orders.html', 'Orders & help'], ['/account.html', 'Account']
  ];
  function header() {
    var here = location.pathname;
    var nav = el('nav', { 'aria-label': 'Main' }, NAV.map(function (n) {
      return el('a', { href: n[0], 'aria-current': here === n[0] ? 'page' : null, text: n[1] });
    }));
    var cartLink = el('a', { href: '/cart.html', id: 'cart-link', class: 'cart-link' }, ['Cart (', el('span', { id: 'cart-count', text: String(cartCount()) }), ')']);
    var panelButton = el('button', { type: 'button', id: 'panel-button', class: 'panel-button', title: 'What Sillage worked out in this browser, and why', text: 'Journey panel' });
    panelButton.addEventListener('click', togglePanel);
    var top = el('div', { class: 'topbar' }, [
      el('a', { href: '/', class: 'logo' }, [el('img', { src: '/assets/img/logo.svg', alt: '', width: '28', height: '28' }), ' Sillage Sports']),
      nav, cartLink, panelButton
    ]);
    // The personalized banner of every page: its messages are in the config
    // (rules on the "banner" slot); this is the default.
    var banner = el('div', { class: 'banner', 'data-sillage-slot': 'banner' }, [
      el('p', null, ['Free delivery from €100 · ', el('a', { href: '/start.html', text: 'How this demo works' })])
    ]);
    return el('header', { class: 'site' }, [top, banner]);
  }
  function footer() {
    return el('footer', { class: 'site' }, [
      el('p', null, ['Sillage Sports is a demo store for the Sillage SDK',
        ': every personalization on these pages is a rule in ', el('a', { href: '/sillage.config.json', text: 'sillage.config.json' }),
        ', decided in your browser from what you did here. Nothing is sold.']),
      el('p', null, [el('a', { href: '/start.html', text: 'Start again from another channel' }), ' · ',
        el('a', { href: '/account.html#privacy', text: 'Your data' })])
    ]);
  }

  // ---- The journey panel (a separate module, loaded only on demand) -------
  function loadPanel() { return import('/sillage/sillage-panel.js'); }
  function togglePanel() {
    loadPanel().then(function (m) {
      var open = m.toggle();
      try { sessionStorage.setItem(PANEL_KEY, open ? '1' : '0'); } catch (e) { /* no session storage */ }
    }).catch(function (e) { console.warn('Sillage Sports: the journey panel did not load:', e); });
  }

  var header_ = header();
  var me = d.currentScript;
  if (me && me.parentNode) me.parentNode.insertBefore(header_, me.nextSibling);
  else d.body.insertBefore(header_, d.body.firstChild);

  // ---- Pages --------------------------------------------------------------
  function wireAddButtons(root) {
    root.querySelectorAll('[data-add]').forEach(function (b) {
      if (b.getAttribute('data-wired')) return;
      b.setAttribute('data-wired', '1');
      b.addEventListener('click', function () {
        add(b.getAttribute('data-add'));
        b.textContent = 'Added ✓';
        var note = d.getElementById('added-note');
        if (note) note.hidden = false;
      });
    });
  }
  var pages = {
    home: function () {},
    category: function () {
      var ids = [].map.call(d.querySelectorAll('[data-list] [data-sku]'), function (c) { return c.getAttribute('data-sku'); });
      track('Product List Viewed', { list_id: 'all-gear', products: ids.map(function (id, i) { return line(id, 1, i + 1); }) });
    },
    product: function (main) {
      var id = main.getAttribute('data-product');
      var props = line(id, 1);
      props.currency = 'EUR';
      delete props.quantity;
      track('Product Viewed', props);
    },
    cart: function () {
      var body = d.getElementById('cart-lines');
      var lines = cart();
      body.textContent = '';
      var sub = subtotal();
      lines.forEach(function (l) {
        var p = PRODUCTS[l.id];
        var rm = el('button', { type: 'button', class: 'link', 'data-remove': l.id, text: 'Remove' });
        rm.addEventListener('click', function () { remove(l.id); pages.cart(); });
        body.appendChild(el('tr', null, [
          el('td', null, [el('a', { href: '/products/' + p.slug + '.html', text: p.name })]),
          el('td', { text: String(l.quantity) }), el('td', { text: euros(p.price * l.quantity) }), el('td', null, [rm])
        ]));
      });
      d.getElementById('cart-empty').hidden = lines.length > 0;
      d.getElementById('cart-full').hidden = lines.length === 0;
      d.getElementById('cart-subtotal').textContent = euros(sub);
      d.getElementById('cart-shipping').textContent = shipping(sub) ? euros(shipping(sub)) : 'free';
      d.getElementById('cart-total').textContent = euros(sub + shipping(sub));
      // An empty cart is no purchase intent: Cart Viewed only with items.
      if (!pages.cart.viewed && lines.length) {
        pages.cart.viewed = true;
        track('Cart Viewed', { cart_id: cartId(), currency: 'EUR', value: sub, products: cartLines() });
      }
    },
    checkout: function () {
      var lines = cart();
      var sub = subtotal();
      d.getElementById('checkout-empty').hidden = lines.length > 0;
      var form = d.getElementById('checkout-form');
      form.hidden = lines.length === 0;
      var summary = d.getElementById('checkout-summary');
      lines.forEach(function (l) {
        summary.appendChild(el('li', { text: l.quantity + ' × ' + PRODUCTS[l.id].name + ' · ' + euros(PRODUCTS[l.id].price * l.quantity) }));
      });
      d.getElementById('checkout-total').textContent = euros(sub + shipping(sub));
      // No order without a cart: the form is not even there.
      if (!lines.length) return;
      var orderId = 'SS-' + Date.now().toString(36).toUpperCase();
      track('Checkout Started', { checkout_id: cartId(), order_id: orderId, value: sub, revenue: sub, shipping: shipping(sub), currency: 'EUR', products: cartLines() });
      form.addEventListener('submit', function (e) {
        e.preventDefault();
        var now = cart();
        if (!now.length) return; // emptied in another tab meanwhile
        var s = subtotal();
        var order = { order_id: orderId, checkout_id: cartId(), total: s + shipping(s), revenue: s, subtotal: s,
          shipping: shipping(s), tax: Math.round(s * 20 / 120 * 100) / 100, currency: 'EUR', products: cartLines() };
        track('Order Completed', order);
        var orders = read(ORDERS_KEY, []);
        orders.push({ id: orderId, at: Date.now(), total: order.total, items: now });
        write(ORDERS_KEY, orders);
        write(CART_KEY, []);
        try { localStorage.removeItem('sillage-sports.cartId'); } catch (err) { /* fine */ }
        var go = function () { location.href = '/order-confirmation.html?order=' + encodeURIComponent(orderId); };
        // The order is recorded durably at once; sending it first only
        // makes the collector's table current when the next page opens.
        Promise.race([w.sillage.flush(), new Promise(function (r) { setTimeout(r, 1500); })]).then(go, go);
      });
    },
    confirmation: function () {
      var orders = read(ORDERS_KEY, []);
      var id = new URLSearchParams(location.search).get('order');
      var o = orders.filter(function (x) { return x.id === id; })[0];
      d.getElementById('confirmed').hidden = !o;
      d.getElementById('not-found').hidden = !!o;
      if (!o) return;
      d.getElementById('order-id').textContent = o.id;
      d.getElementById('order-total').textContent = euros(o.total);
      d.getElementById('order-count').textContent = orders.length === 1 ? 'your first order' : 'order number ' + orders.length;
    },
    orders: function () {
      var orders = read(ORDERS_KEY, []);
      var list = d.getElementById('order-list');
      d.getElementById('no-orders').hidden = orders.length > 0;
      orders.slice().reverse().forEach(function (o) {
        var days = Math.floor((Date.now() - o.at) / 864e5);
        var status = days < 1 ? 'Preparing in our warehouse' : days < 3 ? 'On its way' : 'Delivered';
        list.appendChild(el('li', null, [el('strong', { text: o.id }), ' · ' + new Date(o.at).toLocaleDateString('en-GB') + ' · ' + euros(o.total) + ' · ', el('span', { class: 'status', text: status })]));
      });
      form('support-form', function (f) {
        track('Support Contacted', { topic: f.querySelector('select').value, channel: 'form' });
        return 'Thank you: an advisor will answer within one working day.';
      });
    },
    account: function () {
      form('newsletter-form', function (f) {
        track('Newsletter Subscribed', { list: 'weekly-trail-letter', frequency: f.querySelector('select').value });
        return 'Thanks for signing up to the Trail Letter: the first one arrives on Friday.';
      });
      form('signup-form', function () {
        track('Signed Up', { method: 'email' });
        return 'Your account is created. Welcome to Sillage Sports!';
      });
    },
    quote: function () {
      form('quote-form', function (f) {
        var qty = Number(f.querySelector('[name=quantity]').value) || 0;
        var p = PRODUCTS[f.querySelector('[name=product]').value];
        track('Quote Requested', { quote_id: 'Q-' + Date.now().toString(36).toUpperCase(), product_id: f.querySelector('[name=product]').value,
          category: p.category, quantity: qty, value: qty * p.price, currency: 'EUR', team_size: f.querySelector('[name=team]').value });
        return 'Thank you: your quote for ' + qty + ' × ' + p.name + ' is on its way to your inbox.';
      });
    },
    reviews: function () {
      form('review-form', function (f) {
        var id = f.querySelector('[name=product]').value;
        track('Product Reviewed', { product_id: id, name: PRODUCTS[id].name, rating: Number(f.querySelector('[name=rating]').value) });
        return 'Thank you for your review!';
      });
    },
    compare: function () {},
    blog: function () {},
    finder: function () { if (w.SillageFinder) w.SillageFinder(); }
  };
  // A form the store handles itself: on submit, record the event and show
  // the thanks in the form's [data-thanks] element.
  function form(id, onSubmit) {
    var f = d.getElementById(id);
    if (!f) return;
    f.addEventListener('submit', function (e) {
      e.preventDefault();
      var thanks = f.querySelector('[data-thanks]') || f.parentNode.querySelector('[data-thanks]');
      var msg = onSubmit(f);
      if (thanks) { thanks.textContent = msg; thanks.hidden = false; }
      f.querySelectorAll('button[type=submit]').forEach(function (b) { b.disabled = true; });
    });
  }

  // Shared by the survey and the referral blocks that rules reveal.
  function wireSlots() {
    d.addEventListener('click', function (e) {
      var t = e.target;
      if (!(t instanceof Element)) return;
      var score = t.closest('[data-survey-score]');
      if (score) {
        track('Survey Answered', { survey_id: 'post-purchase', score: Number(score.getAttribute('data-survey-score')) });
        var box = score.closest('.survey');
        if (box) {
          box.querySelectorAll('[data-survey-score]').forEach(function (b) { b.disabled = true; });
          var thanks = box.querySelector('[data-thanks]');
          if (thanks) { thanks.textContent = 'Thanks, that helps us a lot.'; thanks.hidden = false; }
        }
      }
      var share = t.closest('[data-referral]');
      if (share) {
        track('Shared', { share_via: 'referral link', content_type: 'referral' });
        share.textContent = 'Link copied: sillage-sports.example/r/TRAIL10';
      }
    });
  }

  d.addEventListener('DOMContentLoaded', function () {
    var main = d.querySelector('main');
    d.body.appendChild(footer());
    wireAddButtons(d);
    // Cards added later (recommendations, reordering) keep working.
    new MutationObserver(function () { wireAddButtons(d); }).observe(main, { childList: true, subtree: true });
    wireSlots();
    var kind = d.body.getAttribute('data-page');
    try { if (pages[kind]) pages[kind](main); } catch (e) { console.warn('Sillage Sports:', e); }
    try { if (sessionStorage.getItem(PANEL_KEY) === '1') loadPanel().then(function (m) { m.open(); }); } catch (e) { /* no session storage */ }
    // The panel's own close button: remember it for this tab.
    w.addEventListener('sillage-panel', function (e) {
      try { sessionStorage.setItem(PANEL_KEY, e.detail && e.detail.open ? '1' : '0'); } catch (err) { /* no session storage */ }
    });
  });

  // What other scripts of the store use.
  w.SillageSports = { products: PRODUCTS, cart: cart, add: add, el: el, euros: euros, track: track };
})(window, document);
