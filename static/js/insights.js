// The Insights page: four charts drawn as inline SVG from the statistics endpoints
// (flow, performance, tickets/colors). No library; colours come from insights.css, so
// both colour schemes work. Dates are UTC days, as the API counts them.
(() => {
  "use strict";

  const NS = "http://www.w3.org/2000/svg";
  const DAY_MS = 86400000;
  const root = document.getElementById("insights");
  if (!root) return;

  const state = { flow: null, performance: null, colors: null };
  const status = root.querySelector("[data-status]");
  const form = root.querySelector("[data-range-form]");
  const fromInput = root.querySelector("[data-range-from]");
  const toInput = root.querySelector("[data-range-to]");

  // ------------------------------------------------------------ small helpers

  function el(tag, attrs, parent, text) {
    const node = document.createElementNS(NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function tip(node, text) {
    el("title", {}, node, text);
    return node;
  }

  function niceStep(span, count, integer) {
    const raw = Math.max(span, 1e-9) / Math.max(count, 1);
    const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    const norm = raw / magnitude;
    const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * magnitude;
    return integer ? Math.max(1, Math.round(step)) : step;
  }

  function niceTicks(max, count, integer) {
    const step = niceStep(max || 1, count, integer);
    const top = Math.max(step, Math.ceil((max || 0) / step) * step);
    const ticks = [];
    for (let value = 0; value <= top + step / 2; value += step) ticks.push(value);
    return ticks;
  }

  function durationUnit(maxSeconds) {
    if (maxSeconds < 120) return { size: 1, short: "s", name: "seconds" };
    if (maxSeconds < 2 * 3600) return { size: 60, short: "min", name: "minutes" };
    if (maxSeconds < 2 * 86400) return { size: 3600, short: "h", name: "hours" };
    return { size: 86400, short: "d", name: "days" };
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const unit = durationUnit(seconds);
    const value = seconds / unit.size;
    return `${value >= 10 ? Math.round(value) : Math.round(value * 10) / 10} ${unit.short}`;
  }

  function number(value) {
    return Math.round(value * 10) / 10;
  }

  function dayLabel(ms) {
    return new Date(ms).toLocaleDateString(undefined, {
      month: "short",
      day: "numeric",
      timeZone: "UTC",
    });
  }

  function dayMs(iso) {
    return Date.parse(`${iso}T00:00:00Z`);
  }

  function isoDay(ms) {
    return new Date(ms).toISOString().slice(0, 10);
  }

  // A chart frame: an <svg> as wide as its container, with a plot area inside margins.
  function frame(chart, height, margin) {
    const body = chart.querySelector("[data-chart-body]");
    body.replaceChildren();
    const width = Math.max(body.clientWidth || 0, 320);
    const svg = el("svg", {
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      class: "chart-svg",
    }, body);
    const plot = {
      left: margin.left,
      right: width - margin.right,
      top: margin.top,
      bottom: height - margin.bottom,
    };
    plot.width = plot.right - plot.left;
    plot.height = plot.bottom - plot.top;
    return { svg, plot, width, height };
  }

  function yAxis(svg, plot, ticks, scale, label, format) {
    const group = el("g", { class: "axis axis-y" }, svg);
    for (const value of ticks) {
      const y = scale(value);
      el("line", { x1: plot.left, x2: plot.right, y1: y, y2: y, class: "grid" }, group);
      el("text", { x: plot.left - 6, y: y + 4, "text-anchor": "end" }, group, format(value));
    }
    el("text", {
      class: "axis-label",
      transform: `translate(14 ${plot.top + plot.height / 2}) rotate(-90)`,
      "text-anchor": "middle",
    }, group, label);
  }

  function xAxis(svg, plot, ticks, label) {
    const group = el("g", { class: "axis axis-x" }, svg);
    el("line", { x1: plot.left, x2: plot.right, y1: plot.bottom, y2: plot.bottom, class: "baseline" }, group);
    for (const tick of ticks) {
      el("line", { x1: tick.x, x2: tick.x, y1: plot.bottom, y2: plot.bottom + 4, class: "tick" }, group);
      el("text", { x: tick.x, y: plot.bottom + 17, "text-anchor": "middle" }, group, tick.text);
    }
    el("text", {
      class: "axis-label",
      x: plot.left + plot.width / 2,
      y: plot.bottom + 36,
      "text-anchor": "middle",
    }, group, label);
  }

  function empty(svg, plot, message) {
    el("text", {
      class: "empty",
      x: plot.left + plot.width / 2,
      y: plot.top + plot.height / 2,
      "text-anchor": "middle",
    }, svg, message);
  }

  function linear(d0, d1, r0, r1) {
    const span = d1 - d0 || 1;
    return (value) => r0 + ((value - d0) / span) * (r1 - r0);
  }

  function dateTicks(startMs, endMs, x, width) {
    const days = Math.max(1, Math.round((endMs - startMs) / DAY_MS));
    const every = Math.max(1, Math.ceil(days / Math.max(2, Math.floor(width / 72))));
    const ticks = [];
    for (let offset = 0; offset < days; offset += every) {
      const ms = startMs + offset * DAY_MS;
      ticks.push({ x: x(ms), text: dayLabel(ms) });
    }
    return ticks;
  }

  // ------------------------------------------------------------ cumulative flow

  // The backlog is grey and done is green; working columns take the hues between.
  function bandClass(index, count) {
    if (index === 0) return "band band-0";
    if (index === count - 1) return "band band-7";
    return `band band-${1 + ((index - 1) % 6)}`;
  }

  function drawFlow(data) {
    const chart = root.querySelector('[data-chart="flow"]');
    const { svg, plot } = frame(chart, 320, { left: 52, right: 16, top: 12, bottom: 46 });
    svg.setAttribute("aria-label", "Cumulative flow diagram");
    const columns = data.columns;
    const days = data.days;
    // Bands are stacked from the last column (done) up to the first (backlog).
    const order = columns.map((name, index) => ({ name, index })).reverse();
    const totals = days.map((day) => columns.reduce((sum, name) => sum + (day.counts[name] || 0), 0));
    const ticks = niceTicks(Math.max(0, ...totals), 5, true);
    const y = linear(0, ticks[ticks.length - 1], plot.bottom, plot.top);
    const first = dayMs(data.period.from);
    const last = dayMs(data.period.to);
    // One point per day (its end-of-day counts); a single day spans the whole width.
    const x = days.length > 1 ? linear(first, last, plot.left, plot.right) : () => plot.left;
    yAxis(svg, plot, ticks, y, "Tickets", String);
    const points = (values) =>
      days.length > 1
        ? values.map((value, i) => [x(dayMs(days[i].date)), y(value)])
        : [[plot.left, y(values[0])], [plot.right, y(values[0])]];
    const below = days.map(() => 0);
    const bands = el("g", { class: "bands" }, svg);
    for (const { name, index } of order) {
      const lower = below.slice();
      const upper = days.map((day, i) => lower[i] + (day.counts[name] || 0));
      upper.forEach((value, i) => { below[i] = value; });
      const top = points(upper);
      const bottom = points(lower).reverse();
      const path = [...top, ...bottom].map(([px, py], i) => `${i ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`).join(" ") + " Z";
      const latest = days.length ? days[days.length - 1].counts[name] || 0 : 0;
      tip(el("path", { d: path, class: bandClass(index, columns.length), "data-column": name }, bands), `${name}: ${latest} now`);
    }
    const ticksX = dateTicks(first, last + DAY_MS, days.length > 1 ? x : () => plot.left, plot.width);
    xAxis(svg, plot, ticksX, "Day (UTC)");
    const legend = chart.querySelector("[data-legend]");
    legend.replaceChildren();
    columns.forEach((name, index) => {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = `swatch ${bandClass(index, columns.length)}`;
      item.append(swatch, name);
      legend.appendChild(item);
    });
  }

  // ------------------------------------------------------------ cycle-time scatter

  function drawScatter(data) {
    const chart = root.querySelector('[data-chart="scatter"]');
    const { svg, plot } = frame(chart, 300, { left: 56, right: 64, top: 14, bottom: 46 });
    svg.setAttribute("aria-label", "Cycle time scatter plot");
    const points = data.finished.filter((t) => t.cycle_time_seconds !== null);
    const cycle = data.cycle_time;
    const maxSeconds = Math.max(1, cycle.p95_seconds || 0, ...points.map((t) => t.cycle_time_seconds));
    const unit = durationUnit(maxSeconds);
    const ticks = niceTicks(maxSeconds / unit.size, 5, false);
    const y = linear(0, ticks[ticks.length - 1], plot.bottom, plot.top);
    const start = dayMs(data.period.from);
    const end = dayMs(data.period.to) + DAY_MS;
    const x = linear(start, end, plot.left, plot.right);
    yAxis(svg, plot, ticks, y, `Cycle time (${unit.name})`, (v) => String(number(v)));
    xAxis(svg, plot, dateTicks(start, end, x, plot.width), "Finished on (UTC)");
    if (!points.length) {
      empty(svg, plot, "No ticket finished in this period");
      return;
    }
    const lines = el("g", { class: "percentiles" }, svg);
    for (const p of [50, 85, 95]) {
      const seconds = cycle[`p${p}_seconds`];
      if (seconds === null) continue;
      const py = y(seconds / unit.size);
      tip(el("line", { x1: plot.left, x2: plot.right, y1: py, y2: py, class: `pline pline-${p}` }, lines),
        `${p}% of tickets finished within ${duration(seconds)}`);
      el("text", { x: plot.right + 4, y: py + 4, class: `plabel plabel-${p}` }, lines, `p${p} ${duration(seconds)}`);
    }
    const dots = el("g", { class: "dots" }, svg);
    for (const ticket of points) {
      const at = Date.parse(ticket.finished_at);
      const circle = el("circle", {
        cx: x(at).toFixed(1),
        cy: y(ticket.cycle_time_seconds / unit.size).toFixed(1),
        r: 4,
        class: "dot dot-cycle",
      }, dots);
      tip(circle, `#${ticket.ticket_id}: ${duration(ticket.cycle_time_seconds)} cycle, ${duration(ticket.lead_time_seconds)} lead, finished ${dayLabel(at)}`);
    }
  }

  // ------------------------------------------------------------ throughput per week

  function drawThroughput(data) {
    const chart = root.querySelector('[data-chart="throughput"]');
    const { svg, plot } = frame(chart, 300, { left: 48, right: 16, top: 18, bottom: 46 });
    svg.setAttribute("aria-label", "Throughput per week");
    const weeks = data.throughput_weekly;
    const ticks = niceTicks(Math.max(0, ...weeks.map((w) => w.count)), 4, true);
    const y = linear(0, ticks[ticks.length - 1], plot.bottom, plot.top);
    yAxis(svg, plot, ticks, y, "Tickets finished", String);
    const slot = plot.width / Math.max(weeks.length, 1);
    const every = Math.max(1, Math.ceil(weeks.length / Math.max(2, Math.floor(plot.width / 64))));
    const bars = el("g", { class: "bars" }, svg);
    const labels = [];
    const first = dayMs(data.period.from);
    const last = dayMs(data.period.to);
    weeks.forEach((week, i) => {
      const start = dayMs(week.week_start);
      const partial = start < first || start + 6 * DAY_MS > last;
      const cx = plot.left + slot * (i + 0.5);
      const width = Math.max(2, slot * 0.7);
      const top = y(week.count);
      const bar = el("rect", {
        x: (cx - width / 2).toFixed(1),
        y: top.toFixed(1),
        width: width.toFixed(1),
        height: Math.max(0, plot.bottom - top).toFixed(1),
        class: partial ? "bar bar-partial" : "bar",
      }, bars);
      tip(bar, `Week of ${dayLabel(start)}: ${week.count} finished${partial ? " (part of the week is outside the period)" : ""}`);
      if (week.count) el("text", { x: cx, y: top - 4, "text-anchor": "middle", class: "bar-value" }, bars, String(week.count));
      if (i % every === 0) labels.push({ x: cx, text: dayLabel(start) });
    });
    xAxis(svg, plot, labels, "Week starting (UTC)");
  }

  // ------------------------------------------------------------ aging work in progress

  function jitter(id, spread) {
    const hash = Math.sin(id * 12.9898) * 43758.5453;
    return (hash - Math.floor(hash) - 0.5) * spread;
  }

  function drawAging(data) {
    const chart = root.querySelector('[data-chart="aging"]');
    const { svg, plot } = frame(chart, 320, { left: 56, right: 16, top: 14, bottom: 46 });
    svg.setAttribute("aria-label", "Aging work in progress");
    const columns = data.columns;
    const tickets = data.tickets;
    const maxSeconds = Math.max(
      1,
      ...tickets.map((t) => t.time_in_column_seconds),
      ...columns.map((c) => c.p85_seconds || 0),
    );
    const unit = durationUnit(maxSeconds);
    const ticks = niceTicks(maxSeconds / unit.size, 5, false);
    const y = linear(0, ticks[ticks.length - 1], plot.bottom, plot.top);
    yAxis(svg, plot, ticks, y, `Time in column (${unit.name})`, (v) => String(number(v)));
    const slot = plot.width / Math.max(columns.length, 1);
    const centre = {};
    columns.forEach((column, i) => { centre[column.name] = plot.left + slot * (i + 0.5); });
    xAxis(svg, plot, columns.map((c) => ({ x: centre[c.name], text: c.name })), "Working column");
    if (!columns.length) {
      empty(svg, plot, "This board has no working columns");
      return;
    }
    const refs = el("g", { class: "references" }, svg);
    for (const column of columns) {
      const left = centre[column.name] - slot * 0.4;
      const right = centre[column.name] + slot * 0.4;
      if (!column.judged) {
        el("text", { x: centre[column.name], y: plot.top + 12, "text-anchor": "middle", class: "note" }, refs,
          `${column.samples} of ${data.min_samples} stays needed`);
        continue;
      }
      for (const [key, css] of [["median_seconds", "line-median"], ["p85_seconds", "line-p85"]]) {
        const py = y(column[key] / unit.size);
        tip(el("line", { x1: left, x2: right, y1: py, y2: py, class: `ref ${css}` }, refs),
          `${column.name}: ${key.startsWith("median") ? "median" : "p85"} ${duration(column[key])} (${column.samples} stays)`);
      }
    }
    const dots = el("g", { class: "dots" }, svg);
    for (const ticket of tickets) {
      const cx = centre[ticket.column] + jitter(ticket.ticket_id, slot * 0.5);
      const circle = el("circle", {
        cx: cx.toFixed(1),
        cy: y(ticket.time_in_column_seconds / unit.size).toFixed(1),
        r: 5,
        class: `dot dot-${ticket.color}`,
        "data-ticket-id": ticket.ticket_id,
      }, dots);
      tip(circle, `#${ticket.ticket_id} ${ticket.title} — ${ticket.reason}`);
    }
    if (!tickets.length) empty(svg, plot, "No ticket in a working column");
  }

  // ------------------------------------------------------------ tiles and loading

  function tiles(performance, colors) {
    const set = (name, text) => { root.querySelector(`[data-tile="${name}"]`).textContent = text; };
    const weeks = performance.period.days / 7;
    set("finished", String(performance.finished_count));
    set("throughput", `${number(performance.finished_count / weeks)} / week`);
    set("cycle", `${duration(performance.cycle_time.p50_seconds)} / ${duration(performance.cycle_time.p85_seconds)}`);
    set("lead", `${duration(performance.lead_time.p50_seconds)} / ${duration(performance.lead_time.p85_seconds)}`);
    set("wip", String(colors.tickets.length));
  }

  function drawAll() {
    if (!state.flow) return;
    drawFlow(state.flow);
    drawScatter(state.performance);
    drawThroughput(state.performance);
    drawAging(state.colors);
    tiles(state.performance, state.colors);
  }

  async function getJson(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const message = body && body.error ? body.error.message : `HTTP ${response.status}`;
      throw new Error(message);
    }
    return body;
  }

  async function load() {
    // A cleared date is left out (the server's default), not sent empty (refused).
    const range = new URLSearchParams(
      Object.entries({ from: fromInput.value, to: toInput.value }).filter(([, value]) => value),
    );
    status.textContent = "Loading…";
    root.classList.add("is-loading");
    try {
      const [flow, performance, colors] = await Promise.all([
        getJson(`${root.dataset.flowUrl}?${range}`),
        getJson(`${root.dataset.performanceUrl}?${range}`),
        getJson(root.dataset.colorsUrl),
      ]);
      Object.assign(state, { flow, performance, colors });
      // The server clamps the range (to today at the latest): show what it used.
      fromInput.value = flow.period.from;
      toInput.value = flow.period.to;
      drawAll();
      status.textContent = "";
      root.dataset.ready = "true";
    } catch (error) {
      status.textContent = `Could not load the statistics: ${error.message}`;
    } finally {
      root.classList.remove("is-loading");
    }
  }

  function remember() {
    const url = new URL(window.location.href);
    url.searchParams.set("from", fromInput.value);
    url.searchParams.set("to", toInput.value);
    window.history.replaceState(null, "", url);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (fromInput.value && toInput.value && fromInput.value > toInput.value) {
      status.textContent = "The first day must not be after the last.";
      return;
    }
    remember();
    load();
  });

  root.querySelectorAll("[data-preset]").forEach((button) => {
    button.addEventListener("click", () => {
      const today = Date.parse(`${isoDay(Date.now())}T00:00:00Z`);
      toInput.value = isoDay(today);
      fromInput.value = isoDay(today - (Number(button.dataset.preset) - 1) * DAY_MS);
      remember();
      load();
    });
  });

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(drawAll, 150);
  });

  load();
})();
