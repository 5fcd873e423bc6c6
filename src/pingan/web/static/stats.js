// Statistics: each card draws its figure (the same numbers as its CSV).
"use strict";
(() => {
  const span = JSON.parse(document.getElementById("span").textContent);
  const words = span.words;
  const charts = [];
  const percent = (v) => `${(100 * v).toFixed(1)}%`;
  const TABLES = ["defences", "incident_outcomes"];

  function option(figure) {
    const rows = figure.rows;
    const cats = rows.map((r) => String(r[0]));
    const base = { tooltip: { trigger: "axis" }, grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true } };
    switch (figure.name) {
      case "by_day":
        return { ...base, xAxis: { type: "category", data: cats }, yAxis: { type: "value", minInterval: 1 },
          series: [{ type: "line", name: words.alarms, data: rows.map((r) => r[1]), areaStyle: {}, smooth: true }] };
      case "false_alarm_rate":
        return { ...base, xAxis: { type: "value", max: 1, axisLabel: { formatter: percent } },
          yAxis: { type: "category", data: cats.slice(0, 15).reverse() },
          series: [{ type: "bar", name: words.rate, data: rows.slice(0, 15).map((r) => r[3]).reverse(), color: "#e8590c" }] };
      case "device_online":
        return { ...base, xAxis: { type: "value", max: 1, axisLabel: { formatter: percent } },
          yAxis: { type: "category", data: cats },
          series: [{ type: "bar", name: words.rate, data: rows.map((r) => r[3]), color: "#2b8a3e" }] };
      case "patrol_coverage": {
        // One bar per route, team and community: its share of checkpoints reached on time.
        const names = rows.map((r) => [r[3], r[2], r[1]].find((v) => v) || r[0]);
        return { ...base, xAxis: { type: "value", max: 1, axisLabel: { formatter: percent } },
          yAxis: { type: "category", data: names.slice(0, 15).reverse() },
          series: [{ type: "bar", name: words.rate, data: rows.slice(0, 15).map((r) => r[7]).reverse(), color: "#1971c2" }] };
      }
      case "volunteer_hours":
        return { ...base, xAxis: { type: "value" },
          yAxis: { type: "category", data: rows.slice(0, 15).map((r) => r[3]).reverse() },
          series: [{ type: "bar", name: words.hours, data: rows.slice(0, 15).map((r) => r[4]).reverse(), color: "#5f3dc4" }] };
      case "incidents_by_category":
      case "incidents_by_community":
      case "incidents_by_grid":
      case "incidents_by_channel":
      case "incidents_by_street":
        return { ...base, xAxis: { type: "value", minInterval: 1 },
          yAxis: { type: "category", data: cats.slice(0, 15).reverse() },
          series: [{ type: "bar", name: words.incidents, data: rows.slice(0, 15).map((r) => r[1]).reverse(), color: "#c2255c" }] };
      case "incident_times":
        return { ...base, xAxis: { type: "category", data: cats }, yAxis: { type: "value", name: words.hours },
          series: [{ type: "bar", name: words.p50, data: rows.map((r) => r[2]) },
            { type: "bar", name: words.p90, data: rows.map((r) => r[3]) }] };
      case "facility_items": {
        // Site types across, items down, each cell the share of sites with the item present.
        const types = [...new Set(rows.map((r) => r[0]))];
        const items = [...new Set(rows.map((r) => r[1]))].reverse();
        return { tooltip: { formatter: (p) => `${p.value[0] !== undefined ? types[p.value[0]] : ""} · ${items[p.value[1]]}: ${percent(p.value[2])}` },
          grid: { left: 8, right: 16, top: 8, bottom: 40, containLabel: true },
          xAxis: { type: "category", data: types, axisLabel: { interval: 0 } }, yAxis: { type: "category", data: items },
          visualMap: { min: 0, max: 1, orient: "horizontal", left: "center", bottom: 0, itemHeight: 120, calculable: false,
            inRange: { color: ["#c92a2a", "#f08c00", "#94d82d", "#2b8a3e"] }, formatter: percent },
          series: [{ type: "heatmap", data: rows.filter((r) => r[4] !== null).map((r) => [types.indexOf(r[0]), items.indexOf(r[1]), r[4]]) }] };
      }
      case "facility_courtyards":
        return { ...base, xAxis: { type: "value", max: 1, axisLabel: { formatter: percent } },
          yAxis: { type: "category", data: cats.slice(0, 20).reverse() },
          series: [{ type: "bar", name: words.rate, data: rows.slice(0, 20).map((r) => r[3]).reverse(), color: "#2b8a3e" }] };
      case "inspections":
        return { ...base, legend: { top: 0 }, grid: { ...base.grid, top: 28 }, xAxis: { type: "value", minInterval: 1 },
          yAxis: { type: "category", data: cats.slice(0, 20).reverse() },
          series: [{ type: "bar", name: words.inspections, data: rows.slice(0, 20).map((r) => r[2]).reverse(), color: "#1971c2" },
            { type: "bar", name: words.late, data: rows.slice(0, 20).map((r) => r[4]).reverse(), color: "#c92a2a" }] };
      case "renovation": {
        const own = rows.slice(0, -1);  // the last row is the street's
        return { ...base, legend: { top: 0 }, grid: { ...base.grid, top: 28 }, xAxis: { type: "value", minInterval: 1 },
          yAxis: { type: "category", data: own.map((r) => String(r[0])).reverse() },
          series: [{ type: "bar", name: words.projects, data: own.map((r) => r[1]).reverse(), color: "#868e96" },
            { type: "bar", name: words.renovated, data: own.map((r) => r[2]).reverse(), color: "#2b8a3e" }] };
      }
      case "volunteers": {
        // Per community: volunteers confirmed, and the hours served in the period.
        const per = new Map();
        for (const r of rows) {
          const c = per.get(r[0]) || [0, 0];
          per.set(r[0], [c[0] + r[2], c[1] + r[5] + r[6]]);
        }
        const names = [...per.keys()].slice(0, 20).reverse();
        return { ...base, legend: { top: 0 }, grid: { ...base.grid, top: 28 }, xAxis: { type: "value" },
          yAxis: { type: "category", data: names },
          series: [{ type: "bar", name: words.volunteers, data: names.map((n) => per.get(n)[0]), color: "#5f3dc4" },
            { type: "bar", name: words.hours, data: names.map((n) => Math.round(per.get(n)[1])), color: "#f08c00" }] };
      }
      case "targets":
        // Each target: the share of the way done beside the share of the time gone.
        return { ...base, legend: { top: 0 }, grid: { ...base.grid, top: 28 },
          xAxis: { type: "value", max: (v) => Math.max(1, v.max), axisLabel: { formatter: percent } },
          yAxis: { type: "category", data: cats.slice(0, 20).reverse() },
          series: [{ type: "bar", name: words.done, data: rows.slice(0, 20).map((r) => r[8]).reverse(), color: "#1971c2" },
            { type: "bar", name: words.time, data: rows.slice(0, 20).map((r) => r[9]).reverse(), color: "#ced4da" }] };
      case "by_category":
        return { tooltip: { trigger: "item" },
          series: [{ type: "pie", radius: ["35%", "70%"], data: rows.map((r) => ({ name: r[1], value: r[2] })) }] };
      default:
        return { ...base, xAxis: { type: "category", data: cats, axisLabel: { interval: 0, rotate: cats.length > 8 ? 30 : 0 } },
          yAxis: { type: "value", minInterval: 1 }, series: [{ type: "bar", name: words.alarms, data: rows.map((r) => r[1]) }] };
    }
  }

  function table(figure, box) {
    // Figures that are a few numbers (the three defences, the incidents' outcomes) read better
    // as a table from across a room than as a chart. Each row ends with its value and unit.
    const t = document.createElement("table");
    t.className = "list defences";
    for (const row of figure.rows) {
      const tr = t.insertRow();
      const [value, unit] = row.slice(-2);
      for (const word of row.slice(0, -2)) tr.insertCell().textContent = word;
      tr.insertCell().textContent = value === null ? "—" : unit === "ratio" ? percent(value) : value;
    }
    box.replaceWith(t);
  }

  // The figures come in the page, computed from one load of the period (the same numbers as
  // GET /api/v1/figures/{name} and its CSV).
  for (const figure of JSON.parse(document.getElementById("figures").textContent)) {
    const card = document.querySelector(`[data-figure="${figure.name}"]`);
    const box = card.querySelector(".chart");
    if (TABLES.includes(figure.name)) table(figure, box);
    else if (figure.rows.every((r) => r.every((v) => typeof v !== "number" || v === 0))) {
      box.classList.add("nodata");
      box.textContent = words.none;
    } else {
      const chart = echarts.init(box, null, { renderer: "svg" });
      chart.setOption({ animation: false, ...option(figure) });  // a console, not a show
      charts.push(chart);
    }
    card.dataset.loaded = "1";
  }
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));

  for (const button of document.querySelectorAll("[data-days]")) {
    button.addEventListener("click", () => {
      const form = button.closest("form");
      const end = new Date(new Date().toLocaleString("en-US", { timeZone: "Asia/Shanghai" }));
      const start = new Date(end.getTime() - (Number(button.dataset.days) - 1) * 86400000);
      const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
      form.elements.start.value = iso(start);
      form.elements.end.value = iso(end);
      form.submit();
    });
  }
})();
