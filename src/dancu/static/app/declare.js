// Declaration form: show the plate or flight/seat field that fits the means of transport, name the chosen
// commune under the unit pickers, and switch the traveller without a submit button.
(function () {
  "use strict";
  var ROAD = ["private_car", "motorbike", "coach", "other"];
  var DETAIL = ["coach", "train", "plane", "ship"];

  function showTransportFields() {
    var select = document.getElementById("transport");
    if (!select) return;
    var mode = select.value;
    var plate = document.getElementById("plate-field");
    var detail = document.getElementById("detail-field");
    if (plate) plate.hidden = ROAD.indexOf(mode) < 0;
    if (detail) {
      detail.hidden = DETAIL.indexOf(mode) < 0 && mode !== "other";
      var input = document.getElementById("transport_detail");
      if (input) input.required = DETAIL.indexOf(mode) >= 0;
    }
  }

  function nameUnit(input) {
    var target = document.getElementById(input.getAttribute("data-unit-picker"));
    var list = input.list;
    if (!target || !list) return;
    for (var i = 0; i < list.options.length; i++) {
      if (list.options[i].value === input.value) {
        target.textContent = list.options[i].textContent;
        return;
      }
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("transport");
    if (select) {
      select.addEventListener("change", showTransportFields);
      showTransportFields();
    }
    document.querySelectorAll("[data-unit-picker]").forEach(function (input) {
      input.addEventListener("change", function () { nameUnit(input); });
      input.addEventListener("input", function () { nameUnit(input); });
    });
    document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
      el.addEventListener("change", function () { el.form.submit(); });
    });
  });
})();
