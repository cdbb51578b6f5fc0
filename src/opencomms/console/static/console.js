// Live progress bars: each [data-progress-stream] element follows its server-sent events
// and updates the <progress> bars and figures of the operations it names. The page is
// complete without this script; it only keeps the figures moving.
(function () {
  "use strict";
  function update(op) {
    var bar = document.getElementById("progress-" + op.id);
    if (bar) { bar.value = op.percent; bar.textContent = op.percent + " %"; }
    document.querySelectorAll('[data-percent="' + op.id + '"]').forEach(function (el) {
      el.textContent = op.percent + " %";
    });
    document.querySelectorAll('[data-settled="' + op.id + '"]').forEach(function (el) {
      el.textContent = op.settled;
    });
    document.querySelectorAll('[data-status="' + op.id + '"]').forEach(function (el) {
      el.textContent = op.status;
    });
  }
  function follow(element) {
    var url = element.getAttribute("data-progress-stream");
    if (!url || url.indexOf("id=") < 0) { return; }
    var source = new EventSource(url);
    source.addEventListener("progress", function (event) {
      JSON.parse(event.data).forEach(update);
    });
    source.addEventListener("done", function () { source.close(); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-progress-stream]").forEach(follow);
  });
})();
