// The dashboard's own script: a transcript line seeks the dialogue's audio player
// to its time and plays it. Everything else is htmx (static/vendor).
document.addEventListener("click", (event) => {
  const line = event.target.closest("[data-seek]");
  if (!line) return;
  const player = document.getElementById(line.dataset.player || "player");
  if (!player) return;
  player.currentTime = Number(line.dataset.seek);
  player.play().catch(() => {});
});
