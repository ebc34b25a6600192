// The import page: each unfinished job's counts, progress bar and time left, from its status
// (GET /api/v1/imports/{id}?details=false) every POLL_MS; when one finishes, the page reloads to
// show what it did (outcomes, errors).
(function () {
  "use strict";
  const POLL_MS = 1500;
  const STATUS = { pending: "排队中", running: "检查中", done: "完成" };

  function timeLeft(job) {
    if (job.status === "done") return "—";
    if (job.status === "pending") return "等待开始";
    const s = job.eta_seconds;
    if (s === null || s === undefined) return "正在估算";
    if (s < 60) return `约 ${Math.max(1, Math.round(s))} 秒`;
    if (s < 3600) return `约 ${Math.round(s / 60)} 分钟`;
    return `约 ${Math.floor(s / 3600)} 小时 ${Math.round((s % 3600) / 60)} 分`;
  }

  function show(row, job) {
    const field = (name) => row.querySelector(`[data-field="${name}"]`);
    for (const name of ["read", "checked", "failed"]) field(name).textContent = job[name];
    field("total").textContent = job.total === null ? "—" : job.total;
    const bar = field("bar");
    bar.max = Math.max(job.total || 0, job.read, 1);
    bar.value = job.read;
    bar.textContent = job.read;
    field("status").textContent = STATUS[job.status] || job.status;
    field("eta").textContent = timeLeft(job);
    row.dataset.status = job.status;
  }

  async function poll() {
    const rows = Array.from(document.querySelectorAll("tr.job:not([data-status=done])"));
    let finished = false;
    for (const row of rows) {
      try {
        const response = await fetch(`/api/v1/imports/${row.dataset.job}?details=false`,
          { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (!response.ok) continue;
        const job = await response.json();
        show(row, job);
        finished = finished || job.status === "done";
      } catch (error) {
        // the server is restarting: the next poll tries again
      }
    }
    if (finished) window.location.reload();
    else if (rows.length) window.setTimeout(poll, POLL_MS);
  }

  window.setTimeout(poll, 300);
})();
