// Targets: each card's trend drawn small, a target's trend against its goal and the pace the time
// gone asks for; a target set, a value entered with its evidence, a target changed — each through
// the API.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const words = JSON.parse($("words").textContent);
  const failed = async (r, where) => {
    const problem = await r.json().catch(() => ({}));
    where.textContent = words.failed.replace("{reason}", problem.detail || r.statusText);
  };
  const charts = [];
  const draw = (el, option) => {
    if (!window.echarts) return;
    const chart = echarts.init(el);
    chart.setOption(option);
    charts.push(chart);
  };
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));

  const community = $("community");
  if (community) community.addEventListener("change", () => community.form.submit());

  // --- the trend, small on each card ----------------------------------------------------------
  document.querySelectorAll(".spark").forEach((el) => {
    const trend = JSON.parse(el.dataset.trend);
    if (trend.length < 2) { el.hidden = true; return; }
    const goal = Number(el.dataset.goal);
    draw(el, {
      animation: false, grid: { left: 2, right: 2, top: 4, bottom: 2 },
      tooltip: { trigger: "axis", formatter: (p) => `${p[0].value[0]}: ${p[0].value[1]}` },
      xAxis: { type: "time", show: false },
      yAxis: { type: "value", show: false, min: 0, max: (v) => Math.max(v.max, goal) },
      series: [{ type: "line", data: trend, showSymbol: false, step: "end", areaStyle: { opacity: 0.15 }, color: "#1971c2",
        markLine: { silent: true, symbol: "none", label: { show: false }, lineStyle: { color: "#2b8a3e", type: "dashed" }, data: [{ yAxis: goal }] } }],
    });
  });

  // --- a target's trend, with its goal and the pace ---------------------------------------------
  const big = $("trend");
  if (big) {
    const d = big.dataset;
    const trend = JSON.parse(d.trend);
    const goal = Number(d.goal);
    draw(big, {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 8, right: 24, top: 16, bottom: 32, containLabel: true },
      xAxis: { type: "time", min: d.start, max: d.deadline },
      yAxis: { type: "value", max: (v) => Math.max(v.max, goal) },
      series: [
        { type: "line", name: words.value, data: trend, step: "end", color: "#1971c2", areaStyle: { opacity: 0.1 } },
        { type: "line", name: words.expected, data: [[d.start, Number(d.baseline)], [d.deadline, goal]], showSymbol: false,
          lineStyle: { type: "dotted" }, color: "#868e96" },
        { type: "line", name: words.target, data: [[d.start, goal], [d.deadline, goal]], showSymbol: false,
          lineStyle: { type: "dashed" }, color: "#2b8a3e" },
      ],
    });
    if (!trend.length) big.classList.add("nodata");
  }

  // --- a new target -----------------------------------------------------------------------------
  const dialog = $("set");
  if (dialog) {
    const form = $("set-form");
    $("new-target").addEventListener("click", () => dialog.showModal());
    $("set-cancel").addEventListener("click", () => dialog.close());
    // A measure brings its own definition and unit, which may then be worded otherwise.
    $("measure").addEventListener("change", (event) => {
      const option = event.target.selectedOptions[0];
      if (option.dataset.definition) form.elements.definition.value = option.dataset.definition;
      if (option.dataset.unit) form.elements.unit.value = option.dataset.unit;
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = form.elements;
      const body = {
        name: f.name.value.trim(), definition: f.definition.value.trim(), unit: f.unit.value.trim(),
        baseline: Number(f.baseline.value), target_value: Number(f.target_value.value),
        starts_on: f.starts_on.value, deadline: f.deadline.value, node_id: Number(f.node_id.value),
        measure: f.measure.value || null,
      };
      const r = await fetch("/api/v1/targets", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      if (r.ok) { window.location.href = `/targets/${(await r.json()).id}`; return; }
      await failed(r, $("set-message"));
    });
  }

  // --- a value entered with its evidence --------------------------------------------------------
  const enter = $("enter");
  if (enter) {
    enter.addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = enter.elements;
      const data = new FormData();
      data.append("reading", JSON.stringify({ value: Number(f.value.value), on: f.on.value, note: f.note.value.trim() }));
      if (f.evidence.files.length) data.append("evidence", f.evidence.files[0]);
      const r = await fetch(`/api/v1/targets/${enter.dataset.target}/readings`, { method: "POST", body: data });
      if (r.ok) { window.location.reload(); return; }
      await failed(r, $("enter-message"));
    });
  }

  // --- the terms changed, or the target withdrawn -----------------------------------------------
  const edit = $("edit");
  if (edit) {
    edit.addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = edit.elements;
      const body = {
        name: f.name.value.trim(), unit: f.unit.value.trim(), baseline: Number(f.baseline.value),
        target_value: Number(f.target_value.value), starts_on: f.starts_on.value, deadline: f.deadline.value,
        active: f.active.checked, version: Number(edit.dataset.version),
      };
      const r = await fetch(`/api/v1/targets/${edit.dataset.target}`, { method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      if (r.ok) { window.location.reload(); return; }
      await failed(r, $("edit-message"));
    });
  }
})();
