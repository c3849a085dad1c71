// Draws every [data-code] element's text as a QR code (qrcode-generator), for printing green-lane passes.
(function () {
  "use strict";
  const ALNUM = /^[0-9A-Z $%*+\-./:]*$/; // Base45 codes fit QR alphanumeric mode: a smaller symbol
  document.querySelectorAll("[data-code]").forEach((el) => {
    const text = el.getAttribute("data-code");
    if (!text || typeof window.qrcode !== "function") return;
    const qr = window.qrcode(0, "M");
    qr.addData(text, ALNUM.test(text) ? "Alphanumeric" : "Byte");
    qr.make();
    el.innerHTML = qr.createSvgTag({ cellSize: 4, margin: 4, scalable: true });
    el.classList.add("qr-drawn");
  });
})();
