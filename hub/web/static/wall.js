/* Camera wall. Two modes (data-mode on #wall):
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

  if (mode === 'summary') summaryMode(); else tilesMode();

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

  /* ===================================== summary ======================================================== */
  function summaryMode() {
    var grid = document.getElementById('area-grid');
    var cards = new Map();
    grid.querySelectorAll('.area-card').forEach(function (c) { cards.set(c.getAttribute('data-area'), c); });
    var state = { epoch: wall.getAttribute('data-epoch'), version: Number(wall.getAttribute('data-version')), areas: new Map() };

    function bad(a) { return (a.counts.offline || 0) + (a.counts.problem || 0); }
    function compare(a, b) {
      return bad(b) - bad(a) || (b.counts.offline || 0) - (a.counts.offline || 0) ||
        (b.counts.stale || 0) - (a.counts.stale || 0) || byKey(a.key, b.key);
    }

    function fillCounts(ul, counts) {
      STATUSES.forEach(function (st) {
        var li = ul.querySelector('[data-st="' + st + '"]');
        li.querySelector('b').textContent = String(counts[st] || 0);
        li.hidden = !counts[st];
      });
    }

    function buildCard(a) {
      var c = el('a', 'area-card');
      var p = new URLSearchParams();
      p.set('commune', a.key);
      if (tv) p.set('tv', '1');
      c.href = '/?' + p.toString();
      c.setAttribute('data-area', a.key);
      c.setAttribute('data-district', a.district);
      var h = el('h3', 'area-name', areaName(a.district, a.commune));
      if (multiDistrict) h.appendChild(el('span', 'muted', ' · ' + districtName(a.district)));
      c.appendChild(h);
      var total = el('p', 'area-total');
      var b = el('b', null, '0');
      b.setAttribute('data-n', 'total');
      total.appendChild(b);
      total.appendChild(document.createTextNode(' camera'));
      c.appendChild(total);
      var ul = el('ul', 'area-counts');
      STATUSES.forEach(function (st) {
        var li = el('li', 'st-' + st);
        li.setAttribute('data-st', st);
        li.appendChild(el('i', 'dot'));
        li.appendChild(el('b', null, '0'));
        li.appendChild(document.createTextNode(' ' + OPS.statusLabel(st)));
        ul.appendChild(li);
      });
      c.appendChild(ul);
      cards.set(a.key, c);
      return c;
    }

    function take(summary) {
      state = { epoch: summary.epoch, version: summary.version, areas: new Map() };
      summary.communes.forEach(function (a) { a.key = a.district + '/' + a.commune; state.areas.set(a.key, a); });
      render();
    }

    function render() {
      var st = fStatus.value, q = OPS.fold(fQ.value.trim());
      var list = Array.from(state.areas.values()).sort(compare);
      var counts = {}, districts = new Map(), anyShown = false;
      list.forEach(function (a) {
        var c = cards.get(a.key) || buildCard(a);
        c.querySelector('[data-n="total"]').textContent = String(a.total);
        fillCounts(c.querySelector('.area-counts'), a.counts);
        c.classList.toggle('has-problem', bad(a) > 0);
        grid.appendChild(c);  // in rank order
        var d = districts.get(a.district) || { total: 0, counts: {} };
        d.total += a.total;
        STATUSES.forEach(function (s) { d.counts[s] = (d.counts[s] || 0) + (a.counts[s] || 0); });
        districts.set(a.district, d);
        var name = OPS.fold(areaName(a.district, a.commune) + ' ' + districtName(a.district) + ' ' + a.key);
        var inQ = !q || name.indexOf(q) >= 0;
        if (inQ) STATUSES.forEach(function (s) { counts[s] = (counts[s] || 0) + (a.counts[s] || 0); });
        c.hidden = !(inQ && (!st || a.counts[st] > 0));
        anyShown = anyShown || !c.hidden;
      });
      cards.forEach(function (c, k) { if (!state.areas.has(k)) { c.remove(); cards.delete(k); } });
      document.querySelectorAll('.district-card').forEach(function (dc) {
        var d = districts.get(dc.getAttribute('data-district')) || { total: 0, counts: {} };
        dc.querySelector('[data-n="total"]').textContent = String(d.total);
        fillCounts(dc.querySelector('.area-counts'), d.counts);
      });
      setCounts(counts);
      document.getElementById('empty').hidden = anyShown;
      document.querySelectorAll('.chip').forEach(function (c) {
        c.classList.toggle('active', (c.getAttribute('data-status') || '') === st);
      });
      if (tv) paginate(Array.from(grid.querySelectorAll('.area-card')));
    }
    arrange = render;

    function loadSummary() { getJson('/api/v1/cameras/summary').then(take, function () {}); }

    function onFilter() { render(); syncUrl(); }
    fStatus.addEventListener('change', onFilter);
    fQ.addEventListener('input', onFilter);
    fCommune.addEventListener('change', function () {
      if (!fCommune.value) return;
      var p = new URLSearchParams();
      if (tv) p.set('tv', '1');
      p.set('commune', fCommune.value);
      window.location.href = '/?' + p.toString();
    });
    document.getElementById('filters').addEventListener('submit', function (e) { e.preventDefault(); onFilter(); });
    document.querySelectorAll('.chip').forEach(function (c) {
      c.addEventListener('click', function (e) {
        e.preventDefault();
        fStatus.value = c.getAttribute('data-status') || '';
        onFilter();
      });
    });

    grid.querySelectorAll('.area-card').forEach(function (c) {
      var key = c.getAttribute('data-area'), parts = key.split('/'), counts = {};
      c.querySelectorAll('[data-st]').forEach(function (li) { counts[li.getAttribute('data-st')] = Number(li.querySelector('b').textContent); });
      state.areas.set(key, { key: key, district: parts[0], commune: parts[1], counts: counts,
        total: Number(c.querySelector('[data-n="total"]').textContent) });
    });
    render();
    startTv();
    setInterval(loadSummary, RESYNC_MS);
    OPS.connect('/api/v1/events?cameras=false&types=summary', {
      hello: function (h) { if (h.summary) take(h.summary); },
      summary: function (ev) {
        if (ev.epoch !== state.epoch) { loadSummary(); return; }  // the hub restarted: its numbers start again
        if (ev.version <= state.version) return;  // already in what was loaded
        ev.communes.forEach(function (a) {
          a.key = a.district + '/' + a.commune;
          if (a.total > 0) state.areas.set(a.key, a); else state.areas.delete(a.key);
        });
        state.version = ev.version;
        scheduleArrange();
      }
    });
  }
})();
