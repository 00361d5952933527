// The live wallboard: one EventSource per open page. It reconnects by itself when the
// stream ends (every few minutes, or when a web process restarts); each "snapshot" event
// carries every queue's row and replaces what the page shows.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var table = document.getElementById("wallboard");
  function shown(cell, value) {
    var kind = cell.getAttribute("data-kind");
    if (value === null || value === undefined) return "\u2013";
    if (kind === "duration") return Math.floor(value / 60) + " min";
    if (kind === "rate") return Math.round(value * 100) + "%";
    return String(value);
  }
  function row(queue) {
    var tr = table.querySelector('tr[data-queue="' + CSS.escape(queue.queue) + '"]');
    if (tr) return tr;
    location.reload(); // a queue was added: draw the table again
    return null;
  }
  function apply(snapshot) {
    snapshot.queues.forEach(function (queue) {
      var tr = row(queue);
      if (!tr) return;
      tr.querySelectorAll("[data-field]").forEach(function (cell) {
        var field = cell.getAttribute("data-field");
        if (field === "sparkline") {
          cell.setAttribute("points", queue.sparkline);
          return;
        }
        cell.textContent = shown(cell, queue[field]);
        if (cell.getAttribute("data-kind") === "alarm") cell.classList.toggle("bad", queue[field] > 0);
      });
    });
    live.textContent = "Updated " + snapshot.at.slice(11, 19) + " UTC";
    live.classList.remove("lost");
  }
  var source = new EventSource(live.getAttribute("data-stream"));
  source.addEventListener("snapshot", function (event) { apply(JSON.parse(event.data)); });
  source.addEventListener("error", function () {
    live.textContent = "Reconnecting\u2026";
    live.classList.add("lost");
    // Closed for good (signed out, say): the page itself shows why.
    if (source.readyState === EventSource.CLOSED) setTimeout(function () { location.reload(); }, 5000);
  });
})();
