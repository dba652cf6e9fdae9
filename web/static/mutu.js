/* Mutu pages: repeating form rows and the case diagram. No framework; bpmn-js is vendored. */
(function () {
  "use strict";

  function renumber(fieldset) {
    var key = fieldset.getAttribute("data-field");
    var rows = fieldset.querySelectorAll("tbody tr.row");
    rows.forEach(function (row, i) {
      row.querySelectorAll("[name]").forEach(function (input) {
        var rest = input.name.slice(("f." + key + ".").length).split(".");
        rest[0] = String(i);
        input.name = "f." + key + "." + rest.join(".");
        input.id = "in-" + (key + "." + rest.join(".")).replace(/\./g, "-");
      });
    });
  }

  function addRow(fieldset) {
    var template = fieldset.querySelector("template");
    var row = document.createElement("tr");
    row.className = "row";
    row.innerHTML = template.innerHTML.replace(/__i__/g, "0");
    fieldset.querySelector("tbody").appendChild(row);
    renumber(fieldset);
    var first = row.querySelector("input, select, textarea");
    if (first) first.focus();
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.classList.contains("add-row")) {
      addRow(target.closest("fieldset.rows"));
    } else if (target.classList.contains("remove-row")) {
      var fieldset = target.closest("fieldset.rows");
      target.closest("tr").remove();
      renumber(fieldset);
    }
  });

  function prepare(root) {
    root.querySelectorAll("fieldset.rows").forEach(function (fieldset) {
      var min = parseInt(fieldset.getAttribute("data-min") || "0", 10);
      while (fieldset.querySelectorAll("tbody tr.row").length < Math.max(min, 1)) addRow(fieldset);
    });
  }
  prepare(document);
  // A field required only while another has a value shows its mark as soon as it applies.
  function conditions(root) {
    var marks = root.querySelectorAll(".req.cond[data-when-field]");
    if (!marks.length) return;
    var form = marks[0].closest("form") || root;
    function current(name) {
      var inputs = form.querySelectorAll('[name="' + name + '"]');
      for (var i = 0; i < inputs.length; i++) {
        var input = inputs[i];
        if (input.type === "radio" || input.type === "checkbox") { if (input.checked) return input.value; }
        else return input.value;
      }
      return "";
    }
    function update() {
      marks.forEach(function (mark) {
        var matches = current(mark.getAttribute("data-when-field")) === mark.getAttribute("data-when-value");
        var asked = current(mark.getAttribute("data-when-field")) !== "";
        var on = mark.getAttribute("data-when-on") === "1" ? matches : asked && !matches;
        mark.hidden = !on;
        var field = mark.closest(".field");
        var input = field && field.querySelector("input, textarea, select");
        if (input) input.setAttribute("aria-required", on ? "true" : "false");
      });
    }
    form.addEventListener("change", update);
    form.addEventListener("input", update);
    update();
  }
  conditions(document);
  // The editor's form preview and scenario recorder draw forms after the page has loaded.
  window.mutuForms = { prepare: function (root) { prepare(root); conditions(root); } };

  var holder = document.getElementById("diagram");
  // Zoom in and out, fit to the card, and full screen (Escape leaves it).
  function tools(viewer, canvas) {
    var bar = document.getElementById("diagram-tools");
    if (!bar) return;
    var card = holder.closest(".card") || holder;
    function fit() { canvas.resized(); canvas.zoom("fit-viewport", "auto"); }
    function full(on) {
      card.classList.toggle("diagram-full", on);
      document.body.classList.toggle("no-scroll", on);
      bar.querySelector("[data-zoom=full]").setAttribute("aria-pressed", on ? "true" : "false");
      fit();
    }
    bar.hidden = false;
    bar.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-zoom]");
      if (!button) return;
      var what = button.getAttribute("data-zoom");
      if (what === "in") canvas.zoom(canvas.zoom() * 1.25);
      else if (what === "out") canvas.zoom(canvas.zoom() / 1.25);
      else if (what === "fit") fit();
      else if (what === "full") full(!card.classList.contains("diagram-full"));
      holder.setAttribute("data-zoom", String(Math.round(canvas.zoom() * 100)));
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && card.classList.contains("diagram-full")) full(false);
    });
  }
  if (holder && window.BpmnJS) {
    fetch(holder.getAttribute("data-src"), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        var viewer = new window.BpmnJS({ container: holder });
        return viewer.importXML(data.xml).then(function () {
          var canvas = viewer.get("canvas");
          var registry = viewer.get("elementRegistry");
          function mark(ids, css) {
            ids.forEach(function (id) {
              if (registry.get(id)) canvas.addMarker(id, css);
            });
          }
          mark(data.completed, "mutu-done");
          mark(data.active, "mutu-active");
          mark(data.incident, "mutu-incident");
          canvas.zoom("fit-viewport");
          var focus = registry.get(data.incident[0] || data.active[0] || "");
          if (focus && holder.classList.contains("focus")) {
            // A task page shows the waiting element at reading size, not the whole map.
            var width = Math.max(holder.clientWidth, 300), height = Math.max(holder.clientHeight, 200);
            canvas.viewbox({ x: focus.x + focus.width / 2 - width / 2, y: focus.y + focus.height / 2 - height / 2,
              width: width, height: height });
          }
          holder.setAttribute("data-ready", "true");
          holder.setAttribute("data-active", data.active.join(" "));
          tools(viewer, canvas);
        });
      })
      .catch(function (error) {
        holder.textContent = String(error);
        holder.setAttribute("data-ready", "error");
      });
  }
})();

// The inbox's "tick every task on this page" box.
(function () {
  "use strict";
  var all = document.querySelector("[data-tick-all]");
  if (!all) return;
  all.addEventListener("change", function () {
    document.querySelectorAll('input[name="task_ids"]').forEach(function (box) { box.checked = all.checked; });
  });
})();
