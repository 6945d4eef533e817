// Programme editor (new / edit / emergency) and programme detail actions. Talks to /api/v1/programmes.
(() => {
  "use strict";
  const TZ = "Asia/Ho_Chi_Minh";
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const PRIORITY = { normal: "Thông thường", priority: "Ưu tiên", emergency: "Khẩn cấp" };
  const STATE = { pending_approval: "chờ duyệt", approved: "đã duyệt" };

  async function api(method, url, body) {
    const res = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
    });
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    return { status: res.status, ok: res.ok, data };
  }

  function errorText(r) {
    if (r.data && r.data.error && r.data.error.message) return r.data.error.message;
    return "Lỗi máy chủ (" + r.status + "); hãy thử lại.";
  }

  function show(el, text) {
    el.textContent = text;
    el.hidden = !text;
    if (text) el.scrollIntoView({ block: "nearest" });
  }

  const fmtTime = new Intl.DateTimeFormat("vi-VN", { timeZone: TZ, hour: "2-digit", minute: "2-digit" });
  const fmtDate = new Intl.DateTimeFormat("en-GB", { timeZone: TZ, day: "2-digit", month: "2-digit" }); // 02/11
  function mmss(s) {
    s = Math.round(s || 0);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  // ---- detail page -------------------------------------------------------------------------------------
  const detail = document.getElementById("programme");
  if (detail) {
    const id = detail.dataset.id;
    const err = document.getElementById("action-error");
    detail.querySelectorAll("button[data-action]").forEach((btn) => {
      btn.addEventListener("click", async () => {
        const action = btn.dataset.action;
        if (btn.dataset.confirm && !window.confirm(btn.dataset.confirm)) return;
        const comment = (document.getElementById("comment").value || "").trim();
        const body = action === "air-now" ? { confirm: true } : { comment: comment || null };
        btn.disabled = true;
        const r = await api("POST", "/api/v1/programmes/" + id + "/" + action, body);
        btn.disabled = false;
        if (r.ok) window.location.reload();
        else show(err, errorText(r));
      });
    });
  }

  // ---- editor ------------------------------------------------------------------------------------------
  const form = document.getElementById("editor");
  if (!form) return;
  const data = JSON.parse(document.getElementById("editor-data").textContent);
  const mode = data.mode;
  const prog = data.programme;
  const content = new Map(data.content.map((c) => [c.id, c]));
  const formError = document.getElementById("form-error");
  const chosen = [];
  const $ = (id) => document.getElementById(id);

  const library = $("library");
  for (const c of data.content) {
    const o = document.createElement("option");
    o.value = String(c.id);
    o.textContent = c.title + " (" + mmss(c.duration_s) + ")";
    library.appendChild(o);
  }

  function renderChosen() {
    const list = $("chosen");
    list.replaceChildren();
    chosen.forEach((cid, i) => {
      const c = content.get(cid);
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.textContent = c ? c.title + " (" + mmss(c.duration_s) + ")" : "Nội dung #" + cid;
      li.appendChild(name);
      for (const [label, title, fn] of [
        ["↑", "Lên trên", () => i > 0 && chosen.splice(i - 1, 0, chosen.splice(i, 1)[0])],
        ["↓", "Xuống dưới", () => i < chosen.length - 1 && chosen.splice(i + 1, 0, chosen.splice(i, 1)[0])],
        ["✕", "Bỏ", () => chosen.splice(i, 1)],
      ]) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "mini";
        b.textContent = label;
        b.title = title;
        b.setAttribute("aria-label", title);
        b.addEventListener("click", () => { fn(); renderChosen(); });
        li.appendChild(b);
      }
      list.appendChild(li);
    });
    $("chosen-empty").hidden = chosen.length > 0;
  }
  $("add-item").addEventListener("click", () => {
    const v = parseInt(library.value, 10);
    if (v) { chosen.push(v); renderChosen(); library.value = ""; }
  });

  function checks(boxId, items, name, label) {
    const box = $(boxId);
    if (!items.length) {
      box.textContent = name === "village" ? "Xã chưa có thôn nào trong danh mục." : "Xã chưa có cụm loa nào.";
      return;
    }
    for (const it of items) {
      const l = document.createElement("label");
      l.className = "inline";
      const cb = document.createElement("input");
      cb.type = "checkbox";
      cb.name = name;
      cb.value = it.id;
      l.append(cb, " " + label(it));
      box.appendChild(l);
    }
  }
  checks("target-villages", data.villages, "village", (v) => v.name);
  checks("target-speakers", data.speakers, "speaker", (s) => s.name + (s.status === "online" ? "" : " (" + s.status + ")"));
  function syncTarget() {
    const kind = form.querySelector('input[name="target_kind"]:checked').value;
    $("target-villages").hidden = kind !== "villages";
    $("target-speakers").hidden = kind !== "speakers";
  }
  form.querySelectorAll('input[name="target_kind"]').forEach((r) => r.addEventListener("change", syncTarget));

  const kindSel = $("kind");
  function syncKind() {
    if (!kindSel) return;
    const k = kindSel.value;
    form.querySelectorAll("[data-for]").forEach((el) => { el.hidden = !el.dataset.for.split(" ").includes(k); });
  }
  if (kindSel) kindSel.addEventListener("change", syncKind);

  function todayLocal() {
    const parts = new Intl.DateTimeFormat("en-CA", { timeZone: TZ }).format(new Date());
    return parts; // YYYY-MM-DD
  }

  // prefill
  if (prog) {
    $("title").value = prog.title;
    $("note").value = prog.note || "";
    prog.items.forEach((i) => chosen.push(i.content_id));
    form.querySelector('input[name="target_kind"][value="' + prog.target_kind + '"]').checked = true;
    const wanted = new Set(prog.target_ids);
    form.querySelectorAll('input[name="village"], input[name="speaker"]').forEach((cb) => { cb.checked = wanted.has(cb.value); });
    const s = prog.schedule;
    if (kindSel) {
      kindSel.value = s.kind;
      $("date").value = s.date || "";
      $("times").value = (s.times || []).join(", ");
      $("start_date").value = s.start_date || "";
      $("end_date").value = s.end_date || "";
      const days = new Set((s.weekdays || []).map(String));
      form.querySelectorAll('input[name="weekday"]').forEach((cb) => { cb.checked = days.has(cb.value); });
    }
    $("repeats").value = prog.repeats;
    $("gap_s").value = prog.gap_s;
    if ($("priority")) $("priority").value = prog.priority;
  } else if (kindSel) {
    $("date").value = todayLocal();
  }
  renderChosen();
  syncTarget();
  syncKind();

  function body(submit, resolution) {
    const kind = form.querySelector('input[name="target_kind"]:checked').value;
    const ids = kind === "commune" ? [] :
      [...form.querySelectorAll('input[name="' + (kind === "villages" ? "village" : "speaker") + '"]:checked')].map((c) => c.value);
    const out = {
      district: data.district,
      commune: data.commune,
      title: $("title").value,
      note: $("note").value || null,
      items: chosen.slice(),
      target_kind: kind,
      target_ids: ids,
      repeats: parseInt($("repeats").value || "1", 10),
      gap_s: parseFloat($("gap_s").value || "0"),
    };
    if (mode === "emergency") return { ...out, confirm: true };
    const k = kindSel.value;
    const schedule = { kind: k };
    if (k !== "now") {
      schedule.times = $("times").value.split(/[,;\s]+/).filter(Boolean);
      if (k === "once") schedule.date = $("date").value || null;
      else {
        schedule.start_date = $("start_date").value || null;
        schedule.end_date = $("end_date").value || null;
      }
      if (k === "weekly") schedule.weekdays = [...form.querySelectorAll('input[name="weekday"]:checked')].map((c) => parseInt(c.value, 10));
    }
    Object.assign(out, { schedule, priority: $("priority").value, submit, resolution });
    if (prog) out.version = prog.version;
    return out;
  }

  let lastSubmit = false;
  async function send(submit, resolution) {
    show(formError, "");
    let r;
    if (mode === "emergency") r = await api("POST", "/api/v1/programmes/emergency", body(false, "none"));
    else if (prog) r = await api("PUT", "/api/v1/programmes/" + prog.id, body(submit, resolution));
    else r = await api("POST", "/api/v1/programmes", body(submit, resolution));
    if (r.ok) {
      window.location.href = "/broadcasts/programmes/" + r.data.id;
      return;
    }
    if (r.status === 409 && r.data && r.data.conflicts) { openConflicts(r.data); return; }
    show(formError, errorText(r));
  }

  const dlg = $("conflict-dialog");
  function openConflicts(d) {
    $("conflict-message").textContent = d.error.message;
    const list = $("conflict-list");
    list.replaceChildren();
    // One line per other programme: its first clashing occurrence and how many more there are.
    const groups = new Map();
    for (const c of d.conflicts) {
      const g = groups.get(c.other_id);
      if (g) { g.n += 1; c.speakers.forEach((x) => g.speakers.add(x)); }
      else groups.set(c.other_id, { c, n: 1, speakers: new Set(c.speakers) });
    }
    for (const { c, n, speakers } of groups.values()) {
      const li = document.createElement("li");
      const s = new Date(c.other_start), e = new Date(c.other_end);
      const sp = [...speakers].filter(Boolean);
      const where = sp.length ? "loa " + sp.join(", ") : "toàn xã";
      li.textContent = "«" + c.other_title + "» (" + (PRIORITY[c.other_priority] || c.other_priority) + ", " +
        (STATE[c.other_state] || c.other_state) + ") " + fmtTime.format(s) + "–" + fmtTime.format(e) +
        " ngày " + fmtDate.format(s) + (n > 1 ? " và " + (n - 1) + " lượt sau đó" : "") + "; " + where;
      list.appendChild(li);
    }
    const after = $("resolve-after"), replace = $("resolve-replace");
    after.className = d.suggestion === "after" ? "primary" : "secondary";
    replace.className = d.suggestion === "replace" ? "primary" : "secondary";
    $("conflict-hint").textContent = d.suggestion === "replace"
      ? "Gợi ý: chương trình của bạn ưu tiên cao hơn, nên thay thế lượt phát kia trên các loa trùng."
      : "Gợi ý: phát sau chương trình kia (giờ phát sẽ được dời muộn hơn cho đến khi không còn trùng).";
    if (typeof dlg.showModal === "function") dlg.showModal(); else dlg.setAttribute("open", "");
    (d.suggestion === "replace" ? replace : after).focus();
  }
  dlg.querySelectorAll("button[data-resolution]").forEach((b) => {
    b.addEventListener("click", () => {
      dlg.close();
      if (b.dataset.resolution !== "cancel") send(lastSubmit, b.dataset.resolution);
    });
  });

  const confirmDlg = $("confirm-dialog");
  $("confirm-yes").addEventListener("click", () => { confirmDlg.close(); send(false, "none"); });
  $("confirm-no").addEventListener("click", () => confirmDlg.close());

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const which = ev.submitter ? ev.submitter.dataset.submit : "draft";
    if (!chosen.length) { show(formError, "Chọn ít nhất một nội dung để phát"); return; }
    if (which === "emergency") {
      if (typeof confirmDlg.showModal === "function") confirmDlg.showModal(); else confirmDlg.setAttribute("open", "");
      return;
    }
    lastSubmit = which === "submit";
    send(lastSubmit, "none");
  });
})();
