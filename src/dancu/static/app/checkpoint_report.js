// Charts of the checkpoint report: the data comes as JSON in <script type="application/json" id="report-data">.
(function () {
  "use strict";
  const node = document.getElementById("report-data");
  if (!node || typeof window.Chart !== "function") return;
  const data = JSON.parse(node.textContent);
  const labels = JSON.parse(document.getElementById("report-labels").textContent);
  const byDay = document.getElementById("chart-days");
  if (byDay) {
    new window.Chart(byDay, {
      type: "bar",
      data: {
        labels: data.days,
        datasets: [
          { label: labels.confirmed, data: data.confirmed, backgroundColor: "#137333" },
          { label: labels.refused, data: data.refused, backgroundColor: "#b3261e" },
        ],
      },
      options: { responsive: true, animation: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
    });
  }
  const byHour = document.getElementById("chart-hours");
  if (byHour) {
    new window.Chart(byHour, {
      type: "bar",
      data: { labels: data.hours, datasets: [{ label: labels.scanned, data: data.by_hour, backgroundColor: "#0b5cad" }] },
      options: { responsive: true, animation: false, scales: { y: { beginAtZero: true } } },
    });
  }
})();
