// jetflow console: the little the pages need beyond HTML. Everything works
// without it but the live rebuild progress (reload instead) and "select all".
(function () {
  "use strict";

  // A rebuild's progress, polled until it has finished.
  function pollRebuild(section) {
    var url = section.getAttribute("data-poll");
    var bar = document.getElementById("rebuild-bar");
    function set(id, text) {
      var el = document.getElementById(id);
      if (el) { el.textContent = text; }
    }
    var polls = 0;
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) {
          if (!r.ok) { throw new Error("HTTP " + r.status); }
          return r.json();
        })
        .then(function (s) {
          polls++;
          section.setAttribute("data-polled", String(polls));
          bar.value = s.percent;
          bar.textContent = s.percent + " %";
          set("rebuild-percent", String(s.percent));
          set("rebuild-phase", s.phase);
          set("rebuild-done", String(s.done));
          set("rebuild-total", String(s.total));
          set("rebuild-generation", String(s.generation));
          var result = document.getElementById("rebuild-result");
          if (s.finished) {
            if (s.error) {
              result.className = "error";
              result.textContent = s.error;
            } else {
              result.className = "ok";
              result.textContent = "Done: queries now read bucket " + s.bucket + ".";
            }
            return;
          }
          setTimeout(tick, 400);
        })
        .catch(function (e) {
          set("rebuild-phase", "progress unavailable (" + e.message + "); retrying");
          setTimeout(tick, 2000);
        });
    }
    tick();
  }

  // "Select all" for the dead letters' checkboxes.
  function selectAll(box) {
    box.addEventListener("change", function () {
      var picks = document.querySelectorAll("input.pick");
      for (var i = 0; i < picks.length; i++) { picks[i].checked = box.checked; }
    });
  }

  // The replay form needs a selection.
  function needSelection(form) {
    form.addEventListener("submit", function (ev) {
      if (!form.querySelector("input.pick:checked")) {
        ev.preventDefault();
        alert("Select at least one dead letter.");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var rebuild = document.getElementById("rebuild");
    if (rebuild && rebuild.getAttribute("data-poll")) { pollRebuild(rebuild); }
    var all = document.getElementById("select-all");
    if (all) { selectAll(all); }
    var replay = document.getElementById("dlq-replay");
    if (replay) { needSelection(replay); }
  });
})();
