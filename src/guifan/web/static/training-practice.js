/* 陪练 practice page: the trainee chats with the simulated customer through /api/v1/training.
   Conversation text is only ever set as textContent (never markup). Enter sends, Shift+Enter is a
   new line; when the customer is done the page reloads and shows the report card. */
(function () {
  "use strict";
  var root = document.getElementById("practice");
  if (!root) { return; }
  var api = "/api/v1/training/attempts/" + root.dataset.attempt;
  var csrf = root.dataset.csrf;
  var turns = document.getElementById("turns");
  var hints = document.getElementById("hints");
  var form = document.getElementById("answer-form");
  var box = document.getElementById("answer");
  var notice = document.getElementById("notice");
  var timer = document.getElementById("time-left");
  var busy = false;

  function turn(role, text) {
    var li = document.createElement("li");
    li.className = "turn " + role;
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = role === "agent" ? "客服" : "客户";
    li.appendChild(who);
    li.appendChild(document.createTextNode(text));
    turns.appendChild(li);
  }

  function showHints(list) {
    if (!hints) { return; }
    hints.textContent = "";
    list.forEach(function (hint) {
      var li = document.createElement("li");
      li.className = "hint";
      var clause = document.createElement("b");
      clause.textContent = hint.clauses.join(" ") + " ";
      li.appendChild(clause);
      li.appendChild(document.createTextNode(hint.message));
      if (hint.wording && hint.wording.length) {
        var wording = document.createElement("div");
        wording.className = "wording";
        wording.textContent = "标准用语:" + hint.wording[0];
        li.appendChild(wording);
      }
      hints.appendChild(li);
    });
  }

  function say(message) {
    notice.textContent = message;
    notice.hidden = !message;
  }

  function call(method, url, body) {
    return fetch(url, {method: method, credentials: "same-origin",
                       headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
                       body: body === undefined ? undefined : JSON.stringify(body)})
      .then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok) {
            var detail = typeof data.detail === "string" ? data.detail : (data.detail || [{}])[0].msg;
            throw new Error(detail || "请求失败");
          }
          return data;
        });
      });
  }

  function done() { window.location.reload(); }

  function send() {
    var text = box.value;
    if (busy || !text.trim()) { say(text ? "回答为空 (要让时间流逝请写 [等待 秒数])" : ""); return; }
    busy = true;
    call("POST", api + "/answers", {text: text}).then(function (data) {
      say("");
      box.value = "";
      turns.textContent = "";
      data.attempt.transcript.forEach(function (t) { turn(t.role, t.text); });
      showHints(data.hints);
      if (data.finished) { done(); }
    }).catch(function (error) {
      say(error.message);
      if (/已结束|时间已到/.test(error.message)) { window.setTimeout(done, 1500); }
    }).then(function () { busy = false; box.focus(); });
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); send(); });
  box.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); send(); }
  });

  if (timer) {
    var left = Number(timer.dataset.seconds);
    var tick = function () {
      var shown = Math.max(0, Math.round(left));
      timer.textContent = Math.floor(shown / 60) + " 分 " + (shown % 60) + " 秒";
      timer.parentNode.classList.toggle("urgent", shown < 60);
      if (shown <= 0) { done(); return; }
      left -= 1;
      window.setTimeout(tick, 1000);
    };
    tick();
  }

  call("GET", api).then(function (data) {
    data.transcript.forEach(function (t) { turn(t.role, t.text); });
    showHints(data.hints);
    if (data.status !== "in_progress") { done(); }
  }).catch(function (error) { say(error.message); });
  box.focus();
})();
