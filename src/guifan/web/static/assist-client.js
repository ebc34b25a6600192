/**
 * Guifan live assist client (规范 实时辅助客户端), version 1.
 *
 * One file, no build step, no dependency, no CDN. In a page: <script src="https://QA-HOST/static/assist-client.js">
 * defines `window.GuifanAssist`; in Node 22+ (global fetch and WebSocket): `require("./assist-client.js")`.
 * It calls the live assist API of `guifan serve` described in docs/assist.md: sessions, turns and
 * streaming partials, FunASR messages, the draft check, dismissing hints, ending a session, the
 * session list, and one WebSocket per client that pushes hints (timers included) and the live
 * board, reconnecting by itself.
 *
 *   const client = new GuifanAssist.Client({baseUrl: "https://qa.example.com", token: "gf_…"});
 *   const session = await client.createSession({channel: "chat", agentId: "1024"});
 *   session.on("hints", (hints) => render(hints));   // every hint due now, after every change
 *   session.connect();                                // pushed timer hints; reconnects by itself
 *   await session.turn({role: "customer", text: "我要投诉"});
 *   const check = await session.draft("你等着");          // {ok, findings: [{…, replacement}]}
 *   await session.turn({role: "agent", text: check.findings[0].replacement || "…"});
 *   await session.dismiss(session.list()[0].id);
 *   const ended = await session.end();                 // {conversation_id, result}
 *
 * Authentication: an API token (`token`: `Authorization: Bearer` on HTTP; on the WebSocket, where
 * browsers cannot set headers, the first message `{"type": "auth", "token"}`), or inside a
 * signed-in page of the workspace the session cookie plus the page's CSRF token (`csrfToken`).
 * Transport: calls go over HTTP by default; `transport: "socket"` sends them as WebSocket messages
 * instead (the same answers), for browser pages on another origin: the API sends no CORS headers,
 * and a WebSocket needs none.
 * Every call rejects with an `AssistError`: `message` is the server's Chinese explanation, `status`
 * the HTTP status (0: no connection; 4401/4403/4404: the WebSocket was refused).
 */
