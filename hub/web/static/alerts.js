/* Alert pages: the list (live through the event stream), silences and maintenance windows, rule settings.
   Data comes from <script id="alerts-data">; changes go to /api/v1 with the session's CSRF token. */
(function () {
  'use strict';
  var el = document.getElementById('alerts-data');
  if (!el) return;
  var data = JSON.parse(el.textContent);
  var OPS = window.OPS;
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : '';
  var L = data.labels || {};

  function api(method, url, body) {
    var init = { method: method, credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf, 'Accept': 'application/json' } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) throw new Error((j.error && j.error.message) || ('Lỗi ' + r.status));
        return j;
      });
    });
  }

  function td(text, cls) {
    var c = document.createElement('td');
    c.textContent = text == null ? '' : text;
    if (cls) c.className = cls;
    return c;
  }

  function say(id, text, bad) {
    var m = document.getElementById(id);
    if (!m) return;
    m.textContent = text;
    m.className = bad ? 'error' : 'muted';
  }

  function area(d, c) {
    var names = data.areas || {};
    var dn = names[d + '/'] || d;
    return c ? (names[d + '/' + c] || c) + ', ' + dn : dn;
  }

  /* --- alert list -------------------------------------------------------------------------------------- */
  var table = document.getElementById('alerts');
  if (table && data.alerts) {
    var tbody = table.querySelector('tbody');
    var sevCls = { critical: 'st-offline', warning: 'st-problem', info: 'st-unknown' };
    var stCls = { firing: 'st-offline', pending: 'st-problem', resolved: 'st-ok' };

    var renderAlerts = function (list) {
      tbody.textContent = '';
      list.items.forEach(function (a) {
        var tr = document.createElement('tr');
        tr.dataset.id = a.id;
        tr.className = 'alert-row ' + (stCls[a.status] || '');
        var sev = td(''); var pill = document.createElement('span');
        pill.className = 'pill ' + (sevCls[a.severity] || ''); pill.textContent = L.severity[a.severity] || a.severity;
        sev.appendChild(pill); tr.appendChild(sev);
        var st = (L.status[a.status] || a.status);
        if (a.flapping) st += ' · chập chờn';
        if (a.silenced_by) st += ' · đang tắt';
        if (a.inhibited) st += ' · do hộp biên';
        tr.appendChild(td(st));
        tr.appendChild(td(L.kind[a.kind] || a.kind));
        tr.appendChild(td(a.name || a.device));
        tr.appendChild(td(area(a.district, a.commune)));
        tr.appendChild(td(a.summary));
        var when = OPS.fmtTime(a.fired_at || a.since);
        if (a.resolved_at) when += ' → ' + OPS.fmtTime(a.resolved_at);
        tr.appendChild(td(when));
        tr.appendChild(td(a.ack ? a.ack.by + ' · ' + OPS.fmtTime(a.ack.at) + (a.ack.note ? ' · ' + a.ack.note : '') : ''));
        var act = td('');
        if (data.can_ack && a.status !== 'resolved' && !a.ack) {
          var b = document.createElement('button');
          b.type = 'button'; b.className = 'secondary ack'; b.textContent = 'Xác nhận';
          b.addEventListener('click', function () {
            var note = window.prompt('Ghi chú khi xác nhận (có thể để trống):', '');
            if (note === null) return;
            b.disabled = true;
            api('POST', '/api/v1/alerts/' + a.id + '/ack', { note: note }).then(function () {
              say('alert-message', 'Đã xác nhận: ' + (a.name || a.device)); reload();
            }, function (e) { b.disabled = false; say('alert-message', e.message, true); });
          });
          act.appendChild(b);
        }
        if (data.can_silence && a.status !== 'resolved' && !a.silenced_by) {
          var s = document.createElement('a');
          var q = new URLSearchParams({ district: a.district, commune: a.commune, kind: a.kind, device: a.device });
          s.href = '/alerts/silences?' + q.toString(); s.textContent = 'Tắt'; s.className = 'silence-link';
          act.appendChild(document.createTextNode(' ')); act.appendChild(s);
        }
        tr.appendChild(act);
        tbody.appendChild(tr);
      });
      document.getElementById('alerts-empty').hidden = list.items.length > 0;
      var counts = document.getElementById('alert-counts');
      counts.textContent = '';
      ['firing', 'pending', 'resolved'].forEach(function (k) {
        var chip = document.createElement('span');
        chip.className = 'chip ' + stCls[k];
        chip.innerHTML = '<span class="dot"></span>';
        chip.appendChild(document.createTextNode(L.status[k] + ' '));
        var b = document.createElement('b'); b.textContent = list.counts[k] || 0; chip.appendChild(b);
        counts.appendChild(chip);
      });
    };

    var pending = null;
    var reload = function () {
      if (pending) return;
      pending = setTimeout(function () {
        pending = null;
        api('GET', '/api/v1/alerts' + (data.query ? '?' + data.query : '')).then(renderAlerts, function (e) {
          say('alert-message', e.message, true);
        });
      }, 300);
    };
    renderAlerts(data.alerts);

    var poll = null;
    var es = new EventSource('/api/v1/events?cameras=false&types=alert');
    es.addEventListener('hello', reload);
    es.addEventListener('alert', reload);
    es.onerror = function () {
      if (es.readyState === EventSource.CLOSED && !poll) poll = setInterval(reload, 15000);
    };
    window.addEventListener('pagehide', function () { es.close(); });
  }

  /* --- silences ---------------------------------------------------------------------------------------- */
  var WEEKDAYS = ['', 'T2', 'T3', 'T4', 'T5', 'T6', 'T7', 'CN'];
  function describeRecurrence(r) {
    var when = r.every === 'weekly' ? 'Hằng tuần ' + r.weekdays.map(function (d) { return WEEKDAYS[d]; }).join(', ')
      : r.every === 'monthly' ? 'Hằng tháng ngày ' + r.monthdays.join(', ')
      : 'Các ngày ' + r.dates.join(', ');
    return when + ' lúc ' + r.start + ', ' + r.duration_min + ' phút';
  }
  var stable = document.getElementById('silences');
  if (stable && data.silences) {
    var sbody = stable.querySelector('tbody');
    var stateLabel = { active: 'Đang áp dụng', scheduled: 'Sắp áp dụng', expired: 'Đã kết thúc' };
    data.silences.forEach(function (x) {
      var tr = document.createElement('tr');
      tr.dataset.id = x.id;
      tr.appendChild(td(L.silence_type[x.type] || x.type));
      var scope = [x.district ? area(x.district, x.commune) : 'Toàn tỉnh'];
      if (x.kind) scope.push(L.kind[x.kind] || x.kind);
      if (x.device) scope.push(x.device);
      tr.appendChild(td(scope.join(' · ')));
      tr.appendChild(td(OPS.fmtTime(x.starts_at)));
      tr.appendChild(td(OPS.fmtTime(x.expired_at || x.ends_at)));
      tr.appendChild(td(x.author));
      tr.appendChild(td(x.reason));
      var st = stateLabel[x.state] + (x.expired_by ? ' (' + x.expired_by + ' kết thúc sớm)' : '');
      if (x.recurrence) st += ' · ' + describeRecurrence(x.recurrence) + (x.holding ? ' · đang trong giờ bảo trì' : '');
      tr.appendChild(td(st));
      var act = td('');
      if (data.can_silence && x.state !== 'expired') {
        var b = document.createElement('button');
        b.type = 'button'; b.className = 'secondary expire'; b.textContent = 'Kết thúc ngay';
        b.addEventListener('click', function () {
          b.disabled = true;
          api('POST', '/api/v1/silences/' + x.id + '/expire').then(function () { window.location.reload(); },
            function (e) { b.disabled = false; say('silence-message', e.message, true); });
        });
        act.appendChild(b);
      }
      tr.appendChild(act);
      sbody.appendChild(tr);
    });
    document.getElementById('silences-empty').hidden = data.silences.length > 0;
    var form = document.getElementById('silence-form');
    if (form) {
      form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        var f = new FormData(form);
        var body = { type: f.get('type'), reason: f.get('reason'), duration_min: Number(f.get('duration_min')) };
        if (f.get('every')) {
          var days = String(f.get('days') || '').split(/[\s,;]+/).filter(Boolean);
          var rec = { every: f.get('every'), start: f.get('at'), duration_min: Number(f.get('each_min')) };
          if (rec.every === 'weekly') rec.weekdays = days.map(Number);
          else if (rec.every === 'monthly') rec.monthdays = days.map(Number);
          else rec.dates = days;
          body.recurrence = rec;
          body.duration_min = Number(f.get('valid_days')) * 1440;
        }
        ['district', 'commune', 'kind', 'device'].forEach(function (k) { if (f.get(k)) body[k] = f.get(k); });
        if (f.get('starts_at')) body.starts_at = new Date(f.get('starts_at')).toISOString();
        api('POST', '/api/v1/silences', body).then(function () { window.location.href = '/alerts/silences'; },
          function (e) { say('silence-message', e.message, true); });
      });
    }
  }

  /* --- rule settings ----------------------------------------------------------------------------------- */
  var rtable = document.getElementById('rules');
  if (rtable && data.district) {
    var base = '/api/v1/alert-rules/' + encodeURIComponent(data.district) + '/';
    rtable.querySelectorAll('tr[data-kind]').forEach(function (tr) {
      var kind = tr.dataset.kind;
      tr.querySelector('.rule-save').addEventListener('click', function () {
        var body = {};
        tr.querySelectorAll('input, select').forEach(function (inp) {
          if (inp.value === '') return;
          if (inp.name === 'enabled') body.enabled = inp.value === 'true';
          else if (inp.name === 'severity') body.severity = inp.value;
          else body[inp.name] = Number(inp.value);
        });
        api('PUT', base + kind, body).then(function () { window.location.reload(); },
          function (e) { say('rules-message', e.message, true); });
      });
      tr.querySelector('.rule-reset').addEventListener('click', function () {
        api('DELETE', base + kind).then(function () { window.location.reload(); },
          function (e) { say('rules-message', e.message, true); });
      });
    });
  }
})();
