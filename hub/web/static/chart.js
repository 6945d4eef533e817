/* Small inline-SVG charts for the camera page (no chart library, nothing downloaded). Colours come from
   classes in app.css (the CSP forbids inline style attributes). Times on the axis are local
   (OPS.data.timezone). */
(function () {
  'use strict';
  var NS = 'http://www.w3.org/2000/svg';
  var W = 600, H = 180, L = 46, R = 10, T = 10, B = 24; // viewBox and plot margins

  function node(tag, attrs, text) {
    var e = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function fmtAxisTime(ms, longRange) {
    var f = new Intl.DateTimeFormat('vi-VN', longRange
      ? { timeZone: window.OPS.data.timezone, day: '2-digit', month: '2-digit' }
      : { timeZone: window.OPS.data.timezone, hour: '2-digit', minute: '2-digit', hour12: false });
    return f.format(new Date(ms));
  }

  function niceNumber(v) {
    var a = Math.abs(v);
    if (a >= 100) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1).replace(/\.0$/, '');
    return v.toFixed(2).replace(/0+$/, '').replace(/\.$/, '');
  }

  function frame(t0, t1, yMin, yMax, fmtY) {
    var svg = node('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'chart-svg', role: 'img' });
    var x = function (ms) { return L + (ms - t0) / (t1 - t0) * (W - L - R); };
    var y = function (v) { return T + (1 - (v - yMin) / (yMax - yMin)) * (H - T - B); };
    for (var i = 0; i <= 4; i++) {
      var v = yMin + (yMax - yMin) * i / 4;
      svg.appendChild(node('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }));
      svg.appendChild(node('text', { x: L - 4, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, fmtY(v)));
    }
    var longRange = t1 - t0 > 36 * 3600 * 1000;
    for (var j = 0; j <= 4; j++) {
      var ms = t0 + (t1 - t0) * j / 4;
      svg.appendChild(node('text', { x: x(ms), y: H - 6, class: 'axis',
        'text-anchor': j === 0 ? 'start' : j === 4 ? 'end' : 'middle' }, fmtAxisTime(ms, longRange)));
    }
    return { svg: svg, x: x, y: y };
  }

  /* Splits points into runs without gaps (a gap is more than 1.5 buckets with no probe). */
  function runs(points, stepMs) {
    var out = [], cur = [];
    points.forEach(function (p) {
      if (cur.length && p.ms - cur[cur.length - 1].ms > stepMs * 1.5) { out.push(cur); cur = []; }
      cur.push(p);
    });
    if (cur.length) out.push(cur);
    return out;
  }

  /* Numeric series: a band from min to max per bucket and the mean as a line. */
  function drawNumeric(container, h) {
    var pts = h.points.filter(function (p) { return p.mean !== null; })
      .map(function (p) { return { ms: Date.parse(p.t), mean: p.mean, min: p.min, max: p.max }; });
    var unit = h.unit ? ' ' + h.unit : '';
    if (!pts.length) return false;
    var lo = Math.min.apply(null, pts.map(function (p) { return p.min; }));
    var hi = Math.max.apply(null, pts.map(function (p) { return p.max; }));
    if (lo >= 0 && lo < hi * 0.3) lo = 0;
    if (hi === lo) { hi += 1; lo = Math.max(0, lo - 1); }
    var pad = (hi - lo) * 0.05;
    var span = hi + pad - lo;
    var digits = span >= 40 ? 0 : span >= 4 ? 1 : span >= 0.4 ? 2 : 3;
    var f = frame(Date.parse(h.from), Date.parse(h.to), lo, hi + pad, function (v) { return v.toFixed(digits); });
    var step = h.step_s * 1000;
    runs(pts, step).forEach(function (run) {
      var mid = step / 2;
      var top = run.map(function (p) { return f.x(p.ms + mid).toFixed(1) + ',' + f.y(p.max).toFixed(1); });
      var bottom = run.slice().reverse().map(function (p) { return f.x(p.ms + mid).toFixed(1) + ',' + f.y(p.min).toFixed(1); });
      f.svg.appendChild(node('polygon', { points: top.concat(bottom).join(' '), class: 'band' }));
      var line = run.map(function (p) { return f.x(p.ms + mid).toFixed(1) + ',' + f.y(p.mean).toFixed(1); });
      if (run.length === 1) {
        f.svg.appendChild(node('circle', { cx: f.x(run[0].ms + mid), cy: f.y(run[0].mean), r: 2.5, class: 'dot-mean' }));
      } else {
        f.svg.appendChild(node('polyline', { points: line.join(' '), class: 'mean' }));
      }
    });
    var last = pts[pts.length - 1];
    f.svg.setAttribute('aria-label', h.label + ': mới nhất ' + niceNumber(last.mean) + unit);
    container.appendChild(f.svg);
    var note = document.createElement('p');
    note.className = 'chart-latest';
    note.textContent = 'Mới nhất ' + niceNumber(last.mean) + unit + ' · thấp nhất ' + niceNumber(lo) +
      unit + ' · cao nhất ' + niceNumber(Math.max.apply(null, pts.map(function (p) { return p.max; }))) + unit;
    container.appendChild(note);
    return true;
  }

  /* Status per bucket as a coloured strip, and the share of probes that had a picture as a line. */
  function drawStatus(container, h) {
    var pts = h.points.filter(function (p) { return p.probes > 0; })
      .map(function (p) { return { ms: Date.parse(p.t), status: p.status || 'unknown', ratio: p.online_ratio }; });
    if (!pts.length) return false;
    var f = frame(Date.parse(h.from), Date.parse(h.to), 0, 100, function (v) { return v.toFixed(0) + '%'; });
    var step = h.step_s * 1000;
    var stripY = f.y(0) - 12;
    pts.forEach(function (p) {
      var x0 = f.x(p.ms), x1 = f.x(p.ms + step);
      f.svg.appendChild(node('rect', { x: x0.toFixed(1), y: stripY.toFixed(1), width: Math.max(1, x1 - x0).toFixed(1),
        height: 12, class: 'strip st-' + p.status }, undefined));
    });
    runs(pts, step).forEach(function (run) {
      var line = run.map(function (p) { return f.x(p.ms + step / 2).toFixed(1) + ',' + f.y((p.ratio || 0) * 100).toFixed(1); });
      if (run.length > 1) f.svg.appendChild(node('polyline', { points: line.join(' '), class: 'mean' }));
    });
    var probes = h.points.reduce(function (a, p) { return a + p.probes; }, 0);
    var online = h.points.reduce(function (a, p) { return a + (p.online_ratio || 0) * p.probes; }, 0);
    var pct = probes ? Math.round(online / probes * 1000) / 10 : 0;
    f.svg.setAttribute('aria-label', 'Tỉ lệ lần kiểm tra có hình: ' + pct + '%');
    container.appendChild(f.svg);
    var note = document.createElement('p');
    note.className = 'chart-latest';
    note.textContent = 'Có hình ' + pct + '% trong ' + probes + ' lần kiểm tra · dải màu: trạng thái theo thời gian';
    container.appendChild(note);
    return true;
  }

  /* Draws a /history answer into `container` (emptied first); false when there is nothing to draw. */
  function draw(container, history) {
    container.textContent = '';
    return history.metric === 'status' ? drawStatus(container, history) : drawNumeric(container, history);
  }

  window.OPS_CHART = { draw: draw };
})();
