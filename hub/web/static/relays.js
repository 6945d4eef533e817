/* /broadcasts/relays: the allow-list (administrators) and relay content (officers) through the JSON API.
   No inline scripts (CSP). */
(function () {
  'use strict';
  var csrfEl = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfEl ? csrfEl.getAttribute('content') : '';
  var status = document.getElementById('relay-status');

  function say(text, ok) {
    status.textContent = text;
    status.hidden = false;
    status.className = 'command-result ' + (ok ? 'ok' : 'error');
  }

  function send(method, url, body) {
    return fetch(url, {
      method: method, credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) throw new Error(j.error ? j.error.message : 'Lỗi ' + r.status);
        return j;
      });
    });
  }

  function reloadSoon() { setTimeout(function () { window.location.reload(); }, 600); }

  var relayForm = document.getElementById('relay-form');
  if (relayForm) relayForm.addEventListener('submit', function (e) {
    e.preventDefault();
    var f = relayForm.elements;
    var body = { title: f.title.value, upstream_id: Number(f.upstream_id.value), duration_min: Number(f.duration_min.value) };
    if (f.fallback_content_id.value) body.fallback_content_id = Number(f.fallback_content_id.value);
    if (f.area && f.area.value) { var a = f.area.value.split('/'); body.district = a[0]; body.commune = a[1]; }
    send('POST', '/api/v1/content/relay', body).then(function (item) {
      say('Đã tạo «' + item.title + '». Hãy xếp lịch trong mục Chương trình.', true);
      reloadSoon();
    }).catch(function (err) { say(err.message, false); });
  });

  var upForm = document.getElementById('upstream-form');
  if (upForm) upForm.addEventListener('submit', function (e) {
    e.preventDefault();
    var f = upForm.elements;
    var body = { name: f.name.value, url: f.url.value, enabled: true };
    if (f.note.value) body.note = f.note.value;
    send('POST', '/api/v1/relay-upstreams', body).then(function (u) {
      say('Đã thêm luồng «' + u.name + '».', true);
      reloadSoon();
    }).catch(function (err) { say(err.message, false); });
  });

  document.querySelectorAll('.upstream-toggle').forEach(function (b) {
    b.addEventListener('click', function () {
      var body = { name: b.dataset.name, url: b.dataset.url, enabled: b.dataset.enabled !== 'true' };
      if (b.dataset.note) body.note = b.dataset.note;
      send('PUT', '/api/v1/relay-upstreams/' + b.dataset.id, body)
        .then(function () { say('Đã lưu.', true); reloadSoon(); })
        .catch(function (err) { say(err.message, false); });
    });
  });
  document.querySelectorAll('.upstream-remove').forEach(function (b) {
    b.addEventListener('click', function () {
      if (!window.confirm('Xoá luồng «' + b.dataset.name + '» khỏi danh sách?')) return;
      send('DELETE', '/api/v1/relay-upstreams/' + b.dataset.id)
        .then(function () { say('Đã xoá.', true); reloadSoon(); })
        .catch(function (err) { say(err.message, false); });
    });
  });
})();
