// The live wallboard: one EventSource per open page. It reconnects by itself when the
// stream ends (every few minutes, or when a web process restarts); each "snapshot" event
// carries every queue's row and replaces what the page shows. Its words are the page's
// (the #live element's data-updated, data-reconnecting and data-minutes, in the console's
// language), never English of its own.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var table = document.getElementById("wallboard");
  function words(name, token, value) {
    return live.getAttribute(name).split(token).join(value);
  }
  function shown(cell, value) {
    var kind = cell.getAttribute("data-kind");
    if (value === null || value === undefined) return "\u2013";
    if (kind === "duration") return words("data-minutes", "{n}", String(Math.floor(value / 60)));
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
    live.textContent = words("data-updated", "{time}", snapshot.at.slice(11, 19));
    live.classList.remove("lost");
  }
  var source = new EventSource(live.getAttribute("data-stream"));
  source.addEventListener("snapshot", function (event) { apply(JSON.parse(event.data)); });
  source.addEventListener("error", function () {
    live.textContent = live.getAttribute("data-reconnecting");
    live.classList.add("lost");
    // Closed for good (signed out, say): the page itself shows why.
    if (source.readyState === EventSource.CLOSED) setTimeout(function () { location.reload(); }, 5000);
  });
})();
