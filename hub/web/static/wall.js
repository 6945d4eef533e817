/* Camera wall: keeps every tile in step with the live stream (no reload) and filters in the browser. In the
   command-room mode (body.tv) problem cameras and communes come first and pages of communes cycle. */
(function () {
  'use strict';
  var OPS = window.OPS;
  var wall = document.getElementById('wall');
  var fStatus = document.getElementById('f-status');
  var fCommune = document.getElementById('f-commune');
  var fQ = document.getElementById('f-q');
  var multiDistrict = wall.getAttribute('data-multi-district') === 'true';
  var cams = new Map();   // key → camera JSON
  var tiles = new Map();  // key → <article>
  var groups = new Map(); // district/commune → <section>

  document.getElementById('f-submit').hidden = true;
  wall.querySelectorAll('.group').forEach(function (g) { groups.set(g.getAttribute('data-area'), g); });
  wall.querySelectorAll('.tile').forEach(function (t) { tiles.set(t.getAttribute('data-key'), t); });

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function areaName(d, c) { return OPS.data.areas[d + '/' + c] || c; }

  function groupFor(cam) {
    var key = cam.district + '/' + cam.commune;
    var g = groups.get(key);
    if (g) return g;
    g = el('section', 'group');
    g.setAttribute('data-area', key);
    var h = el('h2', null, areaName(cam.district, cam.commune) + ' ');
    if (multiDistrict) h.appendChild(el('span', 'muted', '· ' + (OPS.data.areas[cam.district] || cam.district) + ' '));
    h.appendChild(el('span', 'gcount', '0'));
    g.appendChild(h);
    g.appendChild(el('div', 'grid'));
    var after = null;
    groups.forEach(function (other, k) { if (k > key && (after === null || k < after.k)) after = { k: k, e: other }; });
    wall.insertBefore(g, after ? after.e : document.getElementById('empty'));
    groups.set(key, g);
    var opt = el('option', null, areaName(cam.district, cam.commune));
    opt.value = key;
    fCommune.appendChild(opt);
    return g;
  }

  function buildTile(cam) {
    var t = el('article', 'tile');
    t.setAttribute('data-key', cam.key);
    t.setAttribute('data-area', cam.district + '/' + cam.commune);
    var a = el('a', 'tile-link');
    a.href = '/cameras/' + cam.key;
    var shot = el('div', 'shot');
    shot.appendChild(el('span', 'badge'));
    var body = el('div', 'tile-body');
    body.appendChild(el('h3', 'cam-name'));
    body.appendChild(el('ul', 'problems'));
    body.appendChild(el('p', 'since'));
    a.appendChild(shot);
    a.appendChild(body);
    t.appendChild(a);
    var grid = groupFor(cam).querySelector('.grid');
    var before = null;
    grid.querySelectorAll('.tile').forEach(function (o) {
      var k = o.getAttribute('data-key');
      if (k > cam.key && (before === null || k < before.getAttribute('data-key'))) before = o;
    });
    grid.insertBefore(t, before);
    tiles.set(cam.key, t);
    return t;
  }

  function setSnapshot(t, cam) {
    var shot = t.querySelector('.shot');
    var url = OPS.snapshotUrl(cam);
    var img = shot.querySelector('img');
    var none = shot.querySelector('.noshot');
    if (!url) {
      if (img) img.remove();
      if (!none) shot.insertBefore(el('span', 'noshot', 'Chưa có ảnh'), shot.firstChild);
      return;
    }
    if (none) none.remove();
    if (!img) {
      img = el('img');
      img.loading = 'lazy';
      img.decoding = 'async';
      shot.insertBefore(img, shot.firstChild);
    }
    img.alt = 'Ảnh chụp ' + (cam.name || cam.id);
    if (img.getAttribute('src') !== url) img.setAttribute('src', url);
  }

  function updateTile(cam) {
    var t = tiles.get(cam.key) || buildTile(cam);
    t.className = 'tile st-' + cam.status;
    t.setAttribute('data-status', cam.status);
    t.setAttribute('data-search', OPS.fold([cam.id, cam.name || '', cam.commune, cam.district,
      areaName(cam.district, cam.commune)].join(' ')));
    t.querySelector('.badge').textContent = OPS.statusLabel(cam.status);
    t.querySelector('.cam-name').textContent = cam.name || cam.id;
    var ul = t.querySelector('.problems');
    ul.textContent = '';
    OPS.problemLabels(cam).forEach(function (p) { ul.appendChild(el('li', null, p)); });
    var since = t.querySelector('.since');
    since.setAttribute('data-ts', cam.status_since || '');
    since.textContent = cam.status_since ? 'từ ' + OPS.fmtTime(cam.status_since) : '';
    setSnapshot(t, cam);
  }

  function applyFilters() {
    var st = fStatus.value, area = fCommune.value, q = OPS.fold(fQ.value.trim());
    var counts = { ok: 0, problem: 0, offline: 0, stale: 0, unknown: 0 };
    var shownPer = new Map();
    var total = 0;
    tiles.forEach(function (t) {
      var inArea = (!area || t.getAttribute('data-area') === area) &&
        (!q || t.getAttribute('data-search').indexOf(q) >= 0);
      var s = t.getAttribute('data-status');
      if (inArea) { counts[s] = (counts[s] || 0) + 1; total += 1; }
      var show = inArea && (!st || s === st);
      t.hidden = !show;
      if (show) shownPer.set(t.getAttribute('data-area'), (shownPer.get(t.getAttribute('data-area')) || 0) + 1);
    });
    var anyShown = false;
    groups.forEach(function (g, k) {
      var n = shownPer.get(k) || 0;
      g.hidden = n === 0;
      g.querySelector('.gcount').textContent = String(n);
      anyShown = anyShown || n > 0;
    });
    Object.keys(counts).forEach(function (s) {
      var b = document.querySelector('[data-count="' + s + '"]');
      if (b) b.textContent = String(counts[s]);
    });
    document.querySelector('[data-count="all"]').textContent = String(total);
    document.getElementById('total').textContent = String(total);
    document.getElementById('empty').hidden = anyShown;
    document.querySelectorAll('.chip').forEach(function (c) {
      c.classList.toggle('active', (c.getAttribute('data-status') || '') === st);
    });
  }

  function syncUrl() {
    var p = new URLSearchParams();
    if (tv) p.set('tv', '1');
    if (fStatus.value) p.set('status', fStatus.value);
    if (fCommune.value) p.set('commune', fCommune.value);
    if (fQ.value.trim()) p.set('q', fQ.value.trim());
    var qs = p.toString();
    history.replaceState(null, '', qs ? '?' + qs : window.location.pathname);
  }

  function onFilter() { applyFilters(); syncUrl(); }
  fStatus.addEventListener('change', onFilter);
  fCommune.addEventListener('change', onFilter);
  fQ.addEventListener('input', onFilter);
  document.getElementById('filters').addEventListener('submit', function (e) { e.preventDefault(); onFilter(); });
  document.querySelectorAll('.chip').forEach(function (c) {
    c.addEventListener('click', function (e) {
      e.preventDefault();
      fStatus.value = c.getAttribute('data-status') || '';
      onFilter();
    });
  });

  // --- command-room mode (/?tv=1): problem cameras first, pages of communes cycling on a TV ---------------
  var tv = document.body.classList.contains('tv');
  var RANK = { offline: 0, problem: 1, stale: 2, unknown: 3, ok: 4 };
  var PAGE_S = 15;
  var tvPage = 0;
  var arrangeTimer = null;

  function rank(t) { var r = RANK[t.getAttribute('data-status')]; return r === undefined ? 5 : r; }

  function arrange() {
    arrangeTimer = null;
    var order = [];
    groups.forEach(function (g, k) {
      var grid = g.querySelector('.grid');
      var ts = Array.prototype.slice.call(grid.querySelectorAll('.tile'));
      ts.sort(function (a, b) {
        return rank(a) - rank(b) || (a.getAttribute('data-key') < b.getAttribute('data-key') ? -1 : 1);
      });
      ts.forEach(function (t) { grid.appendChild(t); });
      var bad = ts.filter(function (t) { return rank(t) <= 1; }).length;
      order.push({ k: k, g: g, bad: bad });
    });
    order.sort(function (a, b) { return b.bad - a.bad || (a.k < b.k ? -1 : 1); });
    var empty = document.getElementById('empty');
    order.forEach(function (o) { wall.insertBefore(o.g, empty); });
    paginate();
  }

  function scheduleArrange() {
    if (tv && arrangeTimer === null) arrangeTimer = setTimeout(arrange, 1500);
  }

  /* Pages of whole communes that fit the screen below the header; a commune taller than the screen gets a
     page of its own (its problem cameras come first, so they are the ones in view). */
  function pages() {
    var shown = [];
    groups.forEach(function (g) { g.classList.remove('tv-off'); });
    Array.prototype.forEach.call(wall.querySelectorAll('.group'), function (g) { if (!g.hidden) shown.push(g); });
    var room = window.innerHeight - wall.getBoundingClientRect().top - 8;
    var out = [], cur = [], used = 0;
    shown.forEach(function (g) {
      var h = g.offsetHeight + 16;
      if (cur.length && used + h > room) { out.push(cur); cur = []; used = 0; }
      cur.push(g);
      used += h;
    });
    if (cur.length) out.push(cur);
    return out;
  }

  function paginate() {
    var ps = pages();
    var label = document.getElementById('tv-page');
    if (ps.length <= 1) { label.hidden = true; tvPage = 0; return; }
    tvPage = tvPage % ps.length;
    ps.forEach(function (p, i) { p.forEach(function (g) { g.classList.toggle('tv-off', i !== tvPage); }); });
    label.hidden = false;
    label.textContent = 'Trang ' + (tvPage + 1) + '/' + ps.length + ' · tự chuyển sau ' + PAGE_S + ' giây';
  }

  if (tv) {
    setInterval(function () { tvPage += 1; arrange(); }, PAGE_S * 1000);
    window.addEventListener('resize', function () { scheduleArrange(); });
    arrange();
  }

  OPS.connect('/api/v1/events', {
    hello: function (h) {
      var seen = new Set();
      (h.cameras || []).forEach(function (cam) { seen.add(cam.key); cams.set(cam.key, cam); updateTile(cam); });
      tiles.forEach(function (t, k) {
        if (!seen.has(k)) { t.remove(); tiles.delete(k); cams.delete(k); }
      });
      applyFilters();
      if (tv) arrange();
    },
    camera: function (ev) {
      var cam = ev.camera;
      cams.set(cam.key, cam);
      updateTile(cam);
      applyFilters();
      scheduleArrange();
    },
    snapshot: function (ev) {
      var cam = cams.get(ev.key);
      if (!cam || cam.snapshot_ts === ev.ts) return;
      cam.snapshot_ts = ev.ts;
      setSnapshot(tiles.get(ev.key), cam);
    }
  });
})();
