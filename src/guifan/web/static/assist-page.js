/* The agent's live assist page (/assist/{session}): the conversation, the draft box with its inline
 * warnings and one-click replacements, and the hint list; read-only (no draft, no dismissing) for a
 * team lead or supervisor looking on. It talks to the API through assist-client.js. Everything the
 * server sends is put in the page as text (textContent), never as markup.
 *
 * Keyboard (also printed on the page):
 *   draft box: Enter sends (Shift+Enter: new line; while an input method is composing, Enter is the
 *     input method's); with warnings, the first Enter says so and a second Enter sends anyway
 *   anywhere: Alt+R takes the first warning's replacement; Alt+H goes to the hint list
 *   hint list: ↑/↓ move between hints; Enter puts the hint's first standard wording in the draft;
 *     Delete (or Alt+X) dismisses it; Esc goes back to the draft
 * Embedded in an agent desktop (an iframe from an origin that `guifan serve --frame-ancestors`
 * allows), a sent message is also posted to the parent window, to those origins only:
 *   {type: "guifan-assist:send", session_id, text}
 */
(function () {
  "use strict";

  var root = document.getElementById("assist");
  if (!root || !window.GuifanAssist) return;
  var GA = window.GuifanAssist, UI = window.GuifanAssistUI, el = UI.el;
  var sessionId = root.dataset.session;
  var readOnly = root.dataset.readonly === "true";
  var parents = (root.dataset.parents || "").split(" ").filter(Boolean);
  var clauses = UI.readJson("assist-clauses") || {};
  var session = new GA.Client({csrfToken: root.dataset.csrf}).session(sessionId);

  function $(id) { return document.getElementById(id); }
  var turnsEl = $("turns"), hintsEl = $("hints"), hintCount = $("hint-count"), noHints = $("no-hints");
  var announceEl = $("announce"), noticeEl = $("notice"), linkStatus = $("link-status");
  var draftEl = $("draft"), previewEl = $("draft-preview"), warningsEl = $("warnings"), draftStatus = $("draft-status");

  var KIND = {next_step: "下一步", warning: "警示", timer: "计时", reminder: "清单"};
  var ROLE = {agent: "客服", customer: "客户", system: "系统"};
  var LINK = {connecting: "连接中…", open: "实时连接", reconnecting: "连接中断,正在重连…", closed: "未连接"};

  var state = {
    turns: [],          // [{role, text}] as shown
    checked: null,      // the draft text the findings below are about
    findings: [],
    satisfies: [],      // hint ids the checked draft would clear
    checking: null,     // the check in flight (a promise of its findings)
    sequence: 0,        // checks sent: an answer older than the latest is dropped
    confirmSend: null,  // the draft the agent was warned about: a second Enter sends it anyway
    debounce: null,
    ended: false,
  };

  // -- helpers ----------------------------------------------------------------------------------

  function announce(text) { UI.announce(announceEl, text); }

  function notice(text) {
    noticeEl.textContent = text || "";
    noticeEl.hidden = !text;
  }

  function clauseLabel(code, fallback) {
    return code + " " + (clauses[code] || fallback || "");
  }

  function byId(list, id) {
    var items = list.querySelectorAll("[data-id]");
    for (var i = 0; i < items.length; i++) if (items[i].dataset.id === id) return items[i];
    return null;
  }

  // -- the conversation -------------------------------------------------------------------------

  function setTurns(turns) {
    state.turns = turns.map(function (t) { return {role: t.role, text: t.text}; });
    renderTurns();
  }

  function addTurn(role, text) {
    state.turns.push({role: role, text: text});
    renderTurns();
  }

  /** Draw the turns; when the ones shown are still the first ones, only the new ones are added
   * (the list is a live region: a screen reader announces what is added, not everything again). */
  function renderTurns() {
    var shown = turnsEl.children;
    var keep = shown.length <= state.turns.length;
    for (var i = 0; keep && i < shown.length; i++) {
      keep = shown[i].dataset.role === state.turns[i].role && shown[i].dataset.text === state.turns[i].text;
    }
    if (!keep) turnsEl.textContent = "";
    for (var n = turnsEl.children.length; n < state.turns.length; n++) {
      var turn = state.turns[n];
      var item = el("li", "turn " + turn.role);
      item.id = "turn-" + n;
      item.dataset.role = turn.role;
      item.dataset.text = turn.text;
      item.appendChild(el("span", "who", ROLE[turn.role] || turn.role));
      item.appendChild(el("span", "text", turn.text));
      turnsEl.appendChild(item);
    }
    $("no-turns").hidden = state.turns.length > 0;
    turnsEl.scrollTop = turnsEl.scrollHeight;
  }

  function describeTurn(index) {
    if (typeof index !== "number") return "";
    var turn = state.turns[index];
    return turn ? (ROLE[turn.role] || turn.role) + "说「" + turn.text + "」" : "第 " + (index + 1) + " 句";
  }

  // -- the draft --------------------------------------------------------------------------------

  function scheduleCheck() {
    clearTimeout(state.debounce);
    state.confirmSend = null;
    state.debounce = setTimeout(check, 250);
  }

  /** Check the draft as it is now (unless that text was just checked); resolves to its findings. */
  function check() {
    clearTimeout(state.debounce);
    var text = draftEl.value;
    if (state.checking && state.checking.text === text) return state.checking;
    if (state.checked === text) return Promise.resolve(state.findings);
    var number = ++state.sequence;
    if (!text.trim()) {
      showFindings(text, [], []);
      return Promise.resolve([]);
    }
    var pending = session.draft(text).then(function (answer) {
      if (number === state.sequence) showFindings(text, answer.findings || [], answer.satisfies || []);
      return answer.findings || [];
    }, function (error) {
      if (number === state.sequence) notice("检查草稿失败:" + error.message);
      return [];
    });
    pending.text = text;
    state.checking = pending;
    pending.then(function () { if (state.checking === pending) state.checking = null; });
    return pending;
  }

  function showFindings(text, findings, satisfies) {
    state.checked = text;
    state.findings = findings;
    state.satisfies = satisfies;
    renderPreview(text, findings);
    warningsEl.textContent = "";
    var first = true;
    findings.forEach(function (finding) {
      warningsEl.appendChild(warningItem(finding, first && !!finding.replacement));
      if (finding.replacement) first = false;
    });
    draftEl.setAttribute("aria-invalid", findings.length ? "true" : "false");
    var said = "";
    if (findings.length) {
      said = "草稿有 " + findings.length + " 处不合规范:" + findings.map(function (f) { return "「" + f.quote + "」"; }).join("、");
    } else if (text.trim()) {
      said = "草稿符合规范";
    }
    if (draftStatus.textContent !== said) draftStatus.textContent = said;
    markSatisfied();
  }

  function warningItem(finding, shortcut) {
    var item = el("li", "warning");
    item.dataset.rule = finding.rule;
    var head = el("p", "warning-head");
    (finding.clauses || []).forEach(function (c) { head.appendChild(el("b", "clause", clauseLabel(c))); });
    head.appendChild(el("span", "rule", finding.rule));
    item.appendChild(head);
    var what = el("p", "message");
    if (finding.quote) {
      what.appendChild(el("q", null, finding.quote));
      what.appendChild(document.createTextNode(" "));
    }
    what.appendChild(document.createTextNode(finding.message || ""));
    item.appendChild(what);
    if (finding.suggestion) item.appendChild(el("p", "suggestion", "标准用语:" + finding.suggestion));
    if (finding.replacement) {
      var take = el("button", "take", shortcut ? "采用标准用语 (Alt+R)" : "采用标准用语");
      take.type = "button";
      take.setAttribute("aria-label", "采用标准用语,替换「" + finding.quote + "」");
      take.addEventListener("click", function () { takeReplacement(finding); });
      item.appendChild(take);
    } else {
      item.appendChild(el("p", "no-replacement", "没有可直接替换的标准用语,请改写这句话。"));
    }
    return item;
  }

  /** The draft under the box with the findings' words marked (text nodes and <mark>). */
  function renderPreview(text, findings) {
    previewEl.textContent = "";
    var spans = findings.map(function (f) { return f.span; }).filter(function (span) {
      return Array.isArray(span) && span[0] >= 0 && span[0] < span[1] && span[1] <= text.length;
    }).sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });
    previewEl.hidden = !spans.length;
    var at = 0;
    spans.forEach(function (span) {
      if (span[1] <= at) return;
      var start = Math.max(span[0], at);
      if (start > at) previewEl.appendChild(document.createTextNode(text.slice(at, start)));
      previewEl.appendChild(el("mark", null, text.slice(start, span[1])));
      at = span[1];
    });
    if (at < text.length) previewEl.appendChild(document.createTextNode(text.slice(at)));
  }

  function takeReplacement(finding) {
    if (!finding || !finding.replacement || draftEl.value !== state.checked) return;
    draftEl.value = GA.applyReplacement(draftEl.value, finding);
    draftEl.focus();
    draftEl.setSelectionRange(draftEl.value.length, draftEl.value.length);
    state.confirmSend = null;
    announce("已采用标准用语");
    check();
  }

  function takeFirstReplacement() {
    check().then(function (findings) {
      var first = findings.filter(function (f) { return f.replacement; })[0];
      if (first) takeReplacement(first);
      else announce(findings.length ? "这些提醒没有可直接替换的标准用语" : "草稿没有需要替换的用语");
    });
  }

  function send() {
    if (state.ended || readOnly) return;
    var text = draftEl.value;
    if (!text.trim()) return;
    check().then(function (findings) {
      if (draftEl.value !== text) return;  // changed while it was checked: the next Enter decides
      if (findings.length && state.confirmSend !== text) {
        state.confirmSend = text;
        notice("草稿有 " + findings.length + " 处不合规范。按 Alt+R 采用标准用语,或再按一次 Enter 仍然发送。");
        return;
      }
      notice("");
      draftEl.value = "";
      state.confirmSend = null;
      showFindings("", [], []);
      addTurn("agent", text);
      tellParent(text);
      session.turn({role: "agent", text: text}).catch(function (error) { notice("发送失败:" + error.message); });
    });
  }

  function tellParent(text) {
    if (window.parent === window) return;
    parents.forEach(function (origin) {
      window.parent.postMessage({type: "guifan-assist:send", session_id: sessionId, text: text}, origin);
    });
  }

  // -- hints ------------------------------------------------------------------------------------

  function wordings(hint) {
    if (Array.isArray(hint.wording)) return hint.wording.filter(Boolean);
    return hint.wording ? [hint.wording] : [];
  }

  function renderHints(hints) {
    var active = document.activeElement;
    var focusedHint = active && active.closest ? active.closest(".hint") : null;
    var focusedId = focusedHint ? focusedHint.dataset.id : null;
    var focusedIndex = focusedHint ? Array.prototype.indexOf.call(hintsEl.children, focusedHint) : -1;
    hintsEl.textContent = "";
    hints.forEach(function (hint) { hintsEl.appendChild(hintItem(hint)); });
    hintCount.textContent = hints.length ? "(" + hints.length + ")" : "";
    noHints.hidden = hints.length > 0;
    markSatisfied();
    if (focusedId !== null) {
      // Keep the keyboard where it was: the same hint, else the one now in its place, else the draft.
      var again = byId(hintsEl, focusedId) || hintsEl.children[Math.min(focusedIndex, hintsEl.children.length - 1)];
      if (again) again.focus(); else if (draftEl) draftEl.focus();
    }
  }

  function hintItem(hint) {
    var item = el("li", "hint kind-" + (hint.kind || "next_step"));
    item.tabIndex = 0;
    item.dataset.id = hint.id;
    item.dataset.rule = hint.rule || "";
    var head = el("p", "hint-head");
    head.appendChild(el("span", "kind", KIND[hint.kind] || "提示"));
    (hint.clauses || []).forEach(function (c) { head.appendChild(el("b", "clause", clauseLabel(c, hint.title))); });
    if (hint.rule) head.appendChild(el("span", "rule", hint.rule));
    item.appendChild(head);
    item.appendChild(el("p", "message", hint.message));
    var lines = wordings(hint);
    if (lines.length) {
      item.appendChild(el("p", "wording-label", readOnly ? "标准用语:" : "标准用语 (点击放入草稿):"));
      var list = el("ul", "wording");
      lines.forEach(function (line) {
        var entry = el("li");
        if (readOnly) {
          entry.textContent = line;
        } else {
          var use = el("button", "use", line);
          use.type = "button";
          use.setAttribute("aria-label", "放入草稿:" + line);
          use.addEventListener("click", function () { useWording(line); });
          entry.appendChild(use);
        }
        list.appendChild(entry);
      });
      item.appendChild(list);
    }
    var trigger = describeTurn(hint.turn);
    if (trigger) item.appendChild(el("p", "trigger", "起因:" + trigger));
    if (hint.expires && hint.expires.when) item.appendChild(el("p", "expires", "何时消失:" + hint.expires.when));
    item.appendChild(el("p", "satisfied-note", "草稿发出后这条提示即满足"));
    if (!readOnly) {
      var dismiss = el("button", "dismiss", "忽略 (Delete)");
      dismiss.type = "button";
      dismiss.setAttribute("aria-label", "忽略提示:" + hint.message);
      dismiss.addEventListener("click", function () { dismissHint(hint.id); });
      var actions = el("p", "actions");
      actions.appendChild(dismiss);
      item.appendChild(actions);
    }
    item.setAttribute("aria-label", (KIND[hint.kind] || "提示") + ":" + hint.message);
    return item;
  }

  function markSatisfied() {
    Array.prototype.forEach.call(hintsEl.children, function (item) {
      var satisfied = !!draftEl && state.checked === draftEl.value && state.satisfies.indexOf(item.dataset.id) >= 0;
      item.classList.toggle("satisfied", satisfied);
    });
  }

  function useWording(line) {
    if (!draftEl || state.ended) return;
    draftEl.value += line;
    draftEl.focus();
    draftEl.setSelectionRange(draftEl.value.length, draftEl.value.length);
    scheduleCheck();
  }

  function dismissHint(id) {
    if (readOnly || state.ended) return;
    var item = byId(hintsEl, id);
    var wasFocused = item && item.contains(document.activeElement);
    var next = item && (item.nextElementSibling || item.previousElementSibling);
    var nextId = next ? next.dataset.id : null;
    session.dismiss(id).catch(function (error) { notice("忽略失败:" + error.message); });  // renders at once
    announce("已忽略提示");
    if (wasFocused) {
      var target = nextId !== null ? byId(hintsEl, nextId) : null;
      if (target) target.focus(); else draftEl.focus();
    }
  }

  session.on("hints", renderHints);
  session.on("hint", function (hint) {
    var first = wordings(hint)[0];
    announce("新提示:" + hint.message + (first ? "。标准用语:" + first : ""));
  });
  session.on("status", function (status) {
    linkStatus.textContent = LINK[status] || status;
    linkStatus.dataset.status = status;
  });
  session.on("error", function (error) { notice(error.message); });
  session.on("state", function (body) {
    if (Array.isArray(body.turns)) setTurns(body.turns);
    var info = ["会话 " + sessionId, body.channel === "phone" ? "电话" : "在线"];
    if (body.agent_id) info.push("坐席 " + (body.agent_name ? body.agent_name + " " : "") + body.agent_id);
    if (body.resumed) info.push("已恢复");
    $("session-info").textContent = info.join(" · ");
  });
  // Another client (the chat platform, the phone's recognizer) posted a turn: fetch the conversation.
  session.on("turn", function () { session.state().catch(function (error) { notice(error.message); }); });
  session.on("ended", function (info) {
    state.ended = true;
    root.classList.add("ended");
    ["draft", "send", "end", "customer-text", "customer-send"].forEach(function (id) {
      var node = $(id);
      if (node) node.disabled = true;
    });
    var reason = info && info.reason === "idle" ? "会话长时间没有消息,已自动结束" : "会话已结束";
    notice(reason + (info && info.conversation_id ? ",结果已存入质检工作台。" : "。"));
    var link = $("result-link");
    if (link && info && info.conversation_id) {
      link.href = "/conversations/" + encodeURIComponent(info.conversation_id);
      link.hidden = false;
    }
  });

  // -- keyboard ---------------------------------------------------------------------------------

  document.addEventListener("keydown", function (event) {
    if (!event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.code === "KeyR" && draftEl && !state.ended) {
      event.preventDefault();
      takeFirstReplacement();
    } else if (event.code === "KeyH") {
      event.preventDefault();
      var first = hintsEl.querySelector(".hint");
      if (first) first.focus(); else announce("暂无提示");
    } else if (event.code === "KeyX") {
      var current = document.activeElement && document.activeElement.closest && document.activeElement.closest(".hint");
      if (current) { event.preventDefault(); dismissHint(current.dataset.id); }
    }
  });

  hintsEl.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var item = event.target.closest(".hint");
    if (!item) return;
    if (event.key === "Escape") {
      event.preventDefault();
      if (draftEl) draftEl.focus();
      return;
    }
    if (event.target !== item) return;  // keys on the hint's buttons are the buttons'
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      var to = event.key === "ArrowDown" ? item.nextElementSibling : item.previousElementSibling;
      if (to) to.focus();
    } else if (event.key === "Delete" || event.key === "Backspace") {
      event.preventDefault();
      dismissHint(item.dataset.id);
    } else if (event.key === "Enter") {
      var hint = session.hints.get(item.dataset.id);
      var line = hint ? wordings(hint)[0] : null;
      if (line && !readOnly) { event.preventDefault(); useWording(line); }
    }
  });

  if (!readOnly) {
    draftEl.addEventListener("input", scheduleCheck);
    draftEl.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) return;
      if (event.isComposing || event.keyCode === 229) return;  // the input method is choosing characters
      event.preventDefault();
      send();
    });
    $("draft-form").addEventListener("submit", function (event) { event.preventDefault(); send(); });

    // The customer's words, typed or pasted by the agent when the chat platform is not connected.
    $("customer-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var input = $("customer-text");
      var text = input.value;
      if (!text.trim() || state.ended) return;
      input.value = "";
      addTurn("customer", text);
      session.turn({role: "customer", text: text}).then(function () {
        if (draftEl.value.trim()) { state.checked = null; check(); }  // the draft's context changed
      }, function (error) { notice("记录失败:" + error.message); });
    });

    $("end").addEventListener("click", function () {
      if (state.ended) return;
      session.end().catch(function (error) { notice("结束失败:" + error.message); });
    });
  }

  // -- start ------------------------------------------------------------------------------------

  session.state().then(function (body) {
    if (body.status === "ended") return;
    session.connect();
    if (draftEl) draftEl.focus();
  }, function (error) {
    notice(error.message);
  });
})();
