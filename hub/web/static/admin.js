// Admin pages: confirmation before destructive actions (CSP forbids inline handlers, so they live here).
"use strict";
document.addEventListener("submit", (ev) => {
  const form = ev.target;
  if (!(form instanceof HTMLFormElement)) return;
  const question = form.dataset.confirm;
  if (question && !window.confirm(question)) ev.preventDefault();
});
// Filters that apply on change, so a phone user does not hunt for the button.
for (const sel of document.querySelectorAll("form.filters select[data-autosubmit]")) {
  sel.addEventListener("change", () => sel.form && sel.form.requestSubmit());
}
// The one-time token: a copy button next to it.
for (const btn of document.querySelectorAll("button[data-copy]")) {
  btn.addEventListener("click", async () => {
    const target = document.getElementById(btn.dataset.copy);
    if (!target) return;
    try {
      await navigator.clipboard.writeText(target.textContent.trim());
      btn.textContent = "Đã chép";
    } catch {
      window.getSelection().selectAllChildren(target);
    }
  });
}
