/* Camera wall (the summary mode is in wall_summary.js). Two modes (data-mode on #wall):
   - tiles: every camera of the scope (a district), or of one commune of a larger scope (data-drill): the list
     comes from /api/v1/cameras page by page (cursors; the browser revalidates with the ETag), live changes
     from the event stream narrowed to those cameras;
   - summary (a province): one card per commune with its counts per status, problems first; the stream sends
     only the communes whose counts changed (`summary` deltas), never the cameras' own reports.
   Filters work in the browser. In the command-room mode (body.tv) problems come first and pages cycle. */
(function () {
  'use strict';
  var OPS = window.OPS;
  var wall = document.getElementById('wall');
  var fStatus = document.getElementById('f-status');
  var fCommune = document.getElementById('f-commune');
  var fQ = document.getElementById('f-q');
  var mode = wall.getAttribute('data-mode');
  var drill = wall.getAttribute('data-drill');
  var multiDistrict = wall.getAttribute('data-multi-district') === 'true';
  var tv = document.body.classList.contains('tv');
  var STATUSES = ['ok', 'problem', 'offline', 'stale', 'unknown'];
  var RANK = { offline: 0, problem: 1, stale: 2, unknown: 3, ok: 4 };
  var RESYNC_MS = 60000;  // a full reload now and then, in case an event was lost (usually a 304)
  var PAGE_S = 15;

  document.getElementById('f-submit').hidden = true;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function areaName(d, c) { return OPS.data.areas[d + '/' + c] || c; }
  function districtName(d) { return OPS.data.areas[d] || d; }
  function byKey(a, b) { return a < b ? -1 : (a > b ? 1 : 0); }

  function getJson(url) {
    return fetch(url, { credentials: 'same-origin', headers: { 'Accept': 'application/json' } }).then(function (r) {
      if (r.status === 401) { window.location.href = '/login?next=' + encodeURIComponent(location.pathname + location.search); }
      if (!r.ok) throw new Error(String(r.status));
      return r.json();
    });
  }

  /* Every page of a camera list, following next_cursor. */
  function fetchAll(base) {
    var out = [];
    function page(cursor) {
      return getJson(base + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '')).then(function (body) {
        out = out.concat(body.items);
        return body.next_cursor ? page(body.next_cursor) : out;
      });
    }
    return page(null);
  }

  function setCounts(counts) {
    var total = 0;
    STATUSES.forEach(function (s) {
      total += counts[s] || 0;
      var b = document.querySelector('[data-count="' + s + '"]');
      if (b) b.textContent = String(counts[s] || 0);
    });
    document.querySelector('[data-count="all"]').textContent = String(total);
    document.getElementById('total').textContent = String(total);
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

  /* --- command-room paging: items (communes or cards) in pages that fit below the header --------------- */
  var tvPage = 0;
  function paginate(items) {
    items.forEach(function (g) { g.classList.remove('tv-off'); });
    var shown = items.filter(function (g) { return !g.hidden; });
    var room = window.innerHeight - wall.getBoundingClientRect().top - 8;
    var rows = [];  // items side by side (cards in a grid) share a row
    shown.forEach(function (g) {
      var last = rows[rows.length - 1];
      if (last && last.top === g.offsetTop) { last.items.push(g); last.h = Math.max(last.h, g.offsetHeight); }
      else rows.push({ top: g.offsetTop, h: g.offsetHeight, items: [g] });
    });
    var pages = [], cur = [], used = 0;
    rows.forEach(function (r) {
      var h = r.h + 16;
      if (cur.length && used + h > room) { pages.push(cur); cur = []; used = 0; }
      cur = cur.concat(r.items);
      used += h;
    });
    if (cur.length) pages.push(cur);
    var label = document.getElementById('tv-page');
    if (pages.length <= 1) { label.hidden = true; tvPage = 0; return; }
    tvPage = tvPage % pages.length;
    pages.forEach(function (p, i) { p.forEach(function (g) { g.classList.toggle('tv-off', i !== tvPage); }); });
    label.hidden = false;
    label.textContent = 'Trang ' + (tvPage + 1) + '/' + pages.length + ' · tự chuyển sau ' + PAGE_S + ' giây';
  }

  var arrangeTimer = null;
  var arrange = function () {};
  function scheduleArrange() {
    if (arrangeTimer === null) arrangeTimer = setTimeout(function () { arrangeTimer = null; arrange(); }, tv ? 1500 : 300);
  }
  function startTv() {
    if (!tv) return;
    setInterval(function () { tvPage += 1; arrange(); }, PAGE_S * 1000);
    window.addEventListener('resize', scheduleArrange);
    arrange();
  }

  if (mode === 'summary') {
    OPS.wallSummary({
      wall: wall, fStatus: fStatus, fCommune: fCommune, fQ: fQ, tv: tv, multiDistrict: multiDistrict,
      STATUSES: STATUSES, RESYNC_MS: RESYNC_MS, el: el, areaName: areaName, districtName: districtName,
      byKey: byKey, getJson: getJson, setCounts: setCounts, syncUrl: syncUrl, paginate: paginate,
      startTv: startTv, scheduleArrange: scheduleArrange, setArrange: function (f) { arrange = f; }
    });
  } else {
    tilesMode();
  }

  /* ===================================== tiles ========================================================== */
  function tilesMode() {
    var cams = new Map(), tiles = new Map(), groups = new Map();
    wall.querySelectorAll('.group').forEach(function (g) { groups.set(g.getAttribute('data-area'), g); });
    wall.querySelectorAll('.tile').forEach(function (t) { tiles.set(t.getAttribute('data-key'), t); });
    var narrow = '';
    if (drill) {
      var parts = drill.split('/');
      narrow = '&district=' + encodeURIComponent(parts[0]) + '&commune=' + encodeURIComponent(parts[1]);
    }

    function groupFor(cam) {
      var key = cam.district + '/' + cam.commune;
      var g = groups.get(key);
      if (g) return g;
      g = el('section', 'group');
      g.setAttribute('data-area', key);
      var h = el('h2', null, areaName(cam.district, cam.commune) + ' ');
      if (multiDistrict) h.appendChild(el('span', 'muted', '· ' + districtName(cam.district) + ' '));
      h.appendChild(el('span', 'gcount', '0'));
      g.appendChild(h);
      g.appendChild(el('div', 'grid'));
      var after = null;
      groups.forEach(function (other, k) { if (k > key && (after === null || k < after.k)) after = { k: k, e: other }; });
      wall.insertBefore(g, after ? after.e : document.getElementById('empty'));
      groups.set(key, g);
      if (!fCommune.querySelector('option[value="' + key + '"]')) {
        var opt = el('option', null, areaName(cam.district, cam.commune));
        opt.value = key;
        fCommune.appendChild(opt);
      }
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
      cams.set(cam.key, cam);
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
      var st = fStatus.value, area = drill ? '' : fCommune.value, q = OPS.fold(fQ.value.trim());
      var counts = {}, shownPer = new Map();
      tiles.forEach(function (t) {
        var inArea = (!area || t.getAttribute('data-area') === area) &&
          (!q || t.getAttribute('data-search').indexOf(q) >= 0);
        var s = t.getAttribute('data-status');
        if (inArea) counts[s] = (counts[s] || 0) + 1;
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
      setCounts(counts);
      document.getElementById('empty').hidden = anyShown;
      document.querySelectorAll('.chip').forEach(function (c) {
        c.classList.toggle('active', (c.getAttribute('data-status') || '') === st);
      });
    }

    function rank(t) { var r = RANK[t.getAttribute('data-status')]; return r === undefined ? 5 : r; }
    arrange = function () {
      if (!tv) return;
      var order = [];
      groups.forEach(function (g, k) {
        var grid = g.querySelector('.grid');
        var ts = Array.prototype.slice.call(grid.querySelectorAll('.tile'));
        ts.sort(function (a, b) { return rank(a) - rank(b) || byKey(a.getAttribute('data-key'), b.getAttribute('data-key')); });
        ts.forEach(function (t) { grid.appendChild(t); });
        order.push({ k: k, g: g, bad: ts.filter(function (t) { return rank(t) <= 1; }).length });
      });
      order.sort(function (a, b) { return b.bad - a.bad || byKey(a.k, b.k); });
      var empty = document.getElementById('empty');
      order.forEach(function (o) { wall.insertBefore(o.g, empty); });
      paginate(Array.prototype.slice.call(wall.querySelectorAll('.group')));
    };

    function onFilter() { applyFilters(); syncUrl(); scheduleArrange(); }
    fStatus.addEventListener('change', onFilter);
    fCommune.addEventListener('change', function () {
      if (!drill) { onFilter(); return; }
      var p = new URLSearchParams();  // another commune of a large scope: its own page
      if (tv) p.set('tv', '1');
      if (fCommune.value) p.set('commune', fCommune.value);
      window.location.href = '/?' + p.toString();
    });
    fQ.addEventListener('input', onFilter);
    document.getElementById('filters').addEventListener('submit', function (e) { e.preventDefault(); onFilter(); });
    document.querySelectorAll('.chip').forEach(function (c) {
      c.addEventListener('click', function (e) {
        e.preventDefault();
        fStatus.value = c.getAttribute('data-status') || '';
        onFilter();
      });
    });

    /* The list is read after the stream is up; events arriving meanwhile are applied after it (latest wins). */
    var held = null;
    function load() {
      if (held) return;
      held = [];
      fetchAll('/api/v1/cameras?limit=500' + narrow).then(function (list) {
        var seen = new Set();
        list.forEach(function (cam) { seen.add(cam.key); updateTile(cam); });
        tiles.forEach(function (t, k) { if (!seen.has(k)) { t.remove(); tiles.delete(k); cams.delete(k); } });
      }, function () { /* the next hello or resync tries again */ }).then(function () {
        var later = held;
        held = null;
        later.forEach(function (f) { f(); });
        applyFilters();
        scheduleArrange();
      });
    }
    function live(f) { if (held) held.push(f); else { f(); applyFilters(); scheduleArrange(); } }

    applyFilters();
    startTv();
    setInterval(load, RESYNC_MS);
    OPS.connect('/api/v1/events?cameras=false&types=camera,snapshot' + narrow, {
      hello: load,
      camera: function (ev) { live(function () { updateTile(ev.camera); }); },
      snapshot: function (ev) {
        live(function () {
          var cam = cams.get(ev.key);
          if (!cam || cam.snapshot_ts === ev.ts) return;
          cam.snapshot_ts = ev.ts;
          setSnapshot(tiles.get(ev.key), cam);
        });
      }
    });
  }
})();
