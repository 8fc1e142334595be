// Helpline dashboard: polls /dashboard/api/live and /dashboard/api/report and redraws.
// Customer and author text is only ever put in the page with textContent (never innerHTML), and the
// charts are SVG images drawn by the server, so nothing received can run as script here.
"use strict";

(function () {
  const body = document.body;
  const refreshMs = Math.max(1, Number(body.dataset.refresh) || 5) * 1000;
  const params = new URLSearchParams(location.search);
  const sinceSelect = document.getElementById("since");
  const teamSelect = document.getElementById("team");
  const status = document.getElementById("status");
  let until = params.get("until") || "";
  let lastReport = "";
  let liveFetchedAt = Date.now();

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.startsWith("data-")) node.setAttribute(key, value);
      else node.setAttribute(key, value);
    }
    for (const child of children || []) node.appendChild(child);
    return node;
  }

  function replace(container, nodes) {
    container.replaceChildren(...nodes);
  }

  function pct(value) { return value === null || value === undefined ? "–" : (value * 100).toFixed(1) + "%"; }
  function count(value) { return value === null || value === undefined ? "–" : String(value); }
  function one(value) { return value === null || value === undefined ? "–" : Number(value).toFixed(1); }
  function signed(value) { return value === null || value === undefined ? "–" : (value > 0 ? "+" : "") + Number(value).toFixed(0); }
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + String(s % 60).padStart(2, "0") + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h " + String(Math.floor(s % 3600 / 60)).padStart(2, "0") + "m";
    return Math.floor(s / 86400) + "d " + String(Math.floor(s % 86400 / 3600)).padStart(2, "0") + "h";
  }
  // A waiting case's first-response SLA: ok / near breach / breached, and the time left (the clock stands
  // outside business hours). `elapsed`: seconds since the live state was read.
  function slaText(state, left, paused, elapsed) {
    const now = left - (paused ? 0 : elapsed);
    if (now <= 0) return "SLA breached " + duration(-now) + " ago" + (paused ? " (paused)" : "");
    return "SLA " + (state === "near_breach" ? "near breach" : state === "breached" ? "breached" : "ok") + ", " +
      duration(now) + " left" + (paused ? " (paused)" : "");
  }
  function slaSpan(sla) {
    if (!sla) return null;
    return el("span", {class: "sla sla-" + sla.state, "data-sla": sla.state, "data-sla-left": String(sla.left_seconds),
      "data-sla-paused": sla.paused ? "1" : "", text: slaText(sla.state, sla.left_seconds, sla.paused, 0)});
  }
  function get(object, path) {
    return path.split(".").reduce((value, key) => (value === null || value === undefined ? undefined : value[key]), object);
  }

  // [path in the report JSON, label, format, [path of a second line, its format, its words]]
  const FIGURES = [
    ["conversations", "Conversations", count],
    ["deflection_rate", "Handled by the bot alone", pct],
    ["handoff_rate", "Handed to a person", pct],
    ["cases.opened", "Cases opened", count],
    ["cases.resolved", "Cases resolved", count],
    ["cases.reopened", "Cases reopened", count],
    ["cases.backlog", "Backlog", count],
    ["first_response_seconds.median", "First response (median)", duration, ["first_response_seconds.p90", duration, "p90 "]],
    ["resolution_seconds.median", "Resolution (median)", duration, ["resolution_seconds.p90", duration, "p90 "]],
    ["first_contact_resolution", "First-contact resolution", pct],
    ["csat.score", "CSAT (4–5)", pct, ["csat.responses", count, "answers: "]],
    ["nps.score", "NPS", signed, ["nps.responses", count, "answers: "]],
    ["ces.average", "Customer effort (1–7)", one, ["ces.responses", count, "answers: "]],
  ];

  function query() {
    const q = new URLSearchParams();
    q.set("since", sinceSelect.value);
    if (until) q.set("until", until);
    if (teamSelect.value) q.set("team", teamSelect.value);
    return q;
  }

  function addTeams(names) {
    const known = new Set(Array.from(teamSelect.options, (option) => option.value));
    for (const name of names) {
      if (!known.has(name)) { teamSelect.appendChild(el("option", {value: name, text: name})); known.add(name); }
    }
  }

  function renderFigures(report) {
    const tiles = FIGURES.map(([path, label, format, second]) => {
      const value = get(report, path);
      const children = [el("span", {class: "label", text: label}), el("span", {class: "value", text: format(value)})];
      if (second) {
        const extra = get(report, second[0]);
        children.push(el("span", {class: "sub", "data-figure": second[0], "data-value": JSON.stringify(extra === undefined ? null : extra),
                                  text: second[2] + second[1](extra)}));
      }
      return el("div", {class: "tile", "data-figure": path, "data-value": JSON.stringify(value === undefined ? null : value)}, children);
    });
    replace(document.getElementById("figures"), tiles);
    const period = document.getElementById("period");
    period.textContent = (report.since || "").slice(0, 16).replace("T", " ") + " – " + (report.until || "").slice(0, 16).replace("T", " ") + " UTC";
  }

  function renderTable(id, rows) {
    replace(document.querySelector("#" + id + " tbody"), rows.length ? rows :
      [el("tr", {}, [el("td", {class: "muted", colspan: "8", text: "nothing in this period"})])]);
  }

  function renderReport(report) {
    renderFigures(report);
    addTeams(Object.keys(report.by_team || {}).sort());
    renderTable("by-team", Object.entries(report.by_team || {}).sort().map(([team, f]) => el("tr", {"data-team": team}, [
      el("td", {text: team}), el("td", {text: count(f.conversations)}), el("td", {text: pct(f.deflection_rate)}),
      el("td", {text: count(get(f, "cases.opened"))}), el("td", {text: count(get(f, "cases.resolved"))}),
      el("td", {text: duration(get(f, "first_response_seconds.median"))}),
      el("td", {text: duration(get(f, "resolution_seconds.median"))}), el("td", {text: pct(get(f, "csat.score"))})])));
    renderTable("top-entries", (report.top_entries || []).map((row) => el("tr", {}, [
      el("td", {class: "entry", text: row.entry}), el("td", {text: count(row.answered)}), el("td", {text: pct(row.resolved_rate)})])));
    renderTable("top-gaps", (report.top_gaps || []).map((row) => el("tr", {}, [
      el("td", {class: "question", text: row.question}), el("td", {text: count(row.count)}),
      el("td", {class: "entry", text: row.closest_entry === null ? "–" : row.closest_entry})])));
    const q = query().toString();
    const version = Date.now();
    // A phone gets charts drawn narrow (their text stays legible), a wider screen the wide ones.
    for (const source of document.querySelectorAll("source[data-chart]")) {
      source.srcset = "/dashboard/chart/" + source.dataset.chart + ".svg?" + q + "&size=narrow&v=" + version;
    }
    for (const img of document.querySelectorAll("img[data-chart]")) {
      img.src = "/dashboard/chart/" + img.dataset.chart + ".svg?" + q + "&v=" + version;
    }
  }

  function renderLive(state) {
    liveFetchedAt = Date.now();
    addTeams(state.queues.map((queue) => queue.team));
    replace(document.getElementById("queues"), state.queues.map((queue) => {
      const rows = queue.cases.map((c) => el("li", {"data-case": String(c.case), class: c.priority > 0 ? "urgent" : ""}, [
        el("span", {class: "case", text: "#" + c.case}),
        el("span", {class: "customer", text: c.customer || "(no name)"}),
        el("span", {class: "muted", text: c.channel}),
        el("span", {class: "wait", "data-base": String(c.waiting_seconds), text: duration(c.waiting_seconds)}),
        slaSpan(c.sla),
        el("span", {class: "subject", text: c.subject || c.reason})].filter((node) => node !== null)));
      const more = queue.waiting - queue.cases.length;
      if (more > 0) rows.push(el("li", {class: "muted", text: "and " + more + " more"}));
      return el("div", {class: "queue", "data-team": queue.team}, [
        el("h4", {}, [el("span", {text: queue.team}), el("span", {class: "badge", "data-waiting": String(queue.waiting), text: queue.waiting + " waiting"}),
          el("span", {class: "muted", text: queue.oldest_wait_seconds === null ? "" : "longest " + duration(queue.oldest_wait_seconds)})]),
        rows.length ? el("ul", {}, rows) : el("p", {class: "muted", text: "no one waiting"})]);
    }));
    replace(document.getElementById("agents"), state.agents.length ? state.agents.map((agent) => el("div", {class: "agent", "data-agent": agent.agent}, [
      el("h4", {}, [el("span", {text: agent.name}), el("span", {class: "muted", text: agent.status}),
        el("span", {class: "badge", text: agent.cases.length + " open"})]),
      el("ul", {}, agent.cases.map((c) => el("li", {"data-case": String(c.case)}, [
        el("span", {class: "case", text: "#" + c.case}), el("span", {class: "customer", text: c.customer || "(no name)"}),
        el("span", {class: "muted", text: c.team}),
        el("span", {class: "wait", "data-base": String(c.held_seconds), text: duration(c.held_seconds)}),
        el("span", {class: c.answered ? "ok" : "pending", text: c.answered ? "answered" : "not answered yet"})])))]))
      : [el("p", {class: "muted", text: "no agent holds a case"})]);
  }

  function tick() {
    const elapsed = (Date.now() - liveFetchedAt) / 1000;
    for (const node of document.querySelectorAll(".wait[data-base]")) {
      node.textContent = duration(Number(node.dataset.base) + elapsed);
    }
    for (const node of document.querySelectorAll(".sla[data-sla-left]")) {
      node.textContent = slaText(node.dataset.sla, Number(node.dataset.slaLeft), node.dataset.slaPaused === "1", elapsed);
    }
  }

  async function fetchJson(url) {
    const response = await fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}});
    if (response.status === 401) { location.assign("/dashboard/login"); throw new Error("logged out"); }
    if (!response.ok) throw new Error(url.split("?")[0] + ": " + response.status + " " + (await response.text()).trim());
    return response.json();
  }

  let timer = null;
  async function refresh() {
    clearTimeout(timer);
    const q = query();
    try {
      const team = teamSelect.value ? "?team=" + encodeURIComponent(teamSelect.value) : "";
      const [live, report] = await Promise.all([fetchJson("/dashboard/api/live" + team), fetchJson("/dashboard/api/report?" + q)]);
      renderLive(live);
      const text = JSON.stringify(report);
      if (text !== lastReport) { lastReport = text; renderReport(report); }
      status.textContent = "updated " + new Date().toLocaleTimeString();
      status.className = "";
      body.dataset.loaded = String(Number(body.dataset.loaded || 0) + 1);
    } catch (error) {
      status.textContent = "not updated: " + error.message;
      status.className = "error";
    }
    timer = setTimeout(refresh, refreshMs);
  }

  function changed() {
    until = "";
    lastReport = "";
    history.replaceState(null, "", "?" + query().toString());
    refresh();
  }

  addTeams(JSON.parse(body.dataset.teams || "[]"));
  const since = params.get("since");
  if (since) {
    if (!Array.from(sinceSelect.options).some((option) => option.value === since)) {
      sinceSelect.appendChild(el("option", {value: since, text: "as in the link"}));
    }
    sinceSelect.value = since;
  }
  if (params.get("team")) { addTeams([params.get("team")]); teamSelect.value = params.get("team"); }
  sinceSelect.addEventListener("change", changed);
  teamSelect.addEventListener("change", changed);
  setInterval(tick, 1000);
  refresh();
})();
