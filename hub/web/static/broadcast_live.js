/* The live page: the microphone through MediaRecorder (WebM/Opus, 250 ms chunks) onto the hub's WebSocket,
   a level meter from Web Audio, and who is listening from the hub's status messages. */
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var start = $('live-start');
  if (!start) return;
  var stopBtn = $('live-stop'), state = $('live-state'), level = $('live-level'), err = $('live-error');
  var listeners = $('live-listeners'), clock = $('live-time');
  var ws = null, rec = null, stream = null, audioCtx = null, timer = null, t0 = 0;

  function fail(msg) { err.textContent = msg; err.hidden = false; finish(); }

  function finish() {
    if (rec && rec.state !== 'inactive') rec.stop();
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    if (audioCtx) audioCtx.close();
    if (timer) clearInterval(timer);
    rec = stream = audioCtx = timer = null;
    start.hidden = false; stopBtn.hidden = true; level.value = 0;
  }

  function meter(s) {
    audioCtx = new (window.AudioContext || window.webkitAudioContext)();
    var an = audioCtx.createAnalyser();
    an.fftSize = 1024;
    audioCtx.createMediaStreamSource(s).connect(an);
    var buf = new Float32Array(an.fftSize);
    (function tick() {
      if (!audioCtx) return;
      an.getFloatTimeDomainData(buf);
      var sum = 0;
      for (var i = 0; i < buf.length; i++) sum += buf[i] * buf[i];
      level.value = Math.min(1, Math.sqrt(sum / buf.length) * 4);
      requestAnimationFrame(tick);
    })();
  }

  function query() {
    var form = $('live-form'), p = new URLSearchParams();
    var area = $('live-area');
    if (area) p.set('area', area.value);
    var v = Array.prototype.map.call(form.querySelectorAll('input[name=villages]:checked'), function (x) { return x.value; });
    p.set('villages', v.join(','));
    p.set('priority', $('live-priority').value);
    return p.toString();
  }

  start.addEventListener('click', function () {
    err.hidden = true;
    if (!navigator.mediaDevices || !window.MediaRecorder) { fail('Trình duyệt không hỗ trợ ghi âm trực tiếp'); return; }
    navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } }).then(function (s) {
      stream = s;
      meter(s);
      var proto = location.protocol === 'https:' ? 'wss://' : 'ws://';
      ws = new WebSocket(proto + location.host + '/broadcasts/live/ws?' + query());
      ws.binaryType = 'arraybuffer';
      ws.onmessage = function (ev) {
        var m = JSON.parse(ev.data);
        if (m.error) { fail(m.message); return; }
        if (m.session) {
          state.textContent = 'Đang phát trực tiếp tới ' + m.speakers.length + ' loa';
          var type = MediaRecorder.isTypeSupported('audio/webm;codecs=opus') ? 'audio/webm;codecs=opus' : '';
          rec = new MediaRecorder(stream, type ? { mimeType: type } : {});
          rec.ondataavailable = function (e) { if (e.data.size && ws.readyState === 1) ws.send(e.data); };
          rec.start(250);
          t0 = Date.now();
          timer = setInterval(function () {
            var s = Math.floor((Date.now() - t0) / 1000);
            clock.textContent = Math.floor(s / 60) + ':' + ('0' + (s % 60)).slice(-2);
          }, 500);
          start.hidden = true; stopBtn.hidden = false;
        }
        if (m.listeners) listeners.textContent = 'Loa đang nghe: ' + m.listeners.length + '/' + m.targeted;
        if (m.ended) { state.textContent = 'Đã kết thúc phiên phát'; finish(); }
      };
      ws.onclose = function () { if (rec) { state.textContent = 'Mất kết nối với máy chủ'; finish(); } };
    }).catch(function () { fail('Không mở được micro: hãy cho phép trang dùng micro'); });
  });

  stopBtn.addEventListener('click', function () {
    if (ws && ws.readyState === 1) ws.send('stop');
    state.textContent = 'Đang kết thúc…';
  });
})();
