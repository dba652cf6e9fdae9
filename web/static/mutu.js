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
  // The editor's form preview and scenario recorder draw forms after the page has loaded.
  window.mutuForms = { prepare: prepare };

  var holder = document.getElementById("diagram");
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