(function (root, factory) {
  "use strict";
  if (typeof module === "object" && module.exports) {
    module.exports = factory();
  } else {
    root.GuifanAssist = factory();
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  var API = "/api/v1/assist";
  var OPEN = 1;  // WebSocket.OPEN

  function globalObject() { return typeof self !== "undefined" ? self : globalThis; }

  /** A failed call: `status` (HTTP status; 0: the network), `message` (Chinese), `body`. */
  class AssistError extends Error {
    constructor(status, message, body) {
      super(message);
      this.name = "AssistError";
      this.status = status;
      this.body = body;
    }
  }

  /** The server's explanation: a string detail, or the first validation message. */
  function describe(body, status) {
    var detail = body && body.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail) && detail.length && detail[0].msg) return detail[0].msg;
    if (status === 0) return "无法连接服务器,请检查网络";
    return "请求失败 (HTTP " + status + ")";
  }

  /** A tiny event emitter: on(name, fn) returns a function that removes the listener. */
  class Emitter {
    constructor() { this._listeners = {}; }
    on(name, fn) {
      (this._listeners[name] = this._listeners[name] || []).push(fn);
      var self = this;
      return function () { self.off(name, fn); };
    }
    off(name, fn) {
      var list = this._listeners[name] || [];
      var at = list.indexOf(fn);
      if (at >= 0) list.splice(at, 1);
    }
    emit(name, value) {
      (this._listeners[name] || []).slice().forEach(function (fn) {
        try { fn(value); } catch (error) { setTimeout(function () { throw error; }); }
      });
    }
  }

  class Client {
    /**
     * options.baseUrl   the server, e.g. "https://qa.example.com" ("" = this page's origin)
     * options.token     an API token (gf_…) for integrations
     * options.csrfToken the page's CSRF token, when signed in with the workspace's cookie
     * options.transport "http" (default) or "socket": every call as a WebSocket message (pages on
     *                   another origin, which cannot read the API's HTTP answers without CORS)
     * options.reconnect {initial: 500, max: 15000}: ms between WebSocket attempts, doubling
     * options.fetch, options.WebSocket: replacements for the globals (tests, older Node)
     */
    constructor(options) {
      options = options || {};
      this.baseUrl = (options.baseUrl || "").replace(/\/+$/, "");
      this.token = options.token || null;
      this.csrfToken = options.csrfToken || null;
      this._fetch = options.fetch || (typeof fetch !== "undefined" ? fetch.bind(globalObject()) : null);
      this.WebSocket = options.WebSocket || (typeof WebSocket !== "undefined" ? WebSocket : null);
      this.reconnect = Object.assign({initial: 500, max: 15000}, options.reconnect || {});
      this.transport = options.transport === "socket" ? "socket" : "http";
      this._connection = null;
    }

    /** A call of the API: over HTTP, or as the WebSocket `message` (transport "socket"). */
    _call(method, path, body, message) {
      if (this.transport === "socket") return this.connection().call(message);
      return this.request(method, path, body);
    }

    /** A JSON call to the API; resolves to the parsed body, rejects with an AssistError. */
    async request(method, path, body) {
      var headers = {"Accept": "application/json"};
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (this.token) headers["Authorization"] = "Bearer " + this.token;
      else if (this.csrfToken && method !== "GET") headers["X-CSRF-Token"] = this.csrfToken;
      var response;
      try {
        response = await this._fetch(this.baseUrl + path, {
          method: method, headers: headers, credentials: this.token ? "omit" : "same-origin",
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (error) {
        throw new AssistError(0, describe(null, 0), null);
      }
      var text = await response.text();
      var parsed = null;
      try { parsed = text ? JSON.parse(text) : null; } catch (error) { parsed = {detail: text}; }
      if (!response.ok) throw new AssistError(response.status, describe(parsed, response.status), parsed);
      return parsed;
    }

    /**
     * Start a session. options: channel ("chat" | "phone", default "chat"), agentId (the agent
     * code; an agent's own by default), metadata, startedAt (ISO time), id (the stored
     * conversation's id), stampTimes (default true). Resolves to a Session.
     */
    async createSession(options) {
      options = options || {};
      var body = {channel: options.channel || "chat"};
      if (options.agentId !== undefined && options.agentId !== null && options.agentId !== "") body.agent_id = String(options.agentId);
      if (options.metadata) body.metadata = options.metadata;
      if (options.startedAt) body.started_at = options.startedAt;
      if (options.id) body.id = options.id;
      if (options.stampTimes !== undefined) body.stamp_times = !!options.stampTimes;
      var created = await this._call("POST", API + "/sessions", body, Object.assign({type: "create"}, body));
      var session = new Session(this, created.session_id);
      session._absorb(created);
      return session;
    }

    /** A session started elsewhere (the desktop, another tab, before a reload): call state() or connect(). */
    session(sessionId) {
      return new Session(this, sessionId);
    }

    /** The sessions the caller may see, newest activity first: status "open" | "ended" | "all". */
    async listSessions(options) {
      options = options || {};
      if (this.transport === "socket") {  // the open ones: the board's list, without staying subscribed
        var connection = this.connection();
        var board = await connection.call({type: "watch"});
        if (!connection.subscribed("watch")) connection.send({type: "unwatch"});
        return board.sessions;
      }
      var query = "?status=" + encodeURIComponent(options.status || "open") + "&limit=" + encodeURIComponent(options.limit || 100);
      return this.request("GET", API + "/sessions" + query);
    }

    /** The live board: a Board that keeps the visible open sessions current (WebSocket, else polling). */
    watchBoard(options) {
      return new Board(this, options || {}).start();
    }

    /** The client's WebSocket (one for all its sessions and the board), opened on first use. */
    connection() {
      if (!this._connection) this._connection = new Connection(this);
      return this._connection;
    }

    /** The WebSocket URL: ws(s):// on the host of baseUrl (or of the page). */
    socketUrl() {
      var base = this.baseUrl || (typeof location !== "undefined" ? location.origin : "");
      return base.replace(/^http/, "ws") + API + "/ws";
    }
  }

  /**
   * The client's WebSocket. Keeps itself open while something is subscribed: after a drop it waits
   * reconnect.initial ms (doubling up to reconnect.max), authenticates again (token), and sends every
   * subscription again (attach per session, watch for the board). Events: "status" ("connecting",
   * "open", "reconnecting", "closed"), "message" (every message received), "refused" (an AssistError:
   * the server closed with 4401/4403 and will not take this client: no retry).
   */
  class Connection extends Emitter {
    constructor(client) {
      super();
      this.client = client;
      this.status = "closed";
      this._socket = null;
      this._subscriptions = new Map();  // key → message sent on every (re)connection
      this._queue = [];
      this._delay = client.reconnect.initial;
      this._timer = null;
      this._refused = false;
      this._pending = new Map();  // request_id → {resolve, reject, sent}
      this._calls = 0;
    }

    /** Send `message` with a new request_id; resolves to the answer, rejects with an AssistError. */
    call(message) {
      var self = this;
      return new Promise(function (resolve, reject) {
        if (self._refused) { reject(new AssistError(4401, "WebSocket 连接被拒绝", null)); return; }
        var id = "c" + (++self._calls);
        self._pending.set(id, {resolve: resolve, reject: reject, sent: false});
        self.send(Object.assign({}, message, {request_id: id}));
      });
    }

    subscribed(key) { return this._subscriptions.has(key); }

    _transmit(socket, message) {
      socket.send(JSON.stringify(message));
      var pending = message.request_id !== undefined && this._pending.get(message.request_id);
      if (pending) pending.sent = true;
    }

    /** Calls already sent fail when the socket drops (their answer is lost); queued ones wait. */
    _failPending(all, error) {
      var self = this;
      this._pending.forEach(function (pending, id) {
        if (all || pending.sent) { self._pending.delete(id); pending.reject(error); }
      });
    }

    /** Keep `message` subscribed under `key` (sent now and after every reconnection). */
    subscribe(key, message) {
      this._subscriptions.set(key, message);
      if (this._socket && this._socket.readyState === OPEN) this._socket.send(JSON.stringify(message));
      else this._ensure();
    }

    /** Stop a subscription (sending `farewell` if open); the socket closes when none is left. */
    unsubscribe(key, farewell) {
      if (!this._subscriptions.delete(key)) return;
      if (farewell && this._socket && this._socket.readyState === OPEN) this._socket.send(JSON.stringify(farewell));
      if (!this._subscriptions.size && !this._pending.size && this.client.transport !== "socket") this.close();
    }

    /** Send a message now, or when the socket (re)opens. */
    send(message) {
      if (this._socket && this._socket.readyState === OPEN) this._transmit(this._socket, message);
      else { this._queue.push(message); this._ensure(); }
    }

    /** Close the socket for good (subscriptions dropped, calls waiting rejected). */
    close() {
      clearTimeout(this._timer);
      this._timer = null;
      this._subscriptions.clear();
      this._queue = [];
      this._failPending(true, new AssistError(0, "连接已关闭", null));
      var socket = this._socket;
      this._socket = null;
      if (socket) socket.close(1000);
      this._setStatus("closed");
    }

    _setStatus(status) {
      if (this.status === status) return;
      this.status = status;
      this.emit("status", status);
    }

    _ensure() {
      if (this._socket || this._timer || this._refused) return;
      this._open();
    }

    _open() {
      this._timer = null;
      var Socket = this.client.WebSocket;
      if (!Socket) {
        this._refused = true;
        this.emit("refused", new AssistError(0, "此环境不支持 WebSocket", null));
        return;
      }
      this._setStatus(this.status === "closed" ? "connecting" : "reconnecting");
      var socket;
      try { socket = new Socket(this.client.socketUrl()); } catch (error) { this._retry(); return; }
      this._socket = socket;
      var self = this;
      socket.onopen = function () {
        self._delay = self.client.reconnect.initial;
        if (self.client.token) socket.send(JSON.stringify({type: "auth", token: self.client.token}));
        self._subscriptions.forEach(function (message) { socket.send(JSON.stringify(message)); });
        self._queue.splice(0).forEach(function (message) { self._transmit(socket, message); });
        self._setStatus("open");
      };
      socket.onmessage = function (event) {
        var message;
        try { message = JSON.parse(event.data); } catch (error) { return; }
        var pending = message.request_id !== undefined && message.request_id !== null && self._pending.get(message.request_id);
        if (pending) {  // the answer to a call: to its caller only
          self._pending.delete(message.request_id);
          if (message.type === "error") pending.reject(new AssistError(message.status || 400, describe(message, message.status || 400), message));
          else pending.resolve(message);
          return;
        }
        self.emit("message", message);
      };
      socket.onclose = function (event) {
        if (self._socket !== socket) return;
        self._socket = null;
        if (event.code === 4401 || event.code === 4403) {
          self._refused = true;
          self._setStatus("closed");
          var refusal = new AssistError(event.code, event.reason || (event.code === 4401 ? "请先登录或提供有效的 API 令牌" : "没有权限"), null);
          self._failPending(true, refusal);
          self.emit("refused", refusal);
          return;
        }
        self._failPending(false, new AssistError(0, "连接中断,请重试", null));
        if (!self._subscriptions.size && !self._queue.length && !self._pending.size) { self._setStatus("closed"); return; }
        self._retry();
      };
      socket.onerror = function () { /* onclose follows */ };
    }

    _retry() {
      this._socket = null;
      this._setStatus("reconnecting");
      var self = this;
      clearTimeout(this._timer);
      this._timer = setTimeout(function () { self._open(); }, this._delay);
      this._delay = Math.min(this._delay * 2, this.client.reconnect.max);
    }
  }

  /**
   * One live session. `hints` holds every hint due now (a Map by id, in the server's order).
   * Events: "hints" (the list, after every change), "hint" (each newly due hint, timers included),
   * "cleared" (ids no longer due), "state" (the full state after state() or a (re)attach),
   * "turn" (a turn another client posted, seen over the WebSocket), "status" (the WebSocket's),
   * "ended" ({conversation_id, result?, reason}), "error" (an AssistError from the WebSocket).
   */
  class Session extends Emitter {
    constructor(client, sessionId) {
      super();
      this.client = client;
      this.id = sessionId;
      this.hints = new Map();
      this.dismissed = new Set();
      this.turns = 0;          // final turns the server holds
      this.ended = false;
      this.conversationId = null;
      this._unlisten = [];
    }

    _path(suffix) { return API + "/sessions/" + encodeURIComponent(this.id) + suffix; }

    /** The session as the server holds it: summary, turns, hints, dismissed, result (see docs). */
    async state() {
      var body = await this.client._call("GET", this._path(""), undefined, {type: "attach", session_id: this.id});
      this.emit("state", body);  // before "hints", so that a page has the turns the hints refer to
      this._absorb(body);
      return body;
    }

    /**
     * Post a turn: {role: "agent" | "customer" | "system", text, start?, end?, final? (default true)}.
     * A non-final turn (a streaming ASR partial) is replaced by the speaker's next partial or final
     * turn. Resolves to {turn, final, hints, cleared}; the "hints" event fires too.
     */
    async turn(turn) {
      var body = {role: turn.role, text: turn.text};
      if (turn.final === false) body.final = false;
      if (turn.start !== undefined && turn.start !== null) body.start = turn.start;
      if (turn.end !== undefined && turn.end !== null) body.end = turn.end;
      var answer = await this.client._call("POST", this._path("/turns"), body,
                                           Object.assign({type: "turn", session_id: this.id}, body));
      this._absorb(answer);
      return answer;
    }

    /** A streaming partial: turn({role, text, final: false, …times}). */
    partial(role, text, times) {
      return this.turn(Object.assign({}, times || {}, {role: role, text: text, final: false}));
    }

    /** A FunASR WebSocket server message (2pass, online or offline mode) as received, for `role`'s channel. */
    async funasr(role, message) {
      var body = {role: role, message: message};
      var answer = await this.client._call("POST", this._path("/funasr"), body,
                                           Object.assign({type: "funasr", session_id: this.id}, body));
      this._absorb(answer);
      return answer;
    }

    /**
     * Check a draft before sending: resolves to {ok, text, findings, satisfies}. Each finding has
     * rule, clauses, severity, span [start, end) in the draft, quote, message, suggestion and
     * `replacement` (the whole draft with the words replaced) or null. See applyReplacement().
     */
    draft(text) {
      return this.client._call("POST", this._path("/draft"), {text: text}, {type: "draft", session_id: this.id, text: text});
    }

    /** Dismiss a hint: it goes at once and never comes back in this session (recorded). */
    async dismiss(hintId) {
      this.dismissed.add(hintId);
      if (this.hints.delete(hintId)) this.emit("hints", this.list());
      var answer = await this.client._call("POST", this._path("/hints/" + encodeURIComponent(hintId) + "/dismiss"), undefined,
                                           {type: "dismiss", session_id: this.id, hint_id: hintId});
      this._absorb(answer);
      return answer;
    }

    /** End the session: resolves to {session_id, status, conversation_id, result} (stored for QA). */
    async end() {
      var answer = await this.client._call("POST", this._path("/end"), undefined, {type: "end", session_id: this.id});
      this._finish({reason: "ended", conversation_id: answer.conversation_id, result: answer.result});
      return answer;
    }

    /** The hints due now, as an array. */
    list() { return Array.from(this.hints.values()); }

    /**
     * Attach to the session over the client's WebSocket: timer hints are pushed, the state is sent
     * again after every reconnection ("state" event), turns other clients post are seen ("turn").
     */
    connect() {
      if (this.ended || this._unlisten.length) return this;
      var connection = this.client.connection();
      var self = this;
      this._unlisten.push(connection.on("message", function (message) { self._receive(message); }));
      this._unlisten.push(connection.on("status", function (status) { self.emit("status", status); }));
      this._unlisten.push(connection.on("refused", function (error) { self.emit("error", error); }));
      connection.subscribe("attach:" + this.id, {type: "attach", session_id: this.id});
      this.emit("status", connection.status);
      return this;
    }

    /** Detach from the WebSocket (it closes when nothing else is attached). */
    disconnect() {
      if (!this._unlisten.length) return;
      this._unlisten.splice(0).forEach(function (off) { off(); });
      this.client.connection().unsubscribe("attach:" + this.id, {type: "detach", session_id: this.id});
    }

    /** Send a message of the WebSocket protocol for this session (e.g. {type: "turn", …}): for desktops that stream. */
    stream(message) {
      this.client.connection().send(Object.assign({session_id: this.id}, message));
    }

    _receive(message) {
      if (message.session_id !== this.id) return;
      if (message.type === "error") {
        this.emit("error", new AssistError(message.status || 400, describe(message, message.status || 400), message));
        if (message.status === 404 || message.status === 409) this.disconnect();
        return;
      }
      if (message.type === "state") {
        this.emit("state", message);
        this._absorb(message);
        return;
      }
      if (message.type === "hints") {
        var known = this.turns;
        this._absorb(message);
        if (message.reason === "turn" && message.final && typeof message.turn === "number" && message.turn >= known) {
          this.emit("turn", {turn: message.turn});
        }
        return;
      }
      if (message.type === "ended" || message.type === "closed") {
        this._finish({reason: message.reason || "ended", conversation_id: message.conversation_id, result: message.result});
      }
    }

    /** Take what an answer says about the session: hints (the complete list due now), turns, status. */
    _absorb(body) {
      if (!body) return;
      if (Array.isArray(body.dismissed)) body.dismissed.forEach(function (id) { this.dismissed.add(id); }, this);
      if (Array.isArray(body.turns)) this.turns = body.turns.length;
      else if (typeof body.turns === "number") this.turns = body.turns;
      if (body.final && typeof body.turn === "number") this.turns = Math.max(this.turns, body.turn + 1);
      if (Array.isArray(body.hints)) this._replaceHints(body.hints, body.cleared || []);
      if (body.status === "ended") {
        this._finish({reason: "ended", conversation_id: body.conversation_id, result: body.result});
      }
    }

    _replaceHints(hints, cleared) {
      var before = this.hints;
      var self = this;
      this.hints = new Map();
      hints.forEach(function (hint) {
        if (!self.dismissed.has(hint.id)) self.hints.set(hint.id, hint);
      });
      var gone = cleared.filter(function (id) { return before.has(id) && !self.hints.has(id); });
      before.forEach(function (hint, id) { if (!self.hints.has(id) && gone.indexOf(id) < 0) gone.push(id); });
      this.hints.forEach(function (hint, id) { if (!before.has(id)) self.emit("hint", hint); });
      if (gone.length) this.emit("cleared", gone);
      this.emit("hints", this.list());
    }

    _finish(info) {
      if (this.ended) return;
      this.ended = true;
      this.conversationId = info.conversation_id || null;
      this.disconnect();
      this.emit("ended", info);
    }
  }

  /**
   * The live board: the open sessions the caller may see, each with its alerts, newest activity
   * first. Over the WebSocket ("watch": the list, then an update per change); while the socket is
   * down it polls GET /sessions every options.pollSeconds (default 3). Events: "sessions" (the
   * list), "alert" ({session, alert} for each alert not seen before), "status", "error".
   */
  class Board extends Emitter {
    constructor(client, options) {
      super();
      this.client = client;
      this.pollMs = (options.pollSeconds || 3) * 1000;
      this.sessions = new Map();
      this._seen = null;
      this._poll = null;
      this._polling = false;
      this._off = [];
      this.status = "closed";
    }

    start() {
      var connection = this.client.connection();
      var self = this;
      this._off.push(connection.on("message", function (message) { self._receive(message); }));
      this._off.push(connection.on("status", function (status) { self._status(status); }));
      this._off.push(connection.on("refused", function (error) { self.emit("error", error); self._status("closed"); }));
      connection.subscribe("watch", {type: "watch"});
      this._status(connection.status);
      return this;
    }

    stop() {
      clearTimeout(this._poll);
      this._poll = null;
      this._polling = false;
      this._off.splice(0).forEach(function (off) { off(); });
      this.client.connection().unsubscribe("watch", {type: "unwatch"});
    }

    /** The open sessions, newest activity first. */
    list() {
      return Array.from(this.sessions.values()).sort(function (a, b) {
        return String(b.updated_at || b.started_at || "").localeCompare(String(a.updated_at || a.started_at || ""));
      });
    }

    _status(status) {
      this.status = status;
      this.emit("status", status);
      if (status !== "open" && !this._polling && this.client.transport !== "socket") this._pollNow();
    }

    _pollNow() {
      var self = this;
      this._polling = true;
      this.client.listSessions({status: "open"}).then(function (list) {
        if (self.status !== "open") self._replace(list);
      }, function (error) {
        self.emit("error", error);
      }).then(function () {
        if (self.status === "open" || !self._off.length) { self._polling = false; return; }
        self._poll = setTimeout(function () { self._pollNow(); }, self.pollMs);
      });
    }

    _receive(message) {
      if (message.type === "board") this._replace(message.sessions || []);
      else if (message.type === "board_update" && message.session) this._update(message.session);
    }

    _replace(list) {
      this.sessions = new Map();
      list.forEach(function (s) { if (s.status !== "ended") this.sessions.set(s.session_id, s); }, this);
      this._announce();
    }

    _update(summary) {
      if (summary.status === "ended") this.sessions.delete(summary.session_id);
      else this.sessions.set(summary.session_id, summary);
      this._announce();
    }

    _announce() {
      var first = this._seen === null;
      var seen = this._seen || new Set();
      var self = this;
      this.sessions.forEach(function (s) {
        (s.alerts || []).forEach(function (alert) {
          var key = alertKey(s, alert);
          if (!seen.has(key)) {
            seen.add(key);
            if (!first) self.emit("alert", {session: s, alert: alert});
          }
        });
      });
      this._seen = seen;
      this.emit("sessions", this.list());
    }
  }

  function alertKey(session, alert) {
    return [session.session_id, alert.kind, alert.rule, alert.turn, alert.at].join("|");
  }

  /**
   * The draft once a finding's words are replaced: the finding's `replacement` (the server's, for
   * the draft it checked). Check the new draft again: the other findings' spans were of the old one.
   * With `wording`, the finding's span is replaced by that text instead.
   */
  function applyReplacement(draft, finding, wording) {
    if (wording === undefined && finding && finding.replacement) return finding.replacement;
    if (!finding || !finding.span || wording === undefined) return draft;
    return draft.slice(0, finding.span[0]) + wording + draft.slice(finding.span[1]);
  }

  return {Client: Client, Session: Session, Board: Board, Connection: Connection, AssistError: AssistError,
          applyReplacement: applyReplacement, alertKey: alertKey, API: API, version: "1"};
});
