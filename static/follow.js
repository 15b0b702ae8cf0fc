// Keeps a running job's figures current in place: every 2 seconds it reads
// the page again and swaps in the parts marked `data-follow`, leaving the
// rest of the page (and the keyboard focus) alone. A Pause button stops the
// updates (WCAG 2.2.1). When the job is over, the page is loaded once more to
// show its outcome. Without JavaScript, the page refreshes itself instead.
(function () {
  "use strict";
  var followed = document.querySelectorAll("[data-follow]");
  if (!followed.length || !window.fetch || !window.DOMParser) return;
  var every = 2000;
  var paused = false;
  var timer = null;

  var note = document.querySelector("[data-follow-note]");
  var button = document.createElement("button");
  button.type = "button";
  button.className = "secondary outline small";
  button.textContent = "Pause updates";
  button.addEventListener("click", function () {
    paused = !paused;
    button.textContent = paused ? "Resume updates" : "Pause updates";
    if (note) note.textContent = paused ? "Updates are paused." : "The figures update every 2 seconds.";
    if (!paused) schedule();
  });
  if (note) {
    note.textContent = "The figures update every 2 seconds.";
    note.after(" ", button);
  }

  function schedule() {
    clearTimeout(timer);
    if (!paused) timer = setTimeout(update, every);
  }

  function update() {
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        if (!fresh.querySelector("[data-follow]")) {
          window.location.reload();
          return;
        }
        followed.forEach(function (part) {
          var now = part.id && fresh.getElementById(part.id);
          // Only what changed is swapped, so a screen reader hears news,
          // not the same figures every 2 seconds.
          if (now && now.innerHTML !== part.innerHTML) part.innerHTML = now.innerHTML;
        });
        schedule();
      })
      .catch(function () {
        // A network hiccup or a restarting server: try again later.
        schedule();
      });
  }

  schedule();
})();
