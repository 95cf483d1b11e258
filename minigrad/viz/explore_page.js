// The explorer page (minigrad/viz/explore.py inlines this file). It reads the recorded backward
// pass from the JSON in #explorer-data and the Graphviz SVG in #graph, and only ever changes
// classes, text and visibility of that SVG: the layout is Graphviz's.
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("explorer-data").textContent);
  const T = {}, F = {}, consumers = {}, stepOf = {};
  D.tensors.forEach(t => { T[t.key] = t; });
  D.functions.forEach(f => {
    F[f.key] = f;
    f.inputs.forEach(k => { (consumers[k] = consumers[k] || []).push(f.key); });
  });
  D.steps.forEach((s, i) => { stepOf[s.fn] = i; });
  const last = D.steps.length - 1;
  const $ = id => document.getElementById(id);
  const svg = document.querySelector("#graph svg");
  const canvas = svg.querySelector("g.graph") || svg;

  // --- what each Graphviz group shows ----------------------------------------------------
  const nodesOf = {};      // tensor or function key -> its drawn groups (a shared leaf has copies)
  const groupByTitle = {}; // Graphviz node name -> group
  const boxOf = {};        // scope laid out collapsed -> its group
  const gradTexts = [];    // [group, <text>, the text when the gradient is complete, tensor]
  svg.querySelectorAll("g.node").forEach(g => {
    const title = g.querySelector("title").textContent;
    groupByTitle[title] = g;
    if (title.startsWith("scope_")) {
      const path = title.slice("scope_".length);
      boxOf[path] = g;
      g.dataset.scope = path;
      g.addEventListener("click", () => showBox(path));
      return;
    }
    const copy = title.match(/^(t\d+)_use\d+$/);
    const key = copy ? copy[1] : title;
    if (!T[key] && !F[key]) return;  // the legend
    (nodesOf[key] = nodesOf[key] || []).push(g);
    g.dataset.key = key;
    g.dataset.name = T[key] ? T[key].label : F[key].op;
    g.addEventListener("click", event => { event.stopPropagation(); select(key); });
    if (T[key]) {
      g.querySelectorAll("text").forEach(text => {
        const content = text.textContent.replace(/\u00a0/g, " ");
        if (content.startsWith("grad ")) {
          text.classList.add("grad");
          gradTexts.push([g, text, text.textContent, T[key]]);
        }
      });
    }
  });
  function scopeOf(key) { return T[key] ? T[key].scope : T[F[key].output].scope; }
  function insideScope(scope, path) {
    const parts = path.split("/");
    return scope.length >= parts.length && scope.slice(0, parts.length).join("/") === path;
  }
  function laidOutBox(key) {  // the collapsed box a tensor or op was laid out in, if not drawn itself
    if (nodesOf[key]) return null;
    return D.laidOutCollapsed.find(path => insideScope(scopeOf(key), path)) || null;
  }
  function groupsOf(key) {
    if (nodesOf[key]) return nodesOf[key];
    const box = laidOutBox(key);
    return box && boxOf[box] ? [boxOf[box]] : [];
  }
  const label = key => T[key] ? T[key].label : `${F[key].op} → ${T[F[key].output].label}`;

  // --- numbers ----------------------------------------------------------------------------
  function fmt(v) {
    if (typeof v === "string") return v === "nan" ? "NaN" : v === "inf" ? "∞" : "−∞";
    if (v === 0) return "0";
    const a = Math.abs(v);
    return a >= 1e-3 && a < 1e5 ? String(Number(v.toPrecision(4))) : v.toExponential(3);
  }
  function heat(v, scale) {
    if (typeof v === "string") return "#000";
    const x = scale ? Math.max(-1, Math.min(1, v / scale)) : 0;
    const fade = c => Math.round(255 - (255 - c) * Math.abs(x));
    return x >= 0 ? `rgb(255,${fade(90)},${fade(70)})` : `rgb(${fade(50)},${fade(110)},255)`;
  }
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "text") e.textContent = v; else if (k === "cls") e.className = v; else e.setAttribute(k, v);
    });
    children.forEach(c => e.append(c));
    return e;
  }
  function arrayView(record, role) {
    const box = el("div", { "data-role": role });
    const shape = "(" + record.shape.join(", ") + (record.shape.length === 1 ? ",)" : ")");
    if (!record.size) { box.append(el("p", { cls: "stats", text: `shape ${shape}, empty` })); return box; }
    const bad = record.nonFinite ? `, ${record.nonFinite} not finite` : "";
    box.append(el("p", { cls: "stats", text: `shape ${shape}: min ${fmt(record.min)}  mean ${fmt(record.mean)}  ` +
                                            `max ${fmt(record.max)}  std ${fmt(record.std)}${bad}` }));
    const scale = Math.max(Math.abs(typeof record.min === "number" ? record.min : 0),
                           Math.abs(typeof record.max === "number" ? record.max : 0));
    if (record.values) {
      const cols = record.shape.length ? record.shape[record.shape.length - 1] || 1 : 1;
      const table = el("table", { cls: "values" });
      for (let r = 0; r < record.values.length / cols; r++) {
        const row = el("tr");
        for (let c = 0; c < cols; c++) {
          const v = record.values[r * cols + c];
          const cell = el("td", { text: fmt(v) });
          cell.style.background = heat(v, scale);
          row.append(cell);
        }
        table.append(row);
      }
      box.append(table);
    } else {
      const table = el("table", { cls: "grid" });
      record.grid.forEach((values, r) => {
        const row = el("tr");
        values.forEach((v, c) => {
          const [r0, r1] = record.gridRows[r], [c0, c1] = record.gridCols[c];
          const cell = el("td", { title: `rows ${r0}–${r1}, columns ${c0}–${c1}: mean ${fmt(v)}` });
          cell.style.background = heat(v, scale);
          row.append(cell);
        });
        table.append(row);
      });
      box.append(el("p", { cls: "hint", text: `${record.size} values; the grid shows block means of the ` +
        `(rows × last axis) view, red positive, blue negative (hover a cell)` }), table);
    }
    return box;
  }
  function go(key, text) {
    const a = el("a", { cls: "go", text: text || label(key) });
    a.addEventListener("click", () => select(key, true));
    return a;
  }
  function goStep(k, text) {
    const a = el("a", { cls: "go", text: text || `step ${k}` });
    a.addEventListener("click", () => show(k));
    return a;
  }

  // --- stepping -----------------------------------------------------------------------------
  let current = 0, selected = null, timer = null;
  const slider = $("slider");
  slider.max = String(Math.max(0, last));

  function show(k) {
    current = Math.max(0, Math.min(last, k));
    slider.value = String(current);
    Object.keys(nodesOf).forEach(key => {
      if (!F[key]) return;
      const s = stepOf[key];
      nodesOf[key].forEach(g => {
        g.classList.toggle("done", s !== undefined && s < current);
        g.classList.toggle("current", s === current);
      });
    });
    gradTexts.forEach(entry => {
      const [g, text, complete, t] = entry;
      const ready = t.gradStep !== null && t.gradStep <= current;
      if (entry.ready === ready) return;  // rewriting unchanged text would cost a re-layout
      entry.ready = ready;
      text.textContent = ready ? complete : "grad —";
      g.classList.toggle("pending", !ready);
    });
    const step = D.steps[current];
    Object.entries(boxOf).forEach(([path, g]) => {
      g.classList.toggle("current", !!step && !nodesOf[step.fn] && insideScope(scopeOf(step.fn), path));
    });
    overlays.forEach(o => o.g.classList.toggle("current", !!step && o.members.has(nodesOf[step.fn] && nodesOf[step.fn][0])));
    $("step-label").textContent = step ? `step ${current} of 0–${last}` : "no backward steps";
    const info = $("step-info");
    info.replaceChildren();
    if (step) {
      const f = F[step.fn];
      info.append(el("h2", { text: `Step ${current}: ${f.op}` }),
        el("p", {}, "backward of ", go(step.fn, f.op), " → ", go(f.output), " at ", el("code", { text: step.source })),
        el("p", {}, "gradients complete after this step: ",
           ...step.completed.flatMap((k, i) => (i ? [", ", go(k)] : [go(k)]))));
      const where = laidOutBox(step.fn);
      if (where) info.append(el("p", { cls: "hint", text: `inside the collapsed scope “${where}”` }));
      if (timer === null) groupsOf(step.fn).slice(0, 1).forEach(g => g.scrollIntoView({ block: "nearest", inline: "nearest" }));
    }
    if (selected) details(selected);
  }
  $("next").addEventListener("click", () => show(current + 1));
  $("previous").addEventListener("click", () => show(current - 1));
  $("first").addEventListener("click", () => show(0));
  $("last").addEventListener("click", () => show(last));
  slider.addEventListener("input", () => show(Number(slider.value)));
  function stop() { clearInterval(timer); timer = null; $("play").textContent = "▶ play"; }
  $("play").addEventListener("click", () => {
    if (timer !== null) { stop(); return; }
    if (current >= last) show(0);
    $("play").textContent = "⏸ pause";
    timer = setInterval(() => {
      show(current + 1);
      groupsOf(D.steps[current].fn).slice(0, 1).forEach(g => g.scrollIntoView({ block: "nearest", inline: "nearest" }));
      if (current >= last) stop();
    }, 600);
  });
  document.addEventListener("keydown", event => {
    if (event.target.tagName === "INPUT" && event.target.type !== "range") return;
    const moves = { ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: last };
    if (event.key in moves) { show(moves[event.key]); event.preventDefault(); }
    else if (event.key === " ") { $("play").click(); event.preventDefault(); }
  });

  // --- details of what was clicked --------------------------------------------------------------
  function select(key, reveal) {
    document.querySelectorAll("#graph .selected").forEach(g => g.classList.remove("selected"));
    selected = key;
    groupsOf(key).forEach(g => g.classList.add("selected"));
    if (reveal) {
      const g = groupsOf(key)[0];
      if (g) {
        g.scrollIntoView({ block: "center", inline: "center" });
        g.classList.add("found");
        setTimeout(() => g.classList.remove("found"), 1200);
      }
    }
    details(key);
  }
  function details(key) {
    const box = $("details");
    box.replaceChildren();
    const where = laidOutBox(key);
    if (T[key]) {
      const t = T[key];
      box.append(el("h2", { text: t.label }),
        el("p", { text: `${t.kind} · (${t.shape.join(", ")}${t.shape.length === 1 ? "," : ""}) ${t.dtype}` +
                        (t.scope.length ? ` · scope ${t.scope.join(" / ")}` : "") }),
        el("p", {}, "made at ", el("code", { text: t.source }),
           ...(t.fn ? [" by ", go(t.fn, F[t.fn].op)] : [t.requiresGrad ? " (a leaf)" : " (data: no gradient wanted)"])));
      if (consumers[key]) box.append(el("p", {}, "used by ", ...consumers[key].flatMap((f, i) => (i ? [", ", go(f)] : [go(f)]))));
      if (where) box.append(el("p", { cls: "hint", text: `laid out inside the collapsed scope “${where}”` }));
      box.append(el("h3", { text: "values" }), arrayView(t.data, "data"));
      box.append(el("h3", { text: `gradient at step ${current}` }));
      if (!t.requiresGrad) box.append(el("p", { text: "none: it does not require grad" }));
      else if (t.gradStep === null) box.append(el("p", { text: "none: backward did not reach it" }));
      else if (t.gradStep <= current) box.append(arrayView(t.grad, "grad"), el("p", { cls: "hint" }, "complete since ", goStep(t.gradStep)));
      else box.append(el("p", { "data-role": "grad-pending" }, "not complete yet: it completes at ", goStep(t.gradStep)));
    } else {
      const f = F[key], s = stepOf[key];
      box.append(el("h2", { text: f.op }),
        el("p", {}, "makes ", go(f.output), " from ", ...f.inputs.flatMap((k, i) => (i ? [", ", go(k)] : [go(k)]))),
        el("p", {}, "at ", el("code", { text: f.source })));
      if (where) box.append(el("p", { cls: "hint", text: `laid out inside the collapsed scope “${where}”` }));
      box.append(el("h3", { text: "derivative (its docstring)" }), el("pre", { text: D.docs[f.op] }));
      if (s === undefined) { box.append(el("p", { text: "backward never ran it" })); return; }
      box.append(el("h3", {}, "backward: ", goStep(s)));
      if (s > current) { box.append(el("p", { "data-role": "sent-pending", text: `not run yet at step ${current}` })); return; }
      const step = D.steps[s];
      box.append(el("p", { text: `received ∂loss/∂${T[f.output].label}` }), arrayView(T[f.output].grad, "grad-output"));
      f.inputs.forEach((k, i) => {
        const sent = step.sent[i];
        box.append(el("p", {}, "sent to ", go(k), typeof sent === "string" ? " (its whole gradient: it has no other use):" : ":"));
        box.append(sent === null ? el("p", { cls: "hint", text: "None: it does not require grad" })
                                 : arrayView(typeof sent === "string" ? T[sent].grad : sent, "sent"));
      });
    }
  }
  function showBox(path) {
    const box = $("details");
    const inside = D.tensors.filter(t => insideScope(t.scope, path));
    const ops = inside.filter(t => t.fn).map(t => stepOf[t.fn]).filter(s => s !== undefined);
    box.replaceChildren(el("h2", { text: path }),
      el("p", { text: `laid out collapsed: ${inside.length} tensors, ${ops.length} ops. ` +
                      "Search their names above to see each one, or make the page without this scope in collapse=." }));
    if (ops.length) box.append(el("p", {}, "its backward runs from ", goStep(Math.min(...ops)), " to ", goStep(Math.max(...ops))));
  }

  // --- highlighting paths to the root -----------------------------------------------------------
  function highlight(targets) {
    const reached = new Set(targets), frontier = [...targets];
    while (frontier.length) {
      (consumers[frontier.pop()] || []).forEach(f => {
        const out = F[f].output;
        if (!reached.has(out)) { reached.add(out); frontier.push(out); }
      });
    }
    const on = new Set(reached);
    reached.forEach(k => { if (T[k].fn && !targets.includes(k)) on.add(T[k].fn); });
    const groups = new Set();
    on.forEach(k => groupsOf(k).forEach(g => groups.add(g)));
    svg.querySelectorAll("g.node").forEach(g => g.classList.toggle("on-path", groups.has(g)));
    Object.values(boxOf).forEach(g => g.classList.remove("on-path"));
    svg.querySelectorAll("g.edge").forEach(g => {
      const [tail, head] = g.querySelector("title").textContent.split("->");
      g.classList.toggle("on-path", groups.has(groupByTitle[tail]) && groups.has(groupByTitle[head]));
    });
    overlays.forEach(o => o.g.classList.toggle("on-path", [...o.members].some(g => groups.has(g))));
  }
  const chooser = el("select", { "aria-label": "highlight paths from" },
    el("option", { value: "", text: "highlight paths from…" }),
    ...D.tensors.filter(t => t.name).map(t => el("option", { value: t.key, text: t.name })));
  chooser.addEventListener("change", () => { if (chooser.value) highlight([chooser.value]); });
  $("quick-highlights").append(chooser);
  $("highlight-selected").addEventListener("click", () => {
    if (selected && T[selected]) highlight([selected]);
    else if (selected) highlight([F[selected].output]);
  });
  $("clear-highlight").addEventListener("click", () => { highlight([]); chooser.value = ""; });

  // --- folding the scopes that were laid out open -------------------------------------------------
  const overlays = [];
  const clusters = [...svg.querySelectorAll("g.cluster")]
    .map(g => ({ g, path: g.querySelector("title").textContent.replace(/^cluster_/, "") }))
    .filter(c => c.path !== "legend");
  const nodeBoxes = [...svg.querySelectorAll("g.node")].map(g => [g, g.getBBox()]);
  const within = (a, b) => a.x >= b.x - 0.5 && a.y >= b.y - 0.5 && a.x + a.width <= b.x + b.width + 0.5 &&
                           a.y + a.height <= b.y + b.height + 0.5;
  clusters.forEach(c => {
    const frame = c.g.getBBox();
    const members = new Set(nodeBoxes.filter(([, b]) => within(b, frame)).map(([g]) => g));
    const inner = clusters.filter(o => o !== c && o.path.startsWith(c.path + "/")).map(o => o.g);
    const cover = document.createElementNS("http://www.w3.org/2000/svg", "g");
    cover.setAttribute("class", "collapsed-scope hidden");
    cover.dataset.scope = c.path;
    const rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    Object.entries({ x: frame.x, y: frame.y, width: frame.width, height: frame.height, rx: 6 })
      .forEach(([k, v]) => rect.setAttribute(k, v));
    const text = document.createElementNS("http://www.w3.org/2000/svg", "text");
    const tensors = [...members].filter(g => T[g.dataset.key]).length;
    text.textContent = `${c.path.split("/").pop()}: collapsed (${tensors} tensors, ${members.size - tensors} ops)`;
    text.setAttribute("x", frame.x + 8);
    text.setAttribute("y", frame.y + 20);
    cover.append(rect, text);
    canvas.append(cover);
    const overlay = { ...c, members, inner, g: cover, collapsed: false };
    cover.addEventListener("click", () => fold(overlay, false));
    overlays.push(overlay);
  });
  function fold(overlay, collapsed) {
    overlay.collapsed = collapsed;
    refold();
    const box = $("scopes").querySelector(`input[data-scope="${CSS.escape(overlay.path)}"]`);
    if (box) box.checked = collapsed;
  }
  function refold() {
    const hidden = new Set();
    overlays.forEach(o => {
      const shown = o.collapsed && !overlays.some(p => p !== o && p.collapsed && o.path.startsWith(p.path + "/"));
      o.g.classList.toggle("hidden", !shown);
      if (o.collapsed) { o.members.forEach(g => hidden.add(g)); o.inner.forEach(g => hidden.add(g)); }
    });
    svg.querySelectorAll("g.node").forEach(g => g.classList.toggle("hidden", hidden.has(g)));
    clusters.forEach(c => c.g.classList.toggle("hidden", overlays.some(o => o.collapsed && o.inner.includes(c.g))));
    svg.querySelectorAll("g.edge").forEach(g => {
      const [tail, head] = g.querySelector("title").textContent.split("->");
      g.classList.toggle("hidden", hidden.has(groupByTitle[tail]) && hidden.has(groupByTitle[head]));
    });
  }
  const scopes = $("scopes");
  if (overlays.length || D.laidOutCollapsed.length) scopes.append(el("h3", { text: "scopes (tick to collapse)" }));
  overlays.forEach(o => {
    const box = el("input", { type: "checkbox", "data-scope": o.path });
    box.addEventListener("change", () => fold(o, box.checked));
    scopes.append(el("label", {}, box, " " + o.path));
  });
  D.laidOutCollapsed.forEach(path => {
    const box = el("input", { type: "checkbox", disabled: "", "data-scope": path });
    box.checked = true;
    scopes.append(el("label", { cls: "laid-out", title: "laid out collapsed (collapse=...)" }, box, " " + path));
  });

  // --- search ---------------------------------------------------------------------------------------
  const search = $("search");
  function matches() {
    const query = search.value.trim().toLowerCase();
    if (!query) return [];
    const found = D.tensors.filter(t => t.label.toLowerCase().includes(query)).map(t => t.key)
      .concat(D.functions.filter(f => f.op.toLowerCase().includes(query)).map(f => f.key));
    return found.sort((a, b) => (label(a).toLowerCase() === query ? -1 : 0) - (label(b).toLowerCase() === query ? -1 : 0));
  }
  search.addEventListener("input", () => {
    const list = el("ul");
    matches().slice(0, 30).forEach(key => {
      const item = el("li", { text: label(key) + (laidOutBox(key) ? `  (in ${laidOutBox(key)})` : ""), "data-key": key });
      item.addEventListener("click", () => { select(key, true); $("matches").replaceChildren(); });
      list.append(item);
    });
    $("matches").replaceChildren(...(list.children.length ? [list] : search.value.trim() ? [document.createTextNode(" no match")] : []));
  });
  search.addEventListener("keydown", event => {
    if (event.key === "Enter") {
      const found = matches();
      if (found.length) { select(found[0], true); $("matches").replaceChildren(); }
    }
  });

  // --- zoom -------------------------------------------------------------------------------------------
  const width = parseFloat(svg.getAttribute("width")), height = parseFloat(svg.getAttribute("height"));
  let zoom = 1;
  function setZoom(z) {
    zoom = Math.max(0.05, Math.min(4, z));
    svg.setAttribute("width", `${width * zoom}pt`);
    svg.setAttribute("height", `${height * zoom}pt`);
  }
  $("zoom-in").addEventListener("click", () => setZoom(zoom * 1.25));
  $("zoom-out").addEventListener("click", () => setZoom(zoom / 1.25));
  const fitting = () => {
    const pane = $("graph-pane");
    return Math.min(pane.clientWidth / (width * 4 / 3), pane.clientHeight / (height * 4 / 3));
  };
  $("zoom-fit").addEventListener("click", () => setZoom(fitting()));
  if (fitting() < 1) setZoom(Math.max(fitting(), 0.6));  // small graphs whole; large ones readable

  highlight(D.highlight);
  show(0);
  if (D.highlight.length) select(D.highlight[0]); else select(D.root);
})();
