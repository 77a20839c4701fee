/* sparring report: renders the JSON in #report-data. No dependencies, no network.
 * Every piece of run text (model output, observations, names) goes into the page
 * with textContent, never as HTML. */
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("report-data").textContent);
  const SVGNS = "http://www.w3.org/2000/svg";
  const COLORS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#0598bc", "#bf3989", "#6e7781"];

  // ------------------------------------------------------------------ small DOM helpers
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else node.setAttribute(k, String(v));
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }
  function append(parent, ...children) {
    for (const c of children) if (c) parent.appendChild(c);
    return parent;
  }
  function fmt(v, percent) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    if (percent) return (100 * v).toFixed(Math.abs(v) < 0.1 && v !== 0 ? 1 : 0) + "%";
    const a = Math.abs(v);
    if (a === 0) return "0";
    if (a >= 1000) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1);
    if (a >= 0.01) return v.toFixed(3);
    return v.toExponential(2);
  }
  // "seat 1", or "seat 1, solver" in a role game (replays written before roles were recorded have none)
  function seatLabel(g, s) { const r = (g.roles || [])[s]; return r ? `seat ${s}, ${r}` : `seat ${s}`; }
  function signed(v) { return v === null || v === undefined ? "–" : (v > 0 ? "+" : "") + fmt(v); }

  // ------------------------------------------------------------------ tooltip (shared)
  const tooltip = document.getElementById("chart-tooltip");
  function showTooltip(text, clientX, clientY) {
    tooltip.textContent = text;
    tooltip.hidden = false;
    const w = tooltip.offsetWidth, h = tooltip.offsetHeight;
    let x = clientX + 14, y = clientY + 14;
    if (x + w > window.innerWidth - 4) x = clientX - w - 14;
    if (y + h > window.innerHeight - 4) y = clientY - h - 14;
    tooltip.style.left = Math.max(4, x) + "px";
    tooltip.style.top = Math.max(4, y) + "px";
  }
  function hideTooltip() { tooltip.hidden = true; }

  // ------------------------------------------------------------------ line charts (SVG)
  function niceTicks(lo, hi, count, integer) {
    if (!(hi > lo)) return [lo];
    let step = Math.pow(10, Math.floor(Math.log10((hi - lo) / count)));
    const err = (hi - lo) / count / step;
    if (err >= 7.5) step *= 10; else if (err >= 3.5) step *= 5; else if (err >= 1.5) step *= 2;
    if (integer) step = Math.max(1, Math.round(step));
    const ticks = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(+t.toFixed(10));
    return ticks;
  }

  function domain(values, percent) {
    if (percent) return [0, Math.max(1, ...values)];
    let lo = Math.min(...values), hi = Math.max(...values);
    if (lo === hi) { const pad = Math.abs(lo) * 0.1 || 1; return [lo - pad, hi + pad]; }
    const pad = (hi - lo) * 0.06;
    return [lo - pad, hi + pad];
  }

  function lineChart(spec) {
    const W = 440, H = 230, M = { l: 54, r: 12, t: 10, b: 34 };
    const fig = el("figure", { class: "chart", "data-chart": spec.id });
    append(fig, el("figcaption", {}, spec.title));
    const pts = spec.series.flatMap((s) => s.points);
    const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
    let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    const [y0, y1] = domain(ys, spec.percent);
    const sx = (x) => M.l + ((x - x0) / (x1 - x0)) * (W - M.l - M.r);
    const sy = (y) => H - M.b - ((y - y0) / (y1 - y0)) * (H - M.t - M.b);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": spec.title });
    const grid = append(root, svg("g", { class: "grid" })).lastChild;
    const axis = append(root, svg("g", { class: "axis" })).lastChild;
    const yTicks = niceTicks(y0, y1, 5, false);
    const decimals = yTicks.length > 1 ? Math.max(0, Math.min(6, -Math.floor(Math.log10(yTicks[1] - yTicks[0]) + 1e-9))) : 2;
    for (const t of yTicks) {
      grid.appendChild(svg("line", { x1: M.l, x2: W - M.r, y1: sy(t), y2: sy(t) }));
      const label = spec.percent ? fmt(t, true) : Math.abs(t) >= 1e5 ? t.toExponential(1) : t.toFixed(decimals);
      axis.appendChild(svg("text", { x: M.l - 6, y: sy(t) + 3.5, "text-anchor": "end" }, label));
    }
    for (const t of niceTicks(x0, x1, 6, true)) {
      axis.appendChild(svg("line", { x1: sx(t), x2: sx(t), y1: H - M.b, y2: H - M.b + 4 }));
      axis.appendChild(svg("text", { x: sx(t), y: H - M.b + 15, "text-anchor": "middle" }, t));
    }
    axis.appendChild(svg("path", { d: `M${M.l},${M.t}V${H - M.b}H${W - M.r}`, fill: "none" }));
    axis.appendChild(svg("text", { x: (M.l + W - M.r) / 2, y: H - 3, "text-anchor": "middle" }, "step"));
    axis.appendChild(svg("text", { x: 11, y: (M.t + H - M.b) / 2, "text-anchor": "middle",
      transform: `rotate(-90 11 ${(M.t + H - M.b) / 2})` }, spec.y_label));
    const legend = el("div", { class: "legend" });
    spec.series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      const dashed = s.name.startsWith("baseline");
      const d = s.points.map((p, k) => (k ? "L" : "M") + sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1)).join("");
      root.appendChild(svg("path", { class: "series-line", d, stroke: color, "data-series": s.name,
        "data-points": s.points.length, "stroke-dasharray": dashed ? "5 4" : "none" }));
      if (s.points.length <= 80) {
        for (const p of s.points) root.appendChild(svg("circle", { class: "pt", cx: sx(p[0]), cy: sy(p[1]), r: 2.6, fill: color }));
      }
      const item = append(el("span"), el("span", { class: "swatch", style: `background:${color}` }));
      item.appendChild(document.createTextNode(s.name));
      legend.appendChild(item);
    });
    // hover: a cursor line at the nearest step and every series' value there
    const cursor = append(root, svg("line", { class: "cursor", y1: M.t, y2: H - M.b, visibility: "hidden" })).lastChild;
    const overlay = append(root, svg("rect", { x: M.l, y: M.t, width: W - M.l - M.r, height: H - M.t - M.b,
      fill: "transparent", class: "hover" })).lastChild;
    const steps = [...new Set(xs)].sort((a, b) => a - b);
    overlay.addEventListener("mousemove", (ev) => {
      const box = root.getBoundingClientRect();
      const x = x0 + ((((ev.clientX - box.left) / box.width) * W - M.l) / (W - M.l - M.r)) * (x1 - x0);
      let best = steps[0];
      for (const s of steps) if (Math.abs(s - x) < Math.abs(best - x)) best = s;
      cursor.setAttribute("x1", sx(best)); cursor.setAttribute("x2", sx(best));
      cursor.setAttribute("visibility", "visible");
      const lines = [`step ${best}`];
      for (const s of spec.series) {
        const p = s.points.find((q) => q[0] === best);
        if (p) lines.push(`${s.name}: ${fmt(p[1], spec.percent)}`);
      }
      showTooltip(lines.join("\n"), ev.clientX, ev.clientY);
    });
    overlay.addEventListener("mouseleave", () => { cursor.setAttribute("visibility", "hidden"); hideTooltip(); });
    append(fig, root, legend);
    return fig;
  }

  // ------------------------------------------------------------------ header, notes, config
  function renderHeader() {
    document.getElementById("title").textContent = `sparring report: ${DATA.run.name}`;
    const p = DATA.progress;
    const bits = [DATA.run.path];
    if (p.last_step !== null) bits.push(`last step ${p.last_step}`);
    if (p.elapsed_s !== null) bits.push(`${(p.elapsed_s / 60).toFixed(1)} min of training`);
    document.getElementById("subtitle").textContent = bits.join(" · ");
  }

  function renderNotes() {
    const box = (id, title, items) => {
      if (!items.length) return;
      const node = document.getElementById(id);
      node.hidden = false;
      append(node, el("strong", {}, title));
      const ul = append(node, el("ul")).lastChild;
      for (const item of items) ul.appendChild(el("li", {}, item));
    };
    box("missing", "This run is incomplete; the report shows what exists. Missing:", DATA.missing);
    box("notes", "Notes:", DATA.notes);
  }

  function renderConfig() {
    const root = document.getElementById("config");
    const grid = el("div", { class: "summary" });
    const rows = [...DATA.config.summary];
    const ck = DATA.progress.checkpoints;
    rows.push(["checkpoints", ck.length ? ck.map((s) => `step-${s}`).join(", ") : "none"]);
    const best = DATA.best;
    if (best) {
      const model = best.model === "average" ? "weight average" : "policy";
      rows.push(["best (RUN/best)", `step ${best.step}, ${best.metric} ${fmt(best.value)} (${model})`]);
    }
    rows.push(["metrics records", String(DATA.progress.records)]);
    for (const [k, v] of rows) append(grid, append(el("div"), el("span", { class: "key" }, k), el("span", {}, v)));
    root.appendChild(grid);
    if (DATA.config.text !== null) {
      const det = el("details");
      append(det, el("summary", {}, "Full config.yaml"), el("pre", { class: "config-yaml" }, DATA.config.text));
      root.appendChild(det);
    }
  }

  function renderCharts() {
    const root = document.getElementById("charts");
    if (!DATA.charts.length) { root.appendChild(el("p", { class: "muted" }, "No metrics recorded yet.")); return; }
    for (const spec of DATA.charts) root.appendChild(lineChart(spec));
  }

  // ------------------------------------------------------------------ evaluation and league tables
  function rateCell(cell) {
    if (!cell) return el("td", { class: "num" }, "–");
    const [v, lo, hi] = cell;
    return el("td", { class: "num", title: `95% interval ${fmt(lo, true)} – ${fmt(hi, true)}` },
      `${fmt(v, true)} (${fmt(lo, true)}–${fmt(hi, true)})`);
  }

  function renderEval() {
    const root = document.getElementById("eval");
    const ev = DATA.eval;
    if (!ev) { root.appendChild(el("p", { class: "muted" }, "No evaluation yet.")); return; }
    const src = ev.source === "metrics.jsonl"
      ? `From metrics.jsonl at step ${ev.step} (run \`sparring eval\` for per-seat results).`
      : `From ${ev.source} (step ${ev.step}${ev.checkpoint ? `, ${ev.checkpoint}` : ""}).`;
    root.appendChild(el("p", { class: "muted" }, src + " Rates with 95% Wilson intervals."));
    const table = el("table", { class: "eval-table" });
    const head = append(el("tr"), ...["game", "opponent", "games", "win", "draw", "loss", "non-loss", "invalid"]
      .map((h, i) => el("th", { class: i >= 2 ? "num" : null }, h)));
    append(table, append(el("thead"), head));
    const body = append(table, el("tbody")).lastChild;
    for (const r of ev.rows) {
      const tr = el("tr", { class: r.seat !== null ? "sub" : null });
      append(tr, el("td", {}, r.seat !== null ? "" : r.game), el("td", {}, r.seat !== null ? `  as seat ${r.seat}` : r.opponent),
        el("td", { class: "num" }, r.games));
      for (const k of ["win", "draw", "loss", "non_loss", "invalid"]) tr.appendChild(rateCell(r[k]));
      body.appendChild(tr);
    }
    root.appendChild(table);
    const extra = Object.entries(ev.games).filter(([, g]) => g.exploitability !== null || g.response_tokens !== null
      || (g.team_return !== null && g.team_return !== undefined));
    if (extra.length) {
      const t2 = el("table");
      append(t2, append(el("tr"), el("th", {}, "game"), el("th", { class: "num" }, "exploitability"),
        el("th", { class: "num" }, "team return / optimum"), el("th", { class: "num" }, "mean response tokens")));
      for (const [game, g] of extra) {
        const team = g.team_return === null || g.team_return === undefined ? "–" : `${fmt(g.team_return)} / ${fmt(g.team_optimum)}`;
        append(t2, append(el("tr"), el("td", {}, game), el("td", { class: "num" }, fmt(g.exploitability)),
          el("td", { class: "num team" }, team), el("td", { class: "num" }, fmt(g.response_tokens))));
      }
      root.appendChild(t2);
    }
  }

  function renderLeague() {
    const lg = DATA.league;
    if (!lg) return;
    document.getElementById("league-section").hidden = false;
    const root = document.getElementById("league");
    if (lg.game) root.appendChild(el("p", { class: "muted" }, `Round robin on ${lg.game}; Elo with 95% bootstrap intervals.`));
    const table = el("table", { class: "elo-table" });
    append(table, append(el("tr"), ...["#", "player", "Elo", "95% interval", "games", "score"].map((h, i) => el("th", { class: i > 1 ? "num" : null }, h))));
    lg.players.forEach((p, i) => {
      append(table, append(el("tr"), el("td", {}, i + 1), el("td", {}, p.name), el("td", { class: "num" }, fmt(p.elo)),
        el("td", { class: "num" }, `${fmt(p.elo_low)} – ${fmt(p.elo_high)}`), el("td", { class: "num" }, p.games),
        el("td", { class: "num" }, typeof p.score === "number" ? fmt(p.score, true) : "–")));
    });
    root.appendChild(table);
    if (lg.notes && lg.notes.length) {
      const ul = el("ul", { class: "league-notes" });
      for (const n of lg.notes) ul.appendChild(el("li", {}, n));
      root.appendChild(ul);
    }
    const names = Object.keys(lg.matrix);
    if (!names.length) return;
    root.appendChild(el("h3", {}, "Score of row vs column"));
    const m = el("table", { class: "matrix" });
    append(m, append(el("tr"), el("th"), ...names.map((n) => el("th", {}, n))));
    for (const row of names) {
      const tr = append(el("tr"), el("th", {}, row));
      for (const col of names) {
        const v = lg.matrix[row][col];
        const td = el("td", {}, v === undefined || v === null ? "" : fmt(v, true));
        if (typeof v === "number") td.style.background = `hsl(${120 * v}, 65%, 85%)`;
        tr.appendChild(td);
      }
      m.appendChild(tr);
    }
    root.appendChild(m);
  }

  // ------------------------------------------------------------------ replay viewer
  const viewer = { games: [], game: null, turn: 0 };

  function option(value, label) { return el("option", { value }, label); }

  function renderReplays() {
    const root = document.getElementById("replays");
    const games = DATA.replays;
    if (!games.length) { root.appendChild(el("p", { class: "muted" }, "No replay games in this run.")); return; }
    const steps = [...new Set(games.map((g) => g.step))].sort((a, b) => a - b);
    const names = [...new Set(games.map((g) => g.game))].sort();
    const stepSel = append(el("select", { id: "filter-step" }), option("", "all steps"), ...steps.map((s) => option(String(s), `step ${s}`)));
    const gameSel = append(el("select", { id: "filter-game" }), option("", "all games"), ...names.map((n) => option(n, n)));
    const count = el("span", { class: "muted" });
    append(root, append(el("div", { class: "filters" }), append(el("label", {}, "Step "), stepSel),
      append(el("label", {}, "Game "), gameSel), count));
    const list = el("div", { class: "game-list" });
    const table = el("table", { id: "game-table" });
    append(table, append(el("thead"), append(el("tr"), ...["#", "step", "game", "players", "returns", "turns", "end"].map((h) => el("th", {}, h)))));
    const body = append(table, el("tbody")).lastChild;
    append(root, append(list, table));
    const view = el("div", { id: "viewer", class: "viewer", hidden: true });
    root.appendChild(view);
    root.appendChild(append(el("p", { class: "muted" }), document.createTextNode("Token shading: probability of the sampled token, low"),
      el("span", { class: "scale" }), document.createTextNode("high. Hover a token for its log-prob. ← / → step through turns.")));

    function refill() {
      body.textContent = "";
      const shown = games.filter((g) => (stepSel.value === "" || String(g.step) === stepSel.value) && (gameSel.value === "" || g.game === gameSel.value));
      count.textContent = `${shown.length} of ${games.length} games`;
      for (const g of shown) {
        const end = g.invalid_seat !== null && g.invalid_seat !== undefined ? `invalid move by seat ${g.invalid_seat}` : g.truncated ? "turn limit" : "finished";
        const tr = append(el("tr", { class: "game-row", "data-file": g.file, "data-index": g.index }),
          el("td", {}, `${g.file}:${g.index}`), el("td", {}, g.step), el("td", {}, g.game), el("td", {}, (g.players || []).join(" vs ")),
          el("td", {}, (g.returns || []).map(signed).join(" / ")), el("td", {}, (g.turns || []).length), el("td", {}, end));
        if (g === viewer.game) tr.classList.add("selected");
        tr.addEventListener("click", () => {
          for (const other of body.querySelectorAll("tr.selected")) other.classList.remove("selected");
          tr.classList.add("selected");
          openGame(g);
        });
        body.appendChild(tr);
      }
    }
    stepSel.addEventListener("change", refill);
    gameSel.addEventListener("change", refill);
    refill();
    document.addEventListener("keydown", (ev) => {
      if (!viewer.game || ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement && document.activeElement.tagName)) return;
      if (ev.key === "ArrowRight") { showTurn(viewer.turn + 1); ev.preventDefault(); }
      if (ev.key === "ArrowLeft") { showTurn(viewer.turn - 1); ev.preventDefault(); }
    });
  }

  function openGame(g) {
    viewer.game = g;
    const view = document.getElementById("viewer");
    view.hidden = false;
    view.textContent = "";
    const head = `${g.game} · step ${g.step} · seed ${g.seed} · ${(g.players || []).map((p, s) => `${seatLabel(g, s)}: ${p}`).join(", ")}`;
    append(view, el("h3", { class: "game-title" }, head));
    const ret = `returns ${(g.returns || []).map(signed).join(" / ")}`;
    const end = g.invalid_seat !== null && g.invalid_seat !== undefined
      ? `; ${seatLabel(g, g.invalid_seat)} made an invalid move: ${g.invalid_reason}` : g.truncated ? "; stopped at the turn limit (a draw)" : "";
    append(view, el("p", { class: "muted" }, ret + end));
    const prev = el("button", { id: "prev-turn", type: "button" }, "◀ Prev");
    const next = el("button", { id: "next-turn", type: "button" }, "Next ▶");
    prev.addEventListener("click", () => showTurn(viewer.turn - 1));
    next.addEventListener("click", () => showTurn(viewer.turn + 1));
    append(view, append(el("div", { class: "nav" }), prev, el("span", { id: "turn-counter" }), next));
    append(view, el("div", { id: "turn", class: "turn" }));
    showTurn(0);
  }

  function tokenSpan(token, logprob, id) {
    const p = Math.exp(logprob);
    const shown = token.replace(/\n/g, "↵\n");
    const span = el("span", { class: "tok", "data-logprob": logprob,
      title: `${JSON.stringify(token)}${id !== undefined ? ` (id ${id})` : ""}\nlog-prob ${logprob.toFixed(4)}\np ${(100 * p).toFixed(1)}%` }, shown);
    span.style.backgroundColor = `hsl(${Math.round(120 * p)}, 75%, 80%)`;
    return span;
  }

  function showTurn(k) {
    const g = viewer.game;
    const turns = g.turns || [];
    if (!turns.length) { document.getElementById("turn").textContent = "This game has no turns."; return; }
    viewer.turn = Math.max(0, Math.min(turns.length - 1, k));
    const t = turns[viewer.turn];
    document.getElementById("turn-counter").textContent = `Turn ${viewer.turn + 1} / ${turns.length}`;
    document.getElementById("prev-turn").disabled = viewer.turn === 0;
    document.getElementById("next-turn").disabled = viewer.turn === turns.length - 1;
    const box = document.getElementById("turn");
    box.textContent = "";
    const left = append(el("div"), el("h3", {}, `Observation for ${seatLabel(g, t.seat)}`), el("pre", { class: "observation" }, t.observation));
    const right = append(el("div"), el("h3", {}, `Said by ${seatLabel(g, t.seat)} (${t.player})`));
    const lps = t.logprobs || [];
    if (lps.length) {
      const toks = el("div", { class: "tokens" });
      const ids = t.token_ids || [];
      lps.forEach((lp, i) => toks.appendChild(tokenSpan(t.tokens ? t.tokens[i] : `⟨${ids[i]}⟩`, lp, ids[i])));
      right.appendChild(toks);
    } else {
      right.appendChild(el("pre", { class: "plain-text" }, t.text === null || t.text === undefined ? "" : t.text));
    }
    const kv = el("dl", { class: "kv" });
    const row = (k, v, cls) => append(kv, el("dt", {}, k), el("dd", { class: cls }, v));
    if (t.invalid) row("invalid move", t.invalid, "invalid action");
    else row("action", t.action, "action");
    if (lps.length) {
      const sum = lps.reduce((a, b) => a + b, 0);
      const low = lps.reduce((m, v, i) => (v < lps[m] ? i : m), 0);
      row("tokens", `${lps.length} (finish: ${t.finish_reason || "?"}), mean log-prob ${fmt(sum / lps.length)}, total ${fmt(sum)}`);
      row("least likely", `${JSON.stringify(t.tokens ? t.tokens[low] : `⟨${(t.token_ids || [])[low]}⟩`)} at log-prob ${lps[low].toFixed(3)}`);
    } else {
      row("tokens", "none recorded (a fixed player's move)");
    }
    row("reward", "reward" in t ? signed(t.reward) : "not trained on", "reward");
    row("advantage", "advantage" in t ? signed(t.advantage) : "–", "advantage");
    right.appendChild(kv);
    append(box, left, right);
  }

  renderHeader();
  renderNotes();
  renderConfig();
  renderCharts();
  renderEval();
  renderLeague();
  renderReplays();
})();
