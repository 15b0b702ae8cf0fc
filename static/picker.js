// Shopdesk order form: search-as-you-type for the customer and product
// choices. Without this script the Find buttons do the same on the server.
(function () {
  "use strict";
  var inputs = document.querySelectorAll("input[data-picker]");
  Array.prototype.forEach.call(inputs, function (input) {
    var select = document.getElementById(input.getAttribute("data-target"));
    if (!select) { return; }
    var timer = null;
    var asked = "";
    function refresh() {
      var q = input.value.trim();
      if (q === "" || q === asked) { return; }
      asked = q;
      var url = "/pickers/" + input.getAttribute("data-picker") + "?q=" + encodeURIComponent(q);
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.ok ? response.json() : []; })
        .then(function (items) {
          if (input.value.trim() !== q) { return; }
          var keep = select.value;
          Array.prototype.slice.call(select.options).forEach(function (option) {
            if (option.value !== "" && option.value !== keep) { select.removeChild(option); }
          });
          items.forEach(function (item) {
            if (String(item.id) === keep) { return; }
            var option = document.createElement("option");
            option.value = item.id;
            option.textContent = item.label;
            select.appendChild(option);
          });
          select.options[0].textContent = items.length === 0 ? "Nothing matches “" + q + "”"
            : items.length >= 20 ? "First 20 matches: choose, or type more to narrow"
            : items.length + " found: choose…";
          if (!keep && items.length === 1) { select.value = String(items[0].id); }
        })
        .catch(function () { asked = ""; });
    }
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 200);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        refresh();
        select.focus();
      }
    });
  });
})();
