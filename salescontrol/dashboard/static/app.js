// The dashboard's own script: a transcript line seeks the dialogue's audio player
// to its time and plays it, and an error answered to htmx is shown. Everything
// else is htmx (static/vendor).
document.addEventListener("click", (event) => {
  const line = event.target.closest("[data-seek]");
  if (!line) return;
  const player = document.getElementById(line.dataset.player || "player");
  if (!player) return;
  player.currentTime = Number(line.dataset.seek);
  player.play().catch(() => {});
});

// An error answered to an htmx request names the page's error area as its target
// (salescontrol/dashboard/errors.py). htmx swaps no 4xx/5xx answer by itself: the
// person would see nothing happen.
document.addEventListener("htmx:beforeSwap", (event) => {
  const xhr = event.detail.xhr;
  if (xhr.status >= 400 && xhr.getResponseHeader("HX-Retarget") === "#page-error") {
    event.detail.shouldSwap = true;
  }
});
