// The conversation page's recording player: a button with data-seek (a turn's time, a finding's
// 从此处播放) and a click on the call timeline play the recording from that moment (a speech
// segment from its start); the timeline shows where playback is and takes the keyboard
// (←/→ 5 seconds, Home, space). The timeline's scale comes from the player's data attributes.
(function () {
  "use strict";
  const STEP = 5;

  document.addEventListener("DOMContentLoaded", () => {
    const audio = document.getElementById("recording");
    if (!audio) return;
    const player = audio.closest("[data-duration]");
    const duration = Number(player.dataset.duration);
    const left = Number(player.dataset.plotLeft);
    const right = Number(player.dataset.plotRight);

    function play(seconds) {
      audio.currentTime = Math.min(Math.max(seconds, 0), duration);
      audio.play().catch(() => {}); // a browser may refuse to play; the position is set all the same
    }

    document.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-seek]");
      if (button) play(Number(button.dataset.seek));
    });

    const timeline = document.querySelector("svg.timeline");
    if (!timeline) return;
    const timeAt = (x) => ((x - left) / (right - left)) * duration;
    const xAt = (seconds) => left + (Math.min(Math.max(seconds, 0), duration) / duration) * (right - left);

    timeline.addEventListener("click", (event) => {
      const segment = event.target.closest("rect.tl-speech");
      if (segment) {
        play(timeAt(Number(segment.getAttribute("x"))));
        return;
      }
      const point = new DOMPoint(event.clientX, event.clientY).matrixTransform(timeline.getScreenCTM().inverse());
      if (point.x >= left && point.x <= right) play(timeAt(point.x));
    });

    timeline.setAttribute("tabindex", "0");
    timeline.setAttribute("aria-label", timeline.getAttribute("aria-label") + "。点击或用方向键从某处播放");
    timeline.addEventListener("keydown", (event) => {
      const action = {
        ArrowLeft: () => play(audio.currentTime - STEP),
        ArrowRight: () => play(audio.currentTime + STEP),
        Home: () => play(0),
        " ": () => (audio.paused ? audio.play().catch(() => {}) : audio.pause()),
      }[event.key];
      if (action) {
        event.preventDefault();
        action();
      }
    });

    const head = document.createElementNS("http://www.w3.org/2000/svg", "line");
    head.setAttribute("class", "tl-playhead");
    head.setAttribute("y1", "0");
    head.setAttribute("y2", timeline.viewBox.baseVal.height);
    timeline.appendChild(head);
    const move = () => {
      const x = xAt(audio.currentTime);
      head.setAttribute("x1", x);
      head.setAttribute("x2", x);
    };
    audio.addEventListener("timeupdate", move);
    audio.addEventListener("seeked", move);
    move();
  });
})();
