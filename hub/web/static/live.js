/* Shared by the pages: labels, local-time formatting, and a live event stream that reconnects by itself
   and shows the "lost connection" banner while it is down. No inline scripts (CSP): data comes from the
   <script type="application/json" id="ops-data"> block. */
(function () {
  'use strict';
  var dataEl = document.getElementById('ops-data');
  var data = dataEl ? JSON.parse(dataEl.textContent) : { labels: { status: {}, problem: {} }, timezone: 'Asia/Ho_Chi_Minh' };
  var parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: data.timezone, hour12: false, year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit'
  });

  function fmtTime(iso, withDate) {
    if (!iso) return '—';
    var d = new Date(iso);
    if (isNaN(d.getTime())) return '—';
    var p = {};
    parts.formatToParts(d).forEach(function (x) { p[x.type] = x.value; });
    var hh = p.hour === '24' ? '00' : p.hour;
    var t = hh + ':' + p.minute + ':' + p.second;
    return withDate === false ? t : t + ' ' + p.day + '/' + p.month + '/' + p.year;
  }

  function fold(s) {
    return (s || '').replace(/đ/g, 'd').replace(/Đ/g, 'D').normalize('NFD')
      .replace(/[\u0300-\u036f]/g, '').toLowerCase();
  }

  function statusLabel(st) { return data.labels.status[st] || st; }

  function problemLabels(cam) {
    var codes = cam.problems || [];
    if (!codes.length && cam.status === 'offline') return [data.labels.problem.no_signal];
    return codes.map(function (c) { return data.labels.problem[c] || c; });
  }

  function snapshotUrl(cam) {
    return cam.snapshot_ts ? '/api/v1/cameras/' + cam.key + '/snapshot?v=' + encodeURIComponent(cam.snapshot_ts) : null;
  }

  var banner = document.getElementById('conn-banner');
  function setConnected(ok) {
    if (banner) banner.hidden = ok;
    document.body.classList.toggle('disconnected', !ok);
  }

  /* handlers: {hello, camera, agent, snapshot, speaker, summary…}, one per event type the page asked for. EventSource retries by itself after a dropped stream; when it
     gives up (an HTTP error such as 401), we check whether the session ended and otherwise retry with backoff. */
  function connect(url, handlers) {
    var es = null;
    var delay = 1000;
    function open() {
      es = new EventSource(url);
      es.addEventListener('hello', function (e) {
        delay = 1000;
        setConnected(true);
        if (handlers.hello) handlers.hello(JSON.parse(e.data));
      });
      Object.keys(handlers).forEach(function (name) {
        if (name === 'hello') return;
        es.addEventListener(name, function (e) { handlers[name](JSON.parse(e.data)); });
      });
      es.onerror = function () {
        setConnected(false);
        if (es.readyState !== EventSource.CLOSED) return;
        es = null;
        setTimeout(function () {
          fetch('/api/v1/me', { credentials: 'same-origin' }).then(function (r) {
            if (r.status === 401) {
              window.location.href = '/login?next=' + encodeURIComponent(window.location.pathname + window.location.search);
            } else {
              open();
            }
          }, open);
        }, delay);
        delay = Math.min(delay * 2, 30000);
      };
    }
    open();
    window.addEventListener('pagehide', function () { if (es) es.close(); });
  }

  var clock = document.getElementById('clock');
  if (clock) {
    var tick = function () { clock.textContent = fmtTime(new Date().toISOString()); };
    tick();
    setInterval(tick, 1000);
  }

  window.OPS = {
    data: data, fmtTime: fmtTime, fold: fold, statusLabel: statusLabel, problemLabels: problemLabels,
    snapshotUrl: snapshotUrl, connect: connect
  };
})();
