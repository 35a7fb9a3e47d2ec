
(function () {
  "use strict";
  var errors = document.getElementById("js-errors");
  function fail(text) { errors.hidden = false; errors.textContent += text + "\n"; }
  window.addEventListener("error", function (event) {
    var target = event.target;
    if (target && target !== window && target.tagName) {
      fail("cannot load " + (target.currentSrc || target.src || target.tagName));
    } else {
      fail("error: " + event.message + " (" + event.filename + ":" + event.lineno + ")");
    }
  }, true);
  window.addEventListener("unhandledrejection", function (event) { fail("unhandled rejection: " + event.reason); });
})();
