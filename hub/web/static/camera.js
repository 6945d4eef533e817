/* Camera page: live status, metrics and snapshot; the history table refreshes when the status changes;
   history charts from InfluxDB (chart.js) and commands to the edge agent. */
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

  // --- history charts (InfluxDB through /history) ---------------------------------------------------------
  var chartRange = OPS.data.charts.range;
  var connectedOnce = false;
  var chartGen = 0;
  function loadCharts() {
    var gen = ++chartGen;
    var errorBox = document.getElementById('chart-error');
    var failures = [];
    document.querySelectorAll('#charts .chart').forEach(function (fig) {
      var metric = fig.getAttribute('data-metric');
      var body = fig.querySelector('.chart-body');
      fig.setAttribute('aria-busy', 'true');
      fetch('/api/v1/cameras/' + key + '/history?metric=' + metric + '&range=' + chartRange, { credentials: 'same-origin' })
        .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
        .then(function (res) {
          if (gen !== chartGen) return;
          fig.removeAttribute('aria-busy');
          if (!res.ok) {
            body.textContent = '';
            fig.classList.add('chart-failed');
            failures.push(res.body.error ? res.body.error.message : 'Không đọc được lịch sử');
            errorBox.textContent = failures[0];
            errorBox.hidden = false;
            return;
          }
          fig.classList.remove('chart-failed');
          errorBox.hidden = failures.length === 0;
          if (!window.OPS_CHART.draw(body, res.body)) {
            var p = document.createElement('p');
            p.className = 'muted chart-note';
            p.textContent = 'Chưa có số đo trong khoảng thời gian này';
            body.appendChild(p);
          }
          fig.setAttribute('data-loaded', res.body.range);
        })
        .catch(function () {
          if (gen !== chartGen) return;
          fig.removeAttribute('aria-busy');
          errorBox.textContent = 'Không tải được lịch sử số đo (mất kết nối máy chủ?)';
          errorBox.hidden = false;
        });
    });
  }
  document.querySelectorAll('#charts [data-range]').forEach(function (b) {
    b.addEventListener('click', function () {
      chartRange = b.getAttribute('data-range');
      document.querySelectorAll('#charts [data-range]').forEach(function (o) {
        o.setAttribute('aria-pressed', o === b ? 'true' : 'false');
      });
      loadCharts();
    });
  });
  loadCharts();

  // --- commands to the edge agent ------------------------------------------------------------------------
  var commands = document.getElementById('commands');
  if (commands) {
    var result = document.getElementById('command-result');
    var csrf = document.querySelector('meta[name="csrf-token"]');
    var buttons = commands.querySelectorAll('button[data-action]');
    var describe = function (action, body) {
      if (body.result !== 'ok') return 'Hộp giám sát báo lỗi: ' + (body.error || 'không rõ lý do');
      if (action === 'relearn') return body.data.message || 'Đã xoá ảnh tham chiếu; hộp sẽ học lại';
      var cam = (body.data.cameras || {})[root.getAttribute('data-key').split('/')[2]] || {};
      var text = cam.online ? 'Có hình' : 'Không có hình' + (cam.reason ? ' (' + cam.reason + ')' : '');
      var probs = (cam.problems || []).map(function (p) { return OPS.data.labels.problem[p] || p; });
      text += probs.length ? '; sự cố: ' + probs.join(', ') : '; không có sự cố';
      if (action === 'snapshot') text = (cam.snapshot ? 'Đã chụp ảnh mới. ' : 'Chưa gửi được ảnh mới. ') + text;
      return 'Kiểm tra xong sau ' + body.waited_s.toFixed(1) + ' giây: ' + text;
    };
    buttons.forEach(function (b) {
      b.addEventListener('click', function () {
        var action = b.getAttribute('data-action');
        buttons.forEach(function (o) { o.disabled = true; });
        result.hidden = false;
        result.className = 'command-result pending';
        result.textContent = 'Đang gửi lệnh «' + b.textContent + '» và chờ hộp giám sát trả lời…';
        fetch('/api/v1/cameras/' + key + '/commands', {
          method: 'POST', credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf ? csrf.content : '' },
          body: JSON.stringify({ action: action })
        })
          .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
          .then(function (res) {
            var good = res.ok && res.body.result === 'ok';
            result.className = 'command-result ' + (good ? 'ok' : 'failed');
            result.textContent = res.ok ? describe(action, res.body) : res.body.error.message;
          })
          .catch(function () {
            result.className = 'command-result failed';
            result.textContent = 'Không gửi được lệnh: mất kết nối máy chủ';
          })
          .then(function () { buttons.forEach(function (o) { o.disabled = false; }); });
      });
    });
  }

  var q = 'district=' + encodeURIComponent(root.getAttribute('data-district')) +
    '&commune=' + encodeURIComponent(root.getAttribute('data-commune')) + '&cameras=false&types=camera,snapshot';
  OPS.connect('/api/v1/events?' + q, {
    hello: function () {
      // Catch up on anything missed while the stream was down.
      fetch('/api/v1/cameras/' + key, { credentials: 'same-origin' })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (cam) { if (cam) apply(cam); });
      // A stream that was down may have missed changes that ended where they began (ok → offline → ok).
      if (onFirstPage) refreshHistory();
      if (connectedOnce) loadCharts();
      connectedOnce = true;
    },
    camera: function (ev) { if (ev.camera.key === key) apply(ev.camera); },
    snapshot: function (ev) { if (ev.key === key) setSnapshot(ev.ts); }
  });
})();
