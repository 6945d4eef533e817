/* Camera wall by commune (a province): one card per commune with its counts per status, problems first. The
   stream sends only `summary` deltas (the communes whose counts changed); the summary is fetched again once a
   minute and whenever the hub restarted. Shared pieces come from wall.js as `w`. */
(function () {
  'use strict';
  var OPS = window.OPS;
  OPS.wallSummary = function (w) {
    var wall = w.wall, fStatus = w.fStatus, fCommune = w.fCommune, fQ = w.fQ, tv = w.tv;
    var STATUSES = w.STATUSES, el = w.el, areaName = w.areaName, districtName = w.districtName, byKey = w.byKey;
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
      if (w.multiDistrict) h.appendChild(el('span', 'muted', ' · ' + districtName(a.district)));
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
      w.setCounts(counts);
      document.getElementById('empty').hidden = anyShown;
      document.querySelectorAll('.chip').forEach(function (c) {
        c.classList.toggle('active', (c.getAttribute('data-status') || '') === st);
      });
      if (tv) w.paginate(Array.from(grid.querySelectorAll('.area-card')));
    }
    w.setArrange(render);

    function loadSummary() { w.getJson('/api/v1/cameras/summary').then(take, function () {}); }

    function onFilter() { render(); w.syncUrl(); }
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
    w.startTv();
    setInterval(loadSummary, w.RESYNC_MS);
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
        w.scheduleArrange();
      }
    });
  };
})();
