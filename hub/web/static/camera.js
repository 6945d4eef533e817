/* Camera page: live status, metrics and snapshot; the history table refreshes when the status changes. */
(function () {
  'use strict';
  var OPS = window.OPS;
  var root = document.getElementById('camera');
  var key = root.getAttribute('data-key');
  var onFirstPage = !new URLSearchParams(window.location.search).has('before');
  // The state the server rendered: a live change that arrives before the catch-up fetch must still count as a
  // change (and refresh the history), so we never start from "nothing known".
  var current = {
    status: root.getAttribute('data-status'),
    problems: (root.getAttribute('data-problems') || '').split(',').filter(Boolean)
  };

  function num(v, digits, unit) { return v === null || v === undefined ? '—' : v.toFixed(digits) + (unit || ''); }

  function setMetric(name, text) {
    var dd = root.querySelector('[data-m="' + name + '"]');
    if (dd) dd.textContent = text;
  }

  function apply(cam) {
    var changed = (current.status !== cam.status ||
      (current.problems || []).join() !== (cam.problems || []).join());
    current = cam;
    root.className = 'camera-detail st-' + cam.status;
    document.getElementById('status-label').textContent = OPS.statusLabel(cam.status);
    document.getElementById('status-since').textContent = cam.status_since ? 'Từ ' + OPS.fmtTime(cam.status_since) : '';
    var ul = document.getElementById('problems');
    ul.textContent = '';
    OPS.problemLabels(cam).forEach(function (p) { var li = document.createElement('li'); li.textContent = p; ul.appendChild(li); });
    var reason = document.getElementById('reason');
    reason.textContent = cam.reason || '';
    reason.hidden = !cam.reason;
    setMetric('online', cam.online === null ? '—' : (cam.online ? 'Có' : 'Không'));
    setMetric('fps', num(cam.fps, 1));
    setMetric('resolution', cam.width ? cam.width + '×' + cam.height : '—');
    setMetric('open_ms', num(cam.open_ms, 0, ' ms'));
    setMetric('brightness', num(cam.brightness, 1));
    setMetric('sharpness', num(cam.sharpness, 1));
    setMetric('motion', num(cam.motion, 3));
    setMetric('last_ts', OPS.fmtTime(cam.last_ts));
    setMetric('last_seen', OPS.fmtTime(cam.last_seen));
    setSnapshot(cam.snapshot_ts);
    if (changed && onFirstPage) refreshHistory();
  }

  function setSnapshot(ts) {
    setMetric('snapshot_ts', OPS.fmtTime(ts));
    if (!ts) return;
    var img = document.getElementById('snapshot');
    var url = '/api/v1/cameras/' + key + '/snapshot?v=' + encodeURIComponent(ts);
    if (img.getAttribute('src') !== url) img.setAttribute('src', url);
    img.hidden = false;
    var none = document.getElementById('noshot');
    if (none) none.remove();
  }

  function pill(st) {
    var s = document.createElement('span');
    s.className = 'pill st-' + st;
    s.textContent = OPS.statusLabel(st);
    return s;
  }

  function refreshHistory() {
    fetch('/api/v1/cameras/' + key + '/transitions?limit=50', { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (page) {
        var table = document.getElementById('history');
        if (!page || !table) { if (page && page.items.length) window.location.reload(); return; }
        var body = table.querySelector('tbody');
        body.textContent = '';
        page.items.forEach(function (h) {
          var tr = document.createElement('tr');
          var cells = [OPS.fmtTime(h.at), null, null,
            h.problems.map(function (p) { return OPS.data.labels.problem[p] || p; }).join(', '), h.reason || ''];
          cells.forEach(function (text, i) {
            var td = document.createElement('td');
            if (i === 1) { if (h.from) td.appendChild(pill(h.from)); else td.textContent = '—'; }
            else if (i === 2) td.appendChild(pill(h.to));
            else td.textContent = text;
            tr.appendChild(td);
          });
          body.appendChild(tr);
        });
      });
  }

  var q = 'district=' + encodeURIComponent(root.getAttribute('data-district')) +
    '&commune=' + encodeURIComponent(root.getAttribute('data-commune')) + '&cameras=false';
  OPS.connect('/api/v1/events?' + q, {
    hello: function () {
      // Catch up on anything missed while the stream was down.
      fetch('/api/v1/cameras/' + key, { credentials: 'same-origin' })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (cam) { if (cam) apply(cam); });
      // A stream that was down may have missed changes that ended where they began (ok → offline → ok).
      if (onFirstPage) refreshHistory();
    },
    camera: function (ev) { if (ev.camera.key === key) apply(ev.camera); },
    snapshot: function (ev) { if (ev.key === key) setSnapshot(ev.ts); }
  });
})();
