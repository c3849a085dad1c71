// Live inbox: new notices arrive as server-sent events (data = the rendered table row) and are
// prepended to #inbox without a reload; a counter shows how many arrived since the page opened.
(function () {
  const table = document.getElementById("inbox");
  if (!table || !window.EventSource || !table.dataset.stream) return;
  const tbody = table.tBodies[0];
  const live = table.dataset.live === "1"; // only page 1 shows new rows; other pages just count
  const counter = document.getElementById("inbox-new-count");
  const status = document.getElementById("inbox-status");
  const title = document.title;
  let count = 0;
  const source = new EventSource(table.dataset.stream);

  source.addEventListener("ready", () => {
    table.dataset.connected = "1";
    if (status) status.textContent = status.dataset.live;
  });
  source.addEventListener("notice", (e) => {
    if (document.getElementById("notice-" + e.lastEventId)) return; // already shown
    count += 1;
    if (counter) counter.textContent = String(count);
    document.title = "(" + count + ") " + title;
    if (!live) return;
    const tpl = document.createElement("template");
    tpl.innerHTML = e.data.trim();
    const row = tpl.content.firstElementChild;
    if (!row) return;
    const empty = tbody.querySelector("tr.empty");
    if (empty) empty.remove();
    tbody.prepend(row);
    if (window.htmx) window.htmx.process(row);
  });
  source.addEventListener("error", () => {
    table.dataset.connected = "0";
    if (status) status.textContent = status.dataset.offline;
  });
  window.addEventListener("pagehide", () => source.close());
})();
