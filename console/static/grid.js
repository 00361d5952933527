// The capacity grid's selection (console/templates/console_grid.html): a range of cells
// chosen with the mouse (drag, or click then shift-click) or the keyboard (arrow keys
// move, shift + arrows extend, Home / End go to the row's ends, Enter goes to the seats
// field), shown with aria-selected and copied into the range form, which does the save.
// Its words come from the page (the grid-words JSON block, in the console's language): the
// selection's sentence for each plural category, chosen with Intl.PluralRules.
(function () {
  "use strict";
  var table = document.querySelector('table[role="grid"]');
  if (!table) return;
  var rows = Array.prototype.map.call(table.tBodies[0].rows, function (row) {
    return Array.prototype.slice.call(row.querySelectorAll('td[role="gridcell"]'));
  }).filter(function (cells) { return cells.length === 7; });
  if (!rows.length) return;
  var editable = table.getAttribute("data-editable") === "yes";
  var form = document.getElementById("range-form");
  var status = document.getElementById("selection");
  var anchor = [0, 0], focus = [0, 0], dragging = false;
  var wordsBlock = document.getElementById("grid-words");
  var words = wordsBlock ? JSON.parse(wordsBlock.textContent) : { selected: {} };
  var plurals = window.Intl && Intl.PluralRules ? new Intl.PluralRules(document.documentElement.lang || "en") : null;

  function fill(text, values) {
    return text.replace(/%\((\w+)\)[sd]/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }

  function selectedText(count, values) {
    var category = plurals ? plurals.select(count) : (count === 1 ? "one" : "other");
    var text = words.selected[category] || words.selected.other || "";
    values.num = count;
    return fill(text, values);
  }

  function cell(at) { return rows[at[0]][at[1]]; }

  function moveFocus(at) {
    cell(focus).setAttribute("tabindex", "-1");
    focus = at;
    cell(focus).setAttribute("tabindex", "0");
    cell(focus).focus();
  }

  function select() {
    if (!editable) return;
    var r0 = Math.min(anchor[0], focus[0]), r1 = Math.max(anchor[0], focus[0]);
    var c0 = Math.min(anchor[1], focus[1]), c1 = Math.max(anchor[1], focus[1]);
    rows.forEach(function (cells, r) {
      cells.forEach(function (td, c) {
        td.setAttribute("aria-selected", String(r >= r0 && r <= r1 && c >= c0 && c <= c1));
      });
    });
    var first = rows[r0][c0], last = rows[r1][c1];
    if (form) {
      form.elements.first_day.value = first.getAttribute("data-day");
      form.elements.last_day.value = last.getAttribute("data-day");
      form.elements.starts.value = first.getAttribute("data-starts");
      form.elements.ends.value = last.getAttribute("data-ends");
    }
    if (status) {
      var count = (r1 - r0 + 1) * (c1 - c0 + 1);
      status.textContent = selectedText(count, {
        first: first.getAttribute("data-day"),
        last: last.getAttribute("data-day"),
        starts: first.getAttribute("data-starts"),
        ends: last.getAttribute("data-ends")
      });
    }
  }

  function place(td) {
    for (var r = 0; r < rows.length; r++) {
      var c = rows[r].indexOf(td);
      if (c >= 0) return [r, c];
    }
    return null;
  }

  rows[0][0].setAttribute("tabindex", "0");

  table.addEventListener("keydown", function (event) {
    var at = place(event.target);
    if (!at) return;
    var next = at.slice();
    switch (event.key) {
      case "ArrowUp": next[0] = Math.max(0, at[0] - 1); break;
      case "ArrowDown": next[0] = Math.min(rows.length - 1, at[0] + 1); break;
      case "ArrowLeft": next[1] = Math.max(0, at[1] - 1); break;
      case "ArrowRight": next[1] = Math.min(6, at[1] + 1); break;
      case "Home": next[1] = 0; if (event.ctrlKey) next[0] = 0; break;
      case "End": next[1] = 6; if (event.ctrlKey) next[0] = rows.length - 1; break;
      case " ": anchor = at; select(); event.preventDefault(); return;
      case "Enter":
        if (form) { select(); form.elements.seats.focus(); event.preventDefault(); }
        return;
      default: return;
    }
    event.preventDefault();
    moveFocus(next);
    if (!event.shiftKey) anchor = next;
    select();
  });

  table.addEventListener("mousedown", function (event) {
    var td = event.target.closest('td[role="gridcell"]');
    var at = td && place(td);
    if (!at) return;
    event.preventDefault();
    if (!event.shiftKey) anchor = at;
    dragging = true;
    moveFocus(at);
    select();
  });
  table.addEventListener("mouseover", function (event) {
    if (!dragging) return;
    var td = event.target.closest('td[role="gridcell"]');
    var at = td && place(td);
    if (at) { moveFocus(at); select(); }
  });
  document.addEventListener("mouseup", function () { dragging = false; });
})();
