// Review by keyboard on the conversation page: j / k go to the next / previous finding (in page
// order), c confirms and x rejects the current one. Keys typed in a form field are left alone.
(function () {
  "use strict";
  const findings = () => Array.from(document.querySelectorAll("article.finding"));
  let current = -1;

  function go(step) {
    const all = findings();
    if (!all.length) return;
    const focused = all.indexOf(document.activeElement);
    if (focused >= 0) current = focused;
    current = Math.min(Math.max(current + step, 0), all.length - 1);
    all.forEach((f, i) => f.classList.toggle("current", i === current));
    all[current].focus();
    all[current].scrollIntoView({ block: "center" });
  }

  function press(which) {
    const all = findings();
    const focused = all.indexOf(document.activeElement);
    const finding = all[focused >= 0 ? focused : current];
    const button = finding && finding.querySelector(`button[data-key="${which}"]`);
    if (button) {
      sessionStorage.setItem("guifan-review-finding", finding.id);
      button.click();
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.target.closest("input, textarea, select")) return;
    const action = { j: () => go(1), k: () => go(-1), c: () => press("confirm"), x: () => press("reject") }[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  });

  // After a verdict the page reloads: carry on from the finding just judged.
  document.addEventListener("DOMContentLoaded", () => {
    const last = sessionStorage.getItem("guifan-review-finding");
    sessionStorage.removeItem("guifan-review-finding");
    const index = findings().findIndex((f) => f.id === last);
    if (index >= 0) {
      current = index;
      go(0);
    }
  });
})();
