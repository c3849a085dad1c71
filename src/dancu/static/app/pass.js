// Travel pass: draw each <canvas data-code> as a QR code (qrcode-generator, error correction Q, a 4-module
// quiet zone), save it as a PNG, and print.
(function () {
  "use strict";
  var QUIET = 4;
  var ALNUM = /^[0-9A-Z $%*+\-.\/:]*$/;

  function draw(canvas) {
    var text = canvas.getAttribute("data-code");
    if (!text || typeof qrcode !== "function") return;
    var qr = qrcode(0, "Q");
    qr.addData(text, ALNUM.test(text) ? "Alphanumeric" : "Byte");
    qr.make();
    var count = qr.getModuleCount();
    var total = count + 2 * QUIET;
    var cell = Math.max(1, Math.floor(canvas.width / total));
    var size = cell * total;
    canvas.width = size;
    canvas.height = size;
    var ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, size, size);
    ctx.fillStyle = "#000";
    for (var r = 0; r < count; r++) {
      for (var c = 0; c < count; c++) {
        if (qr.isDark(r, c)) ctx.fillRect((c + QUIET) * cell, (r + QUIET) * cell, cell, cell);
      }
    }
    canvas.setAttribute("data-rendered", String(count));
  }

  function save(button) {
    var canvas = document.getElementById(button.getAttribute("data-save-qr"));
    if (!canvas) return;
    var link = document.createElement("a");
    link.download = button.getAttribute("data-filename") || "pass.png";
    link.href = canvas.toDataURL("image/png");
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-code]").forEach(draw);
    document.querySelectorAll("[data-save-qr]").forEach(function (b) {
      b.addEventListener("click", function () { save(b); });
    });
    document.querySelectorAll("[data-print]").forEach(function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
  });
})();
