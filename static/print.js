// Printed documents: the Print button opens the browser's print dialog
// (where "Save as PDF" is one of the printers). Without this script the
// button stays hidden and the page says to use the browser's Print.
(function () {
  "use strict";
  document.querySelectorAll(".print-button").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
