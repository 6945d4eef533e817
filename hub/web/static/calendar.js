// Week calendar and commune pickers: keep the hidden district field in step with the chosen commune, and
// scroll today's column into view on narrow screens.
(() => {
  "use strict";
  for (const [selId, hiddenId] of [["cal-commune", "cal-district"], ["pick-commune", "pick-district"]]) {
    const sel = document.getElementById(selId);
    const hidden = document.getElementById(hiddenId);
    if (!sel || !hidden) continue;
    const sync = () => {
      const opt = sel.options[sel.selectedIndex];
      hidden.value = opt && opt.dataset.district ? opt.dataset.district : "";
    };
    sel.addEventListener("change", sync);
    sync();
  }
  const today = document.querySelector(".week .day.today");
  if (today && window.matchMedia("(max-width: 700px)").matches) today.scrollIntoView({ block: "start" });
})();
