// Shopdesk order form: "+ Add a line" and "Remove" work in place, and a
// running total follows every change, with each line's amount and a warning
// when a quantity is more than the stock. Without this script the same
// buttons go through the server, which keeps everything typed.
(function () {
  "use strict";

  var form = document.querySelector("form.order-form");
  var body = form && form.querySelector("tbody[data-next-line]");
  var template = document.getElementById("line-template");
  if (!form || !body || !template || !window.ShopdeskPicker) { return; }

  var addButton = form.querySelector("button[value=\"add_line\"]");
  var limitNote = document.getElementById("lines-limit");
  var MAX_LINES = parseInt(addButton && addButton.getAttribute("data-max-lines"), 10) || 100;
  var money = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
  var status = form.querySelector("#status");
  var total = document.getElementById("order-total");
  var count = document.getElementById("order-items");

  // Stock this order holds already (when editing): it is available to it again.
  var held = {};
  (form.getAttribute("data-held") || "").split(" ").forEach(function (pair) {
    var parts = pair.split(":");
    if (parts.length === 2) { held[parts[0]] = parseInt(parts[1], 10) || 0; }
  });

  form.classList.add("enhanced");

  function cents(raw) {
    var text = raw.trim().replace(/^\$/, "").replace(/,/g, "").trim();
    if (!/^(\d+(\.\d{0,2})?|\.\d{1,2})$/.test(text)) { return null; }
    var parts = text.split(".");
    var whole = parts[0] === "" ? 0 : parseInt(parts[0], 10);
    var fraction = parts.length > 1 ? parseInt((parts[1] + "00").slice(0, 2), 10) : 0;
    return whole * 100 + fraction;
  }

  function rows() {
    return Array.prototype.slice.call(body.querySelectorAll("tr.order-line"));
  }

  function warn(row, message) {
    var cell = row.querySelector("td.qty");
    var warning = cell.querySelector(".stock-warning");
    if (!message) {
      if (warning) { warning.parentNode.removeChild(warning); }
      return;
    }
    if (!warning) {
      warning = document.createElement("small");
      warning.className = "stock-warning";
      warning.id = row.querySelector(".line-quantity").id + "-stock";
      cell.appendChild(warning);
    }
    warning.textContent = message;
  }

  function update() {
    var sum = 0;
    var items = 0;
    var cancelled = status && status.value === "cancelled";
    rows().forEach(function (row) {
      var picker = row.querySelector(".picker");
      var product = picker && picker.shopdeskChoice;
      var quantityText = row.querySelector(".line-quantity").value.trim();
      var quantity = /^\d+$/.test(quantityText) ? parseInt(quantityText, 10) : null;
      var priceText = row.querySelector(".line-price").value;
      var price = priceText.trim() === "" ? (product ? product.price_cents : null) : cents(priceText);
      var amount = row.querySelector(".line-amount");
      if (product && quantity !== null && price !== null) {
        sum += quantity * price;
        items += quantity;
        amount.textContent = money.format(quantity * price / 100);
      } else {
        amount.textContent = "";
      }
      var available = product && product.stock !== null ? product.stock + (held[product.id] || 0) : null;
      if (product && quantity !== null && available !== null && quantity > available && !cancelled) {
        warn(row, "Only " + available + " available.");
      } else {
        warn(row, null);
      }
    });
    total.textContent = money.format(sum / 100);
    count.textContent = items === 1 ? "1 item" : items + " items";
  }

  // Labels say which line they belong to, counted as the lines stand now.
  function renumber() {
    rows().forEach(function (row, index) {
      var n = String(index + 1);
      Array.prototype.forEach.call(row.querySelectorAll("label, [aria-label]"), function (element) {
        if (element.tagName === "LABEL") {
          element.textContent = element.textContent.replace(/line \d+/, "line " + n);
        }
        var label = element.getAttribute("aria-label");
        if (label) { element.setAttribute("aria-label", label.replace(/line \d+/, "line " + n)); }
      });
    });
    var full = rows().length >= MAX_LINES;
    if (addButton) { addButton.disabled = full; }
    if (limitNote) {
      limitNote.textContent = full
        ? "This order has the most lines an order can have (" + MAX_LINES + "). Remove a line to add another."
        : "Up to " + MAX_LINES + " lines.";
    }
  }

  function newLine() {
    var index = parseInt(body.getAttribute("data-next-line"), 10) || rows().length;
    body.setAttribute("data-next-line", String(index + 1));
    var fragment = template.content.cloneNode(true);
    Array.prototype.forEach.call(fragment.querySelectorAll("*"), function (element) {
      Array.prototype.forEach.call(element.attributes, function (attribute) {
        if (attribute.value.indexOf("__") >= 0) {
          attribute.value = attribute.value.replace(/__i__/g, String(index)).replace(/__n__/g, "0");
        }
      });
    });
    var walker = document.createTreeWalker(fragment, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      walker.currentNode.nodeValue = walker.currentNode.nodeValue.replace(/__n__/g, "0");
    }
    return fragment.querySelector("tr");
  }

  function addLine(after) {
    if (rows().length >= MAX_LINES) { return null; }
    var row = newLine();
    body.insertBefore(row, after ? after.nextSibling : null);
    window.ShopdeskPicker.enhance(row.querySelector(".picker"));
    renumber();
    update();
    return row;
  }

  function removeLine(row) {
    var all = rows();
    var at = all.indexOf(row);
    var next;
    if (all.length === 1) {
      // The last line is emptied rather than removed, so one is always there.
      next = addLine(row);
      body.removeChild(row);
    } else {
      body.removeChild(row);
      // The line that took its place; after the last line, "+ Add a line".
      next = rows()[at];
    }
    renumber();
    update();
    var focus = next && next.querySelector(".picker-input");
    (focus || addButton).focus();
  }

  form.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button || !form.contains(button) || button.disabled) { return; }
    if (button.value === "add_line") {
      event.preventDefault();
      var row = addLine(null);
      if (row) { row.querySelector(".picker-input").focus(); }
    } else if (button.value.indexOf("remove:") === 0) {
      event.preventDefault();
      removeLine(button.closest("tr.order-line"));
    }
  });

  form.addEventListener("input", function (event) {
    if (event.target.classList.contains("line-quantity") || event.target.classList.contains("line-price")) {
      update();
    }
  });
  form.addEventListener("picker-change", update);
  if (status) { status.addEventListener("change", update); }

  renumber();
  update();
})();
