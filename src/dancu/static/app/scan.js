// The officer's scan page: a USB scanner types into #scan-input, the camera decodes QR codes with jsQR,
// and after every verdict or decision the input is cleared and focused for the next person.
(function () {
  "use strict";
  const input = document.getElementById("scan-input");
  const form = document.getElementById("scan-form");
  if (!input || !form) return;
  const method = document.getElementById("scan-method");
  const errorBox = document.getElementById("scan-error");
  const manual = document.getElementById("manual-id");
  const startBtn = document.getElementById("camera-start");
  const video = document.getElementById("camera-video");
  const canvas = document.getElementById("camera-canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const FRAME_MS = 150;        // decode ~7 frames a second: enough for a held-up code, kind to phone batteries
  const SAME_CODE_MS = 4000;   // a code that stays in view is submitted once, not on every frame
  const MAX_SIDE = 720;        // frames are scaled down before decoding
  let stream = null;
  let timer = 0;
  let lastCode = "";
  let lastSeen = 0;

  function ready() {
    input.value = "";
    method.value = "usb";
    input.focus();
  }

  function showError(html) {
    errorBox.innerHTML = html;
  }

  // A scanner may end with CR LF (two Enters) or send an empty line: never submit nothing.
  document.addEventListener("htmx:configRequest", (e) => {
    if (e.detail.elt === form && !input.value.trim()) e.preventDefault();
  });
  document.addEventListener("htmx:beforeRequest", () => showError(""));
  document.addEventListener("htmx:afterSwap", (e) => {
    if (e.detail.target && e.detail.target.id === "result") {
      if (manual) manual.value = "";
      ready();
    }
  });
  document.addEventListener("htmx:responseError", (e) => {
    showError(e.detail.xhr.responseText || "Error " + e.detail.xhr.status);
    ready();
  });
  document.addEventListener("htmx:sendError", () => {
    const p = document.createElement("p");
    p.className = "flash error";
    p.textContent = errorBox.dataset.network || "Network error: nothing was recorded. Tap again.";
    errorBox.replaceChildren(p);
  });

  function submitCode(code) {
    input.value = code;
    method.value = "camera";
    form.requestSubmit();
  }

  function tick() {
    if (!stream) return;
    const w = video.videoWidth;
    const h = video.videoHeight;
    if (w && h && typeof window.jsQR === "function") {
      const scale = Math.min(1, MAX_SIDE / Math.max(w, h));
      const cw = Math.round(w * scale);
      const ch = Math.round(h * scale);
      if (canvas.width !== cw) canvas.width = cw;
      if (canvas.height !== ch) canvas.height = ch;
      ctx.drawImage(video, 0, 0, cw, ch);
      const found = window.jsQR(ctx.getImageData(0, 0, cw, ch).data, cw, ch, { inversionAttempts: "dontInvert" });
      if (found && found.data) {
        const now = Date.now();
        if (found.data !== lastCode || now - lastSeen > SAME_CODE_MS) submitCode(found.data);
        lastCode = found.data;
        lastSeen = now;
      }
    }
    timer = window.setTimeout(tick, FRAME_MS);
  }

  async function startCamera() {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (err) {
      stream = null;
      const p = document.createElement("p");
      p.className = "flash error";
      p.textContent = startBtn.dataset.denied;
      errorBox.replaceChildren(p);
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    try { await video.play(); } catch (err) { /* autoplay of a muted stream is allowed; ignore */ }
    startBtn.textContent = startBtn.dataset.stop;
    startBtn.setAttribute("aria-pressed", "true");
    timer = window.setTimeout(tick, FRAME_MS);
  }

  function stopCamera() {
    window.clearTimeout(timer);
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    video.srcObject = null;
    video.hidden = true;
    startBtn.textContent = startBtn.dataset.start;
    startBtn.setAttribute("aria-pressed", "false");
    ready();
  }

  startBtn.addEventListener("click", () => (stream ? stopCamera() : startCamera()));
  window.addEventListener("pagehide", () => { if (stream) stopCamera(); });
  ready();
})();
