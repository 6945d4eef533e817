/* /speakers: the health-trend chart of one speaker (signal, free disk, output level, clock offset, volume) from
   /api/v1/speakers/{key}/history, drawn by chart.js (vendored, inline SVG). No inline scripts (CSP). */
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('speakers-data').textContent);
  window.OPS = window.OPS || {};
  window.OPS.data = window.OPS.data || { timezone: data.timezone }; // chart.js formats axis times with it
  var speaker = document.getElementById('trend-speaker');
  var metric = document.getElementById('trend-metric');
  var range = document.getElementById('trend-range');
  var fig = document.getElementById('trend-chart');
  var errorBox = document.getElementById('chart-error');
  if (!speaker || !fig) return;
  var body = fig.querySelector('.chart-body');
  var gen = 0;

  function note(text) {
    var p = document.createElement('p');
    p.className = 'muted chart-note';
    p.textContent = text;
    body.appendChild(p);
  }

  function load() {
    var mine = ++gen;
    fig.setAttribute('aria-busy', 'true');
    var url = '/api/v1/speakers/' + speaker.value.split('/').map(encodeURIComponent).join('/') +
      '/history?metric=' + encodeURIComponent(metric.value) + '&range=' + encodeURIComponent(range.value);
    fetch(url, { credentials: 'same-origin' })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
      .then(function (res) {
        if (mine !== gen) return;
        fig.removeAttribute('aria-busy');
        body.textContent = '';
        if (!res.ok) {
          errorBox.textContent = res.body.error ? res.body.error.message : 'Không đọc được lịch sử';
          errorBox.hidden = false;
          return;
        }
        errorBox.hidden = true;
        if (!window.OPS_CHART.draw(body, res.body)) note('Chưa có số đo trong khoảng thời gian này');
        fig.setAttribute('data-loaded', res.body.metric + '/' + res.body.range);
      })
      .catch(function () {
        if (mine !== gen) return;
        fig.removeAttribute('aria-busy');
        errorBox.textContent = 'Không tải được lịch sử số đo (mất kết nối máy chủ?)';
        errorBox.hidden = false;
      });
  }
  [speaker, metric, range].forEach(function (el) { el.addEventListener('change', load); });
  load();
})();
