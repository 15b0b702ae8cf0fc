// Shopdesk pickers: each customer or product choice becomes one combobox, the
// ARIA 1.2 pattern of a text input with a listbox popup. Typing searches the
// server; Down and Up move through the matches, Enter chooses (the first
// match if Enter comes before the matches do), Escape closes the list, and
// the chosen item shows its name, with its email, or its SKU, price and stock,
// just below. Without this script the same markup is a search box with a Find
// button and a list to choose from, which the server fills.
(function () {
  "use strict";

  var DEBOUNCE_MS = 150;
  var made = 0;

  function number(raw) {
    var n = parseInt(raw, 10);
    return isNaN(n) ? null : n;
  }

  function enhance(root) {
    if (!root || root.getAttribute("data-combobox") === "on") { return; }
    var input = root.querySelector(".picker-input");
    var choices = root.querySelector(".picker-choices");
    if (!input || !choices) { return; }
    root.setAttribute("data-combobox", "on");
    made += 1;
    var kind = root.getAttribute("data-picker");
    var base = (input.id || "picker") + "-combobox-" + made;

    var chosen = null;
    if (choices.value) {
      chosen = {
        id: choices.value,
        name: choices.getAttribute("data-chosen-name") || "",
        detail: choices.getAttribute("data-chosen-detail") || "",
        price_cents: number(choices.getAttribute("data-chosen-price")),
        stock: number(choices.getAttribute("data-chosen-stock"))
      };
    }

    // The chosen id travels in a hidden field named like the server's list.
    var value = choices;
    if (choices.tagName === "SELECT") {
      value = document.createElement("input");
      value.type = "hidden";
      value.name = choices.name;
      value.value = choices.value;
      value.className = "picker-choices";
      var listLabel = choices.id ? root.querySelector("label[for=\"" + choices.id + "\"]") : null;
      if (listLabel) { listLabel.parentNode.removeChild(listLabel); }
      choices.parentNode.replaceChild(value, choices);
    }
    var find = root.querySelector(".picker-find");
    if (find) { find.parentNode.removeChild(find); }

    var list = document.createElement("ul");
    list.id = base + "-list";
    list.className = "picker-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", root.getAttribute("data-list-label") || "Matches");
    list.hidden = true;
    var note = document.createElement("small");
    note.id = base + "-note";
    note.className = "picker-note";
    var live = document.createElement("span");
    live.className = "visually-hidden";
    live.setAttribute("role", "status");
    var anchor = input.parentNode.classList.contains("picker-search") ? input.parentNode : input;
    anchor.parentNode.insertBefore(live, anchor.nextSibling);
    anchor.parentNode.insertBefore(note, anchor.nextSibling);
    anchor.parentNode.insertBefore(list, anchor.nextSibling);
    root.classList.add("picker-combobox");

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("autocomplete", "off");
    var described = input.getAttribute("aria-describedby");
    input.setAttribute("aria-describedby", described ? described + " " + note.id : note.id);

    var items = [];
    var answered = null;
    var active = -1;
    var timer = null;
    var pending = false;
    var chooseWhenReady = false;
    var asking = 0;

    function showChosen(message) {
      if (message) {
        note.textContent = message;
      } else if (chosen) {
        note.textContent = chosen.detail;
      } else if (input.value.trim() !== "") {
        note.textContent = "Nothing chosen yet: choose from the list.";
      } else {
        note.textContent = "";
      }
      note.classList.toggle("picker-note-pending", !chosen && input.value.trim() !== "");
    }

    function publish() {
      root.shopdeskChoice = chosen;
      root.dispatchEvent(new CustomEvent("picker-change", { bubbles: true, detail: chosen }));
    }

    function open() {
      if (items.length === 0) { return; }
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
      Array.prototype.forEach.call(list.children, function (option) {
        option.setAttribute("aria-selected", "false");
      });
    }

    function move(index) {
      if (items.length === 0) { return; }
      active = (index + items.length) % items.length;
      Array.prototype.forEach.call(list.children, function (option, at) {
        option.setAttribute("aria-selected", at === active ? "true" : "false");
      });
      var option = list.children[active];
      input.setAttribute("aria-activedescendant", option.id);
      if (option.scrollIntoView) { option.scrollIntoView({ block: "nearest" }); }
    }

    function choose(index) {
      var item = items[index];
      if (!item) { return; }
      chosen = item;
      value.value = String(item.id);
      input.value = item.name;
      answered = null;
      close();
      showChosen();
      live.textContent = item.name + " chosen.";
      publish();
    }

    function clearChoice() {
      if (!chosen && value.value === "") { return; }
      chosen = null;
      value.value = "";
      publish();
    }

    function render(found, q) {
      items = found;
      answered = q;
      list.textContent = "";
      found.forEach(function (item, index) {
        var option = document.createElement("li");
        option.id = list.id + "-" + index;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        var name = document.createElement("span");
        name.className = "picker-option-name";
        name.textContent = item.name;
        var detail = document.createElement("span");
        detail.className = "picker-option-detail";
        detail.textContent = item.detail;
        option.appendChild(name);
        option.appendChild(document.createTextNode(" "));
        option.appendChild(detail);
        // Keep the focus in the input, so the list stays a popup of it.
        option.addEventListener("mousedown", function (event) { event.preventDefault(); });
        option.addEventListener("click", function () { choose(index); });
        list.appendChild(option);
      });
      if (found.length === 0) {
        close();
        showChosen("Nothing matches “" + q + "”.");
        live.textContent = "Nothing matches.";
        return;
      }
      open();
      move(0);
      showChosen();
      live.textContent = found.length + (found.length === 1 ? " match" : " matches") +
        (found.length >= 20 ? " (the first 20; type more to narrow)" : "") + ". Enter chooses the highlighted one.";
    }

    // The session ended (the server answers 401): say so in the popup, with a
    // way back that returns to this page.
    function signedOut() {
      items = [];
      answered = null;
      list.textContent = "";
      var notice = document.createElement("li");
      notice.className = "picker-notice";
      notice.setAttribute("role", "option");
      notice.setAttribute("aria-disabled", "true");
      notice.id = list.id + "-signed-out";
      var link = document.createElement("a");
      link.href = "/sign-in?next=" + encodeURIComponent(window.location.pathname + window.location.search);
      link.textContent = "Your session ended — sign in again";
      notice.appendChild(link);
      list.appendChild(notice);
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      showChosen("Your session ended — sign in again to search.");
      live.textContent = "Your session ended — sign in again.";
    }

    function ask() {
      timer = null;
      var q = input.value.trim();
      if (q === "") { pending = false; return; }
      var mine = asking;
      fetch("/pickers/" + kind + "?q=" + encodeURIComponent(q), {
        credentials: "same-origin",
        headers: { "Accept": "application/json" }
      })
        .then(function (response) {
          if (response.status === 401) { return { signedOut: true }; }
          if (!response.ok) { throw new Error("status " + response.status); }
          return response.json();
        })
        .then(function (found) {
          if (mine !== asking) { return; }
          pending = false;
          if (found && found.signedOut) {
            chooseWhenReady = false;
            signedOut();
            return;
          }
          render(found, q);
          if (chooseWhenReady) {
            chooseWhenReady = false;
            if (found.length > 0) { choose(active >= 0 ? active : 0); }
          }
        })
        .catch(function () {
          if (mine !== asking) { return; }
          pending = false;
          chooseWhenReady = false;
          showChosen("The search did not answer; type again to retry.");
        });
    }

    function askSoon() {
      asking += 1;
      pending = true;
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, DEBOUNCE_MS);
    }

    function askNow() {
      window.clearTimeout(timer);
      ask();
    }

    input.addEventListener("input", function () {
      chooseWhenReady = false;
      if (input.value.trim() === "") {
        asking += 1;
        window.clearTimeout(timer);
        timer = null;
        pending = false;
        items = [];
        answered = null;
        close();
        clearChoice();
        showChosen();
        return;
      }
      showChosen();
      askSoon();
    });

    input.addEventListener("keydown", function (event) {
      var q = input.value.trim();
      switch (event.key) {
      case "ArrowDown":
        event.preventDefault();
        if (!list.hidden) {
          move(active + 1);
        } else if (items.length > 0 && answered === q) {
          open();
          if (!event.altKey) { move(active < 0 ? 0 : active); }
        } else if (q !== "" && !pending) {
          askSoon();
          askNow();
        }
        break;
      case "ArrowUp":
        event.preventDefault();
        if (!list.hidden) { move(active - 1); }
        break;
      case "Enter":
        // Enter chooses; on a search form (GET) it then searches, as in
        // any other of its boxes; it never sends the order form from here.
        event.preventDefault();
        if (!pending && list.hidden && chosen && q === chosen.name && input.form &&
            input.form.method === "get" && input.form.requestSubmit) {
          input.form.requestSubmit();
        } else if (!pending && !list.hidden && active >= 0) {
          choose(active);
        } else if (q !== "" && !(chosen && q === chosen.name)) {
          chooseWhenReady = true;
          if (pending) {
            if (timer !== null) { askNow(); }
          } else if (answered === q && items.length > 0) {
            chooseWhenReady = false;
            choose(0);
          } else {
            askSoon();
            askNow();
          }
        }
        break;
      case "Escape":
        if (!list.hidden) {
          event.preventDefault();
          close();
        } else if (chosen && input.value !== chosen.name) {
          event.preventDefault();
          input.value = chosen.name;
          showChosen();
        } else if (!chosen && input.value !== "") {
          event.preventDefault();
          input.value = "";
          showChosen();
        }
        break;
      case "Tab":
        close();
        break;
      default:
        break;
      }
    });

    input.addEventListener("blur", function () {
      close();
      chooseWhenReady = false;
      if (chosen && input.value !== chosen.name) {
        input.value = chosen.name;
      }
      showChosen();
    });

    if (chosen) { input.value = chosen.name; }
    showChosen();
    root.shopdeskChoice = chosen;
  }

  function enhanceAll(scope) {
    Array.prototype.forEach.call((scope || document).querySelectorAll(".picker[data-picker]"), enhance);
  }

  // With every choice a combobox, the Find buttons have nothing left to do:
  // Enter in another field of the order form no longer reloads the page.
  document.addEventListener("submit", function (event) {
    if (event.submitter && event.submitter.value === "find" &&
        event.target.querySelector(".picker[data-combobox=\"on\"]")) {
      event.preventDefault();
    }
  });

  window.ShopdeskPicker = { enhance: enhance, enhanceAll: enhanceAll };
  enhanceAll(document);
})();
