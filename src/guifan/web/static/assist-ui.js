/* Helpers shared by the live assist pages (assist-page.js, assist-board.js, assist-start.js): they
 * build the page from text only (textContent, never markup) and read the JSON data blocks that the
 * templates give the scripts (no inline script under the Content-Security-Policy). */
(function () {
  "use strict";

  /** A new element with a class and a text (both optional). */
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /** The JSON of <script type="application/json" id="…"> (data, not a script), or null. */
  function readJson(id) {
    var node = document.getElementById(id);
    if (!node) return null;
    try { return JSON.parse(node.textContent); } catch (error) { return null; }
  }

  /** An ISO time as the local clock time (or date and time), "" if there is none. */
  function time(iso, withDate) {
    if (!iso) return "";
    var at = new Date(iso);
    if (isNaN(at)) return "";
    return withDate ? at.toLocaleString("zh-CN", {hour12: false}) : at.toLocaleTimeString("zh-CN", {hour12: false});
  }

  /** Say `text` through an aria-live region: a new node each time, so that a repeat is read again. */
  function announce(region, text) {
    region.textContent = "";
    region.appendChild(el("span", null, text));
  }

  window.GuifanAssistUI = {el: el, readJson: readJson, time: time, announce: announce};
})();
