/* /speakers: refreshes the table from /api/v1/speakers every few seconds (shows the "lost connection" banner
   while the hub does not answer) and sends stop/volume commands through the JSON API. No inline scripts (CSP). */
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('speakers-data').textContent);
  var PERIOD_MS = 5000;
  var csrfEl = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfEl ? csrfEl.getAttribute('content') : '';
  var banner = document.getElementById('conn-banner');
  var result = document.getElementById('command-result');
  var fmt = new Intl.DateTimeFormat('vi-VN', {
    timeZone: data.timezone, hour12: false, year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit'
  });
  var CLASSES = { online: 'st-ok', offline: 'st-offline', stale: 'st-stale', unknown: 'st-unknown' };

  function num(v, digits) { return v === null || v === undefined ? '—' : Number(v).toFixed(digits); }
  function when(iso) { return iso ? fmt.format(new Date(iso)) : '—'; }

  function setText(row, field, text) {
    var cell = row.querySelector('[data-f="' + field + '"]');
    if (cell && cell.textContent !== text) cell.textContent = text;
    return cell;
  }

  function update(s) {
    var row = document.querySelector('tr[data-key="' + CSS.escape(s.key) + '"]');
    if (!row) return false;
    row.className = CLASSES[s.status] || 'st-unknown';
    var pill = row.querySelector('[data-f="status"] .pill');
    if (pill) pill.textContent = data.status[s.status] || s.status;
    setText(row, 'volume', num(s.volume, 0));
    setText(row, 'amplifier', s.amplifier ? (data.amplifier[s.amplifier] || s.amplifier) : '—');
    setText(row, 'signal_dbm', num(s.signal_dbm, 0));
    setText(row, 'disk_free_mb', num(s.disk_free_mb, 0));
    setText(row, 'last_seen', when(s.last_seen));
    var playing = row.querySelector('[data-f="playing"]');
    if (playing) {
      playing.textContent = '';
      if (s.playing && !data.airing_links) {
        playing.textContent = s.playing;
      } else if (s.playing) {
        var a = document.createElement('a');
        a.href = '/broadcasts/airings/' + encodeURIComponent(s.playing);
        a.textContent = s.playing;
        playing.appendChild(a);
      } else {
        playing.textContent = '—';
      }
    }
    return true;
  }

  function counts(list) {
    var n = {};
    list.forEach(function (s) { n[s.status] = (n[s.status] || 0) + 1; });
    document.querySelectorAll('#speaker-counts [data-status]').forEach(function (chip) {
      var b = chip.querySelector('b');
      if (b) b.textContent = String(n[chip.getAttribute('data-status')] || 0);
    });
    var total = document.getElementById('speaker-total');
    if (total) total.textContent = String(list.length);
  }

  /* Every page of the list (the API pages by cursor), then one pass over the table. */
  function fetchAll(cursor, acc) {
    var q = data.query ? data.query + '&' : '';
    var url = '/api/v1/speakers?' + q + 'limit=1000' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '');
    return fetch(url, { credentials: 'same-origin' }).then(function (r) {
      if (r.status === 401) { window.location.href = '/login?next=' + encodeURIComponent(location.pathname + location.search); return null; }
      if (!r.ok) throw new Error(String(r.status));
      return r.json();
    }).then(function (body) {
      if (!body) return null;
      acc = acc.concat(body.speakers);
      return body.next_cursor ? fetchAll(body.next_cursor, acc) : acc;
    });
  }

  function refresh() {
    fetchAll(null, [])
      .then(function (list) {
        if (!list) return;
        if (banner) banner.hidden = true;
        var missing = list.filter(function (s) { return !update(s); });
        counts(list);
        var rows = document.querySelectorAll('tr[data-key]').length;
        if (missing.length || rows !== list.length) window.location.reload();  // speakers came or went
      })
      .catch(function () { if (banner) banner.hidden = false; })
      .then(function () { setTimeout(refresh, PERIOD_MS); });
  }

  function show(text, ok) {
    if (!result) return;
    result.hidden = false;
    result.textContent = text;
    result.className = 'command-result ' + (ok ? 'ok' : 'failed');
  }

  function send(key, action, body) {
    return fetch('/api/v1/speakers/' + key + '/' + action, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) { return { status: r.status, body: j }; });
    });
  }

  document.querySelectorAll('.volume-form').forEach(function (form) {
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var key = form.getAttribute('data-key');
      var vol = parseInt(form.elements.volume.value, 10);
      send(key, 'volume', { volume: vol }).then(function (r) {
        if (r.status === 200) show('Loa ' + key + ' đã đặt âm lượng ' + r.body.volume + '.', true);
        else if (r.status === 202) show(r.body.message || 'Đã gửi lệnh.', true);
        else show((r.body.error && r.body.error.message) || 'Lỗi ' + r.status, false);
      }, function () { show('Không gửi được lệnh (mất kết nối máy chủ).', false); });
    });
  });
  document.querySelectorAll('.stop-button').forEach(function (btn) {
    btn.addEventListener('click', function () {
      var key = btn.getAttribute('data-key');
      if (!window.confirm('Dừng phát trên loa ' + key + '?')) return;
      send(key, 'stop', {}).then(function (r) {
        if (r.status === 202) show('Đã gửi lệnh dừng tới loa ' + key + '.', true);
        else show((r.body.error && r.body.error.message) || 'Lỗi ' + r.status, false);
      }, function () { show('Không gửi được lệnh (mất kết nối máy chủ).', false); });
    });
  });
  setTimeout(refresh, PERIOD_MS);
})();
