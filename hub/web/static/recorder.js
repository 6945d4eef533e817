/* Broadcast content pages: the phone recorder (MediaRecorder: record, pause/resume, listen back, re-record,
   upload with progress), the file upload form (XHR with progress), text-to-speech preview, and delete
   confirmations in the library. No inline scripts (CSP); every server message is shown as it came. */
(function () {
  'use strict';

  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute('content') : '';

  function $(id) { return document.getElementById(id); }
  function show(el, on) { if (el) el.hidden = !on; }

  function clock(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    var m = Math.floor(s / 60);
    return m + ':' + String(s % 60).padStart(2, '0');
  }

  function number(v) { return v.toFixed(1).replace('.', ',').replace('-', '−'); }

  function describe(item) {
    return '«' + item.title + '» · ' + clock(item.duration_s) + ' · ' + number(item.loudness_lufs) +
      ' LUFS · đỉnh ' + number(item.true_peak_dbtp) + ' dBTP';
  }

  function errorText(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && body.error && body.error.message) return body.error.message;
    } catch (e) { /* not JSON: fall through */ }
    if (xhr.status === 413) return 'Tệp quá lớn hoặc quá dài';
    return 'Máy chủ trả lỗi ' + xhr.status;
  }

  /* POST a FormData with upload progress; resolves with the created item, rejects with a Vietnamese message. */
  function upload(url, form, progress, status) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open('POST', url);
      xhr.setRequestHeader('X-CSRF-Token', csrf);
      xhr.setRequestHeader('Accept', 'application/json');
      show(progress, true);
      progress.value = 0;
      xhr.upload.onprogress = function (ev) {
        if (!ev.lengthComputable) return;
        var pct = Math.round(ev.loaded / ev.total * 100);
        progress.value = pct;
        status.textContent = 'Đang tải lên… ' + pct + ' %';
      };
      xhr.upload.onload = function () {
        progress.removeAttribute('value'); // indeterminate while the server processes
        status.textContent = 'Đã tải lên; đang lọc nhiễu và chỉnh độ lớn…';
      };
      xhr.onload = function () {
        show(progress, false);
        if (xhr.status === 201) {
          try { resolve(JSON.parse(xhr.responseText)); } catch (e) { reject('Máy chủ trả lời không hợp lệ'); }
        } else {
          reject(errorText(xhr));
        }
      };
      xhr.onerror = function () {
        show(progress, false);
        reject('Không tải lên được: mất kết nối tới máy chủ (hoặc tệp quá lớn)');
      };
      xhr.send(form);
    });
  }

  function tooBig(size, holder) {
    var max = Number(holder.dataset.maxBytes || 0);
    return max > 0 && size > max;
  }

  // recorder ------------------------------------------------------------------------------------------------
  function setupRecorder(root) {
    var el = {
      panel: $('rec-panel'), time: $('rec-time'), state: $('rec-state'), level: $('rec-level'),
      start: $('rec-start'), pause: $('rec-pause'), resume: $('rec-resume'), stop: $('rec-stop'),
      review: $('rec-review'), playback: $('rec-playback'), form: $('rec-form'), title: $('rec-title'),
      again: $('rec-again'), send: $('rec-upload'), progress: $('rec-progress'), status: $('rec-status'),
      error: $('rec-error'), done: $('rec-done'), result: $('rec-result'), resultAudio: $('rec-result-audio'),
      again2: $('rec-new'), unsupported: $('rec-unsupported')
    };
    var maxSeconds = Number(root.dataset.maxSeconds || 1800);
    var rec = null, stream = null, chunks = [], blob = null, blobUrl = null;
    var elapsed = 0, runningSince = null, ticker = null, audioCtx = null, meterFrame = null;

    if (!window.MediaRecorder || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      el.unsupported.textContent = (window.isSecureContext === false
        ? 'Trình duyệt chỉ cho ghi âm qua kết nối bảo mật (HTTPS). '
        : 'Trình duyệt này không hỗ trợ ghi âm. ') + 'Bạn vẫn có thể ghi bằng ứng dụng ghi âm của điện thoại rồi tải tệp lên ở trang "Tải tệp / Đọc văn bản".';
      show(el.unsupported, true);
      show(el.panel, false);
      return;
    }

    function mimeType() {
      var types = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/mp4', 'audio/webm'];
      for (var i = 0; i < types.length; i++) {
        if (MediaRecorder.isTypeSupported && MediaRecorder.isTypeSupported(types[i])) return types[i];
      }
      return '';
    }

    function extension(type) {
      if (type.indexOf('ogg') >= 0) return 'ogg';
      if (type.indexOf('mp4') >= 0 || type.indexOf('aac') >= 0) return 'm4a';
      return 'webm';
    }

    function seconds() { return elapsed + (runningSince ? (Date.now() - runningSince) / 1000 : 0); }

    function buttons(mode) {
      show(el.start, mode === 'idle');
      show(el.pause, mode === 'recording');
      show(el.resume, mode === 'paused');
      show(el.stop, mode === 'recording' || mode === 'paused');
    }

    function fail(msg) {
      el.error.textContent = msg;
      show(el.error, true);
    }

    function tick() {
      var s = seconds();
      el.time.textContent = clock(s);
      if (s >= maxSeconds && rec && rec.state !== 'inactive') {
        el.state.textContent = 'Đã đủ thời lượng tối đa; dừng ghi';
        rec.stop();
      }
    }

    function meter(source) {
      try {
        audioCtx = new (window.AudioContext || window.webkitAudioContext)();
        var analyser = audioCtx.createAnalyser();
        analyser.fftSize = 1024;
        audioCtx.createMediaStreamSource(source).connect(analyser);
        var buf = new Float32Array(analyser.fftSize);
        var draw = function () {
          analyser.getFloatTimeDomainData(buf);
          var sum = 0;
          for (var i = 0; i < buf.length; i++) sum += buf[i] * buf[i];
          el.level.value = Math.min(1, Math.sqrt(sum / buf.length) * 4);
          meterFrame = requestAnimationFrame(draw);
        };
        draw();
      } catch (e) { /* the level meter is a help, not a requirement */ }
    }

    function release() {
      if (ticker) { clearInterval(ticker); ticker = null; }
      if (meterFrame) { cancelAnimationFrame(meterFrame); meterFrame = null; }
      if (audioCtx) { audioCtx.close(); audioCtx = null; }
      if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
      el.level.value = 0;
    }

    function reset() {
      release();
      if (blobUrl) { URL.revokeObjectURL(blobUrl); blobUrl = null; }
      blob = null; chunks = []; elapsed = 0; runningSince = null; rec = null;
      el.time.textContent = '0:00';
      el.state.textContent = 'Sẵn sàng ghi âm';
      el.status.textContent = '';
      show(el.error, false); show(el.review, false); show(el.done, false); show(el.panel, true);
      el.send.disabled = false; el.again.disabled = false;
      buttons('idle');
    }

    el.start.addEventListener('click', function () {
      show(el.error, false);
      el.state.textContent = 'Đang xin quyền dùng micro…';
      navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } })
        .then(function (s) {
          stream = s;
          var type = mimeType();
          rec = type ? new MediaRecorder(s, { mimeType: type }) : new MediaRecorder(s);
          chunks = [];
          rec.ondataavailable = function (ev) { if (ev.data && ev.data.size) chunks.push(ev.data); };
          rec.onstop = function () {
            if (runningSince) { elapsed += (Date.now() - runningSince) / 1000; runningSince = null; }
            release();
            blob = new Blob(chunks, { type: rec.mimeType || type || 'audio/webm' });
            if (!blob.size) { fail('Không thu được âm thanh nào; hãy kiểm tra micro và ghi lại'); reset(); return; }
            blobUrl = URL.createObjectURL(blob);
            el.playback.src = blobUrl;
            el.state.textContent = 'Đã ghi ' + clock(elapsed) + ' — hãy nghe lại rồi tải lên';
            buttons('none');
            show(el.review, true);
            el.title.focus();
          };
          rec.start(1000);
          runningSince = Date.now();
          ticker = setInterval(tick, 250);
          meter(s);
          el.state.textContent = 'Đang ghi âm…';
          buttons('recording');
        })
        .catch(function (err) {
          el.state.textContent = 'Sẵn sàng ghi âm';
          fail(err && err.name === 'NotAllowedError'
            ? 'Bạn chưa cho phép dùng micro. Hãy cho phép trong cài đặt trình duyệt rồi thử lại.'
            : 'Không mở được micro: ' + (err && err.message ? err.message : err));
        });
    });

    el.pause.addEventListener('click', function () {
      if (!rec || rec.state !== 'recording') return;
      rec.pause();
      elapsed += (Date.now() - runningSince) / 1000;
      runningSince = null;
      el.state.textContent = 'Tạm dừng';
      buttons('paused');
    });

    el.resume.addEventListener('click', function () {
      if (!rec || rec.state !== 'paused') return;
      rec.resume();
      runningSince = Date.now();
      el.state.textContent = 'Đang ghi âm…';
      buttons('recording');
    });

    el.stop.addEventListener('click', function () {
      if (rec && rec.state !== 'inactive') rec.stop();
    });

    el.again.addEventListener('click', reset);
    el.again2.addEventListener('click', reset);

    el.form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      if (!blob) return;
      show(el.error, false);
      if (tooBig(blob.size, root)) { fail('Bản ghi quá lớn để tải lên; hãy ghi ngắn hơn'); return; }
      var data = new FormData(el.form);
      var stamp = new Date().toISOString().slice(0, 16).replace(/[-:T]/g, '');
      data.append('source', 'recording');
      data.append('file', blob, 'ghi-am-' + stamp + '.' + extension(blob.type));
      el.send.disabled = true; el.again.disabled = true;
      upload('/api/v1/content', data, el.progress, el.status)
        .then(function (item) {
          el.status.textContent = '';
          el.result.textContent = describe(item);
          el.resultAudio.src = item.media_url;
          show(el.review, false); show(el.panel, false); show(el.done, true);
          if (blobUrl) { URL.revokeObjectURL(blobUrl); blobUrl = null; }
          blob = null;
        })
        .catch(function (msg) {
          el.status.textContent = '';
          fail(msg);
          el.send.disabled = false; el.again.disabled = false;
        });
    });

    buttons('idle');
  }

  // file upload form ----------------------------------------------------------------------------------------
  function setupUpload(form) {
    var progress = form.querySelector('.upload-progress');
    var status = form.querySelector('.upload-status');
    var button = form.querySelector('button[type="submit"]');
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var file = form.elements.file.files[0];
      if (!file) { status.textContent = 'Hãy chọn tệp âm thanh'; return; }
      if (tooBig(file.size, form)) {
        status.textContent = 'Tệp quá lớn: tối đa ' + form.dataset.maxMb + ' MB';
        return;
      }
      button.disabled = true;
      upload(form.action, new FormData(form), progress, status)
        .then(function (item) {
          status.textContent = 'Đã lưu ' + describe(item);
          window.location.assign('/broadcasts/content?created=' + item.id);
        })
        .catch(function (msg) { status.textContent = msg; button.disabled = false; });
    });
  }

  // text to speech ------------------------------------------------------------------------------------------
  function setupTts(form) {
    var text = form.elements.text;
    var count = form.querySelector('.tts-count');
    var audio = form.querySelector('.tts-audio');
    var status = form.querySelector('.tts-status');
    var preview = form.querySelector('.tts-preview');
    var spoken = form.querySelector('.tts-spoken');
    var previewChars = Number(form.dataset.previewChars) || 400;
    var url = null;
    // The preview reads a sentence or two: the start of a long text, cut at a sentence end (else a space).
    function previewText(all) {
      all = all.trim();
      if (all.length <= previewChars) return all;
      var head = all.slice(0, previewChars);
      var end = Math.max(head.lastIndexOf('. '), head.lastIndexOf('! '), head.lastIndexOf('? '), head.lastIndexOf('\n'));
      if (end < previewChars / 3) end = head.lastIndexOf(' ');
      return head.slice(0, end > 0 ? end + 1 : previewChars).trim();
    }
    text.addEventListener('input', function () { count.textContent = String(text.value.length); });
    preview.addEventListener('click', function () {
      if (!text.value.trim()) { status.textContent = 'Hãy nhập nội dung cần đọc'; return; }
      preview.disabled = true;
      status.textContent = 'Đang tạo giọng đọc…';
      fetch('/api/v1/content/tts/preview', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf, 'Accept': 'audio/mpeg' },
        body: JSON.stringify({ text: previewText(text.value), voice: form.elements.voice.value,
          speed: Number(form.elements.speed.value) })
      }).then(function (resp) {
        if (!resp.ok) {
          return resp.json().then(function (b) { throw (b.error && b.error.message) || ('Lỗi ' + resp.status); },
            function () { throw 'Máy chủ trả lỗi ' + resp.status; });
        }
        var lufs = resp.headers.get('X-Loudness-LUFS');
        var said = resp.headers.get('X-Spoken-Text');
        if (spoken && said) {
          spoken.querySelector('p').textContent = decodeURIComponent(said);
          show(spoken, true);
        }
        var partial = text.value.trim().length > previewChars;
        return resp.blob().then(function (b) {
          if (url) URL.revokeObjectURL(url);
          url = URL.createObjectURL(b);
          audio.src = url;
          show(audio, true);
          status.textContent = 'Bản nghe thử' + (partial ? ' đoạn đầu' : '') + (lufs ? ' (' + number(Number(lufs)) + ' LUFS)' : '') + '; bấm "Lưu vào thư viện" nếu đạt.';
          audio.play().catch(function () { /* autoplay may be refused; the player is shown */ });
        });
      }).catch(function (msg) {
        status.textContent = typeof msg === 'string' ? msg : 'Không tạo được giọng đọc';
      }).then(function () { preview.disabled = false; });
    });
    form.addEventListener('submit', function () {
      status.textContent = 'Đang tạo giọng đọc và lưu…';
    });
  }

  var recorder = $('recorder');
  if (recorder) setupRecorder(recorder);
  var uploadForm = $('upload-form');
  if (uploadForm) setupUpload(uploadForm);
  var ttsForm = $('tts-form');
  if (ttsForm) setupTts(ttsForm);
  Array.prototype.forEach.call(document.querySelectorAll('form[data-confirm]'), function (f) {
    f.addEventListener('submit', function (ev) {
      if (!window.confirm(f.dataset.confirm)) ev.preventDefault();
    });
  });
})();
