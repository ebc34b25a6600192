/* The live board (/assist/board): the sessions in progress that the signed-in user may see (the
 * server decides: agents their own, team leads their team's, supervisors all), each with its alerts
 * (abusive customer, regulator or media threat, a forbidden phrase sent, a hold past 60 s), newest
 * first, kept current over the WebSocket (polling while it is down; assist-client.js). Everything
 * is drawn as text. New alerts are announced through an aria-live region. */
(function () {
  "use strict";

  var table = document.getElementById("board");
  if (!table || !window.GuifanAssist) return;
  var UI = window.GuifanAssistUI, el = UI.el, time = UI.time;
  var rows = document.getElementById("board-rows");
  var empty = document.getElementById("board-empty");
  var status = document.getElementById("board-status");
  var announcer = document.getElementById("board-alerts");
  var teams = UI.readJson("board-teams") || {};

  var ALERTS = {abuse: "客户辱骂", threat: "扬言投诉媒体/监管", forbidden_sent: "发出服务忌语", long_hold: "保持超过 60 秒"};
  var LINK = {connecting: "连接中…", open: "实时更新中", reconnecting: "连接中断,每 3 秒刷新一次", closed: "未连接,每 3 秒刷新一次"};

  function alertLabel(alert) {
    if (alert.kind === "forbidden_sent" && alert.sent_after_warning) return ALERTS.forbidden_sent + "(已提醒仍发送)";
    return ALERTS[alert.kind] || alert.kind;
  }

  function newestAlert(s) {
    return (s.alerts || []).reduce(function (latest, a) { return String(a.at || "") > latest ? String(a.at || "") : latest; }, "");
  }

  /** Sessions with alerts first, by their newest alert; then the rest by their latest activity. */
  function ordered(sessions) {
    return sessions.slice().sort(function (a, b) {
      var alertA = newestAlert(a), alertB = newestAlert(b);
      if (alertA !== alertB) return alertB.localeCompare(alertA);
      return String(b.updated_at || b.started_at || "").localeCompare(String(a.updated_at || a.started_at || ""));
    });
  }

  function cell(row, content, className) {
    var td = el("td", className);
    if (content && content.nodeType) td.appendChild(content);
    else td.textContent = content === null || content === undefined ? "" : String(content);
    row.appendChild(td);
  }

  function render(sessions) {
    rows.textContent = "";
    ordered(sessions).forEach(function (s) {
      var alerts = (s.alerts || []).slice().sort(function (a, b) { return String(b.at || "").localeCompare(String(a.at || "")); });
      var row = el("tr", "session" + (alerts.length ? " alerting" : ""));
      row.dataset.id = s.session_id;
      var link = el("a", null, s.session_id);
      link.href = "/assist/" + encodeURIComponent(s.session_id) + "?watch=1";  // looking on, read-only
      cell(row, link);
      var who = el("span", null, (s.agent_name ? s.agent_name + " " : "") + (s.agent_id || "—"));
      cell(row, who);
      cell(row, teams[s.team_id] || "", "team");
      cell(row, s.channel === "phone" ? "电话" : "在线");
      cell(row, time(s.started_at));
      cell(row, s.turns);
      var list = el("ul", "alerts");
      alerts.forEach(function (a) {
        var item = el("li", "alert alert-" + a.kind);
        item.dataset.kind = a.kind;
        item.appendChild(el("b", null, alertLabel(a)));
        item.appendChild(document.createTextNode(" " + (a.message || "") + " "));
        if (a.clauses && a.clauses.length) item.appendChild(el("span", "clause", a.clauses.join(" ")));
        item.appendChild(el("span", "status", time(a.at)));
        list.appendChild(item);
      });
      cell(row, list);
      rows.appendChild(row);
    });
    empty.hidden = sessions.length > 0;
  }

  var board = new window.GuifanAssist.Client({csrfToken: table.dataset.csrf}).watchBoard({pollSeconds: 3});
  board.on("sessions", function (sessions) {
    render(sessions);
    status.textContent = (LINK[board.status] || "") + " · 进行中 " + sessions.length + " 个 · " + time(new Date().toISOString());
  });
  board.on("alert", function (event) {
    UI.announce(announcer, "新告警:" + alertLabel(event.alert) + ",坐席 " +
      (event.session.agent_name || event.session.agent_id || "—") + "。" + (event.alert.message || ""));
  });
  board.on("status", function (link) { status.textContent = LINK[link] || link; });
  board.on("error", function (error) {
    status.textContent = error.status === 401 ? "登录已过期,请刷新页面重新登录" : "更新失败:" + error.message;
  });
})();
