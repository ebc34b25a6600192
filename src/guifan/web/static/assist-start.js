/* /assist: lists the open sessions the user may see and starts a new one through the API
 * (assist-client.js), then opens its page. */
(function () {
  "use strict";
  var GA = window.GuifanAssist;
  var table = document.getElementById("my-sessions");
  if (!GA || !table) return;
  var client = new GA.Client({csrfToken: table.dataset.csrf});
  var UI = window.GuifanAssistUI;
  function el(tag, text) { return UI.el(tag, null, text); }

  var rows = document.getElementById("my-sessions-rows");
  client.listSessions({status: "open"}).then(function (sessions) {
    sessions.forEach(function (s) {
      var row = el("tr");
      var link = el("a", s.session_id);
      link.href = "/assist/" + encodeURIComponent(s.session_id);
      var first = el("td");
      first.appendChild(link);
      row.appendChild(first);
      row.appendChild(el("td", s.channel === "phone" ? "电话" : "在线"));
      row.appendChild(el("td", (s.agent_name ? s.agent_name + " " : "") + (s.agent_id || "—")));
      row.appendChild(el("td", UI.time(s.started_at, true)));
      row.appendChild(el("td", s.turns));
      row.appendChild(el("td", (s.alerts || []).length));
      rows.appendChild(row);
    });
    document.getElementById("my-sessions-empty").hidden = sessions.length > 0;
  }, function (error) {
    var empty = document.getElementById("my-sessions-empty");
    empty.textContent = "无法读取会话:" + error.message;
    empty.hidden = false;
  });

  var form = document.getElementById("start-form");
  if (!form) return;
  var failure = document.getElementById("start-error");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var agent = form.elements.agent_id ? form.elements.agent_id.value.trim() : "";
    failure.hidden = true;
    client.createSession({channel: form.elements.channel.value, agentId: agent || undefined}).then(function (session) {
      window.location.assign("/assist/" + encodeURIComponent(session.id));
    }, function (error) {
      failure.textContent = error.message;
      failure.hidden = false;
    });
  });
})();
