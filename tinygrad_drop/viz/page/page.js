// The backprop explorer. Python (td.viz.explore) computed everything: the graph, where each node
// goes, every tensor's value, and the backward pass itself, one step of td.autograd.backward_steps
// at a time. This script only draws it and lets you walk the steps.
//
// Step 0 is "before backward". After N steps, steps[N - 1] is the current one: its node lights up,
// the gradient that arrived there and the gradients it passed to its inputs are drawn as heatmaps
// (one shared colour scale), and every edge whose gradient has been computed shows that gradient's
// norm. Keys: ← and → step, Home and End jump to the ends.
"use strict";

const data = JSON.parse(document.getElementById("data").textContent);
const nodes = data.nodes, edges = data.edges, steps = data.steps, layout = data.layout;
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- decoding what Python sent
// A picture is a grid of some of a tensor's elements, sent as base64 float32 (see pictures.py).
function cellsOf(picture) {
  if (!picture.values) {
    const bytes = Uint8Array.from(atob(picture.cells), (c) => c.charCodeAt(0));
    picture.values = new Float32Array(bytes.buffer);
  }
  return picture.values;
}

// Numbers as the page prints them: 4 significant digits, and an exact zero as "0".
function fmt(v) {
  if (v === 0) return "0";
  if (v === null || v === undefined) return "-";
  return Number.isFinite(v) ? v.toPrecision(4) : String(v);
}

// Diverging colours: blue for negative, white for 0, red for positive, scaled by `limit`.
function colour(v, limit) {
  if (!Number.isFinite(v)) return "#000";
  const t = limit > 0 ? Math.max(-1, Math.min(1, v / limit)) : 0;
  const mix = (a, b, s) => Math.round(a + (b - a) * s);
  const [r, g, b] = t < 0 ? [mix(247, 33, -t), mix(247, 102, -t), mix(247, 172, -t)]
                          : [mix(247, 178, t), mix(247, 24, t), mix(247, 43, t)];
  return `rgb(${r},${g},${b})`;
}

function largest(pictures) {
  let m = 0;
  for (const p of pictures) for (const v of cellsOf(p)) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  return m;
}

// ---------------------------------------------------------------- the graph
const edgeStep = new Array(edges.length).fill(null);  // the step that computed each edge's gradient
steps.forEach((step, k) => step.outs.forEach((out) => { edgeStep[out.edge] = k; }));
const stepOfNode = new Array(nodes.length).fill(null);
steps.forEach((step, k) => { stepOfNode[step.node] = k; });

function nodeTitle(node) {
  return node.kind === "op" ? node.op : (node.name || node.op);
}

// A node's thumbnail: its value as a heatmap, one pixel-square per cell.
function thumbnail(picture) {
  const canvas = document.createElement("canvas");
  const scale = Math.max(1, Math.floor(Math.min(48 / picture.cols, 20 / picture.rows)));
  canvas.width = picture.cols * scale; canvas.height = picture.rows * scale;
  const ctx = canvas.getContext("2d"), values = cellsOf(picture), limit = largest([picture]);
  for (let r = 0; r < picture.rows; r++)
    for (let c = 0; c < picture.cols; c++) {
      ctx.fillStyle = colour(values[r * picture.cols + c], limit);
      ctx.fillRect(c * scale, r * scale, scale, scale);
    }
  return canvas;
}

function drawNodes() {
  const graph = $("graph");
  graph.style.width = layout.width + "px"; graph.style.height = layout.height + "px";
  const svg = $("edges");
  svg.setAttribute("width", layout.width); svg.setAttribute("height", layout.height);
  for (const node of nodes) {
    const div = document.createElement("div");
    div.className = `node ${node.kind}` + (node.dropout ? " dropout" : "");
    div.id = `node-${node.id}`;
    div.dataset.id = node.id;
    div.style.left = layout.x[node.id] + "px"; div.style.top = layout.y[node.id] + "px";
    div.style.width = layout.nodeWidth + "px"; div.style.height = layout.nodeHeight + "px";
    div.title = [nodeTitle(node), node.module || ""].join("\n");
    const op = document.createElement("div"); op.className = "op"; op.textContent = nodeTitle(node);
    const shape = document.createElement("div"); shape.className = "shape";
    shape.textContent = `(${node.shape.join(", ")})`;
    div.append(op, shape);
    if (node.dropout) {
      const kept = [...node.dropout.mask].filter((b) => b === "1").length;
      const line = document.createElement("div"); line.className = "shape";
      line.textContent = `● ${kept} ○ ${node.dropout.mask.length - kept} ×${fmt(node.dropout.scale)}`;
      div.append(line);
    }
    div.append(thumbnail(node.value));
    div.addEventListener("click", () => select(node.id));
    graph.append(div);
  }
  edges.forEach((edge, k) => {
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.id = `edge-${k}`; path.dataset.from = edge.from; path.dataset.to = edge.to;
    const label = document.createElementNS("http://www.w3.org/2000/svg", "text");
    label.id = `edge-label-${k}`;
    svg.append(path, label);
  });
}

// ---------------------------------------------------------------- module groups (collapsible)
// Every dotted prefix of a node's module is a group ("transformer", "transformer.h.0", ...).
// A collapsed group hides its nodes behind one box; edges to them end at the box.
const collapsed = new Set();
const groups = [...new Set(nodes.flatMap((n) => {
  if (!n.module) return [];
  const parts = n.module.split(".");
  return parts.map((_, i) => parts.slice(0, i + 1).join("."));
}))].sort();

function representative(node) {  // the outermost collapsed group holding the node, or null
  if (!node.module) return null;
  const parts = node.module.split(".");
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join(".");
    if (collapsed.has(prefix)) return prefix;
  }
  return null;
}

function groupBoxes() {  // the bounding box of each shown group's nodes
  const boxes = new Map();
  for (const node of nodes) {
    const group = representative(node);
    if (!group) continue;
    const b = boxes.get(group) || { left: Infinity, top: Infinity, right: -Infinity, bottom: -Infinity, count: 0 };
    b.left = Math.min(b.left, layout.x[node.id]); b.top = Math.min(b.top, layout.y[node.id]);
    b.right = Math.max(b.right, layout.x[node.id] + layout.nodeWidth);
    b.bottom = Math.max(b.bottom, layout.y[node.id] + layout.nodeHeight);
    b.count += 1;
    boxes.set(group, b);
  }
  return boxes;
}

function drawModuleList() {
  const list = $("module-list");
  list.replaceChildren();
  for (const group of groups) {
    const li = document.createElement("li");
    const depth = group.split(".").length - 1;
    li.style.paddingLeft = depth * 8 + "px";
    li.textContent = (collapsed.has(group) ? "▸ " : "▾ ") + group.split(".").pop();
    li.title = group;
    li.dataset.group = group;
    li.addEventListener("click", () => { toggle(group); });
    list.append(li);
  }
}

function toggle(group) {
  if (collapsed.has(group)) collapsed.delete(group); else collapsed.add(group);
  drawModuleList(); update();
}

// Blocks of a ModuleList ("transformer.h.0") are the natural unit to fold; without any, the top groups.
function collapseAll() {
  const blocks = groups.filter((g) => /\.\d+$/.test(g));
  (blocks.length ? blocks : groups.filter((g) => !g.includes("."))).forEach((g) => collapsed.add(g));
  drawModuleList(); update();
}

// ---------------------------------------------------------------- the step panel
// A heatmap of cells the tests (and curious readers) can read: each cell carries its value.
function heatmap(picture, limit, mask) {
  const grid = document.createElement("div");
  grid.className = "heatmap";
  grid.style.gridTemplateColumns = `repeat(${picture.cols}, 11px)`;
  const values = cellsOf(picture);
  values.forEach((v, k) => {
    const cell = document.createElement("div");
    cell.className = "cell" + (mask ? { 1: " kept", 0: " dropped", 2: " masked" }[mask[k]] : "");
    cell.style.background = colour(v, limit);
    cell.dataset.v = fmt(v);
    const row = picture.rowIndex[Math.floor(k / picture.cols)], col = picture.colIndex[k % picture.cols];
    cell.title = `[${row}, ${col}] = ${fmt(v)}`;
    grid.append(cell);
  });
  return grid;
}

function maskGrid(dropout, picture) {
  const grid = document.createElement("div");
  grid.className = "heatmap mask";
  grid.style.gridTemplateColumns = `repeat(${picture.cols}, 11px)`;
  for (const bit of dropout.mask) {
    const cell = document.createElement("div");
    cell.className = "cell " + (bit === "1" ? "kept" : "dropped");
    grid.append(cell);
  }
  return grid;
}

function colourBar(limit) {
  const bar = document.createElement("div");
  bar.className = "colorbar";
  bar.innerHTML = `<span>${fmt(-limit)}</span><span class="bar"></span><span>${fmt(limit)}</span>` +
                  `<span class="muted">(one scale for every heatmap of this step)</span>`;
  return bar;
}

function heading(text, tag = "h3") {
  const h = document.createElement(tag); h.textContent = text; return h;
}

function sampledNote(picture, shape) {
  const total = shape.reduce((a, b) => a * b, 1);
  return picture.rows * picture.cols < total
    ? ` · showing ${picture.rows}×${picture.cols} evenly spaced of ${total} elements` : "";
}

let evalMode = false;  // the dropout toggle: show what model.eval() would make of the node

function drawStepPanel(k) {
  const panel = $("step-panel");
  panel.replaceChildren(heading("step", "h2"));
  if (k < 0) {
    panel.append(heading("Before backward: press → to start at the loss (dL/dL = 1).", "p"));
    return;
  }
  const step = steps[k], node = nodes[step.node];
  panel.append(heading(`step ${k + 1} of ${steps.length}: ${step.name}` + (node.name ? ` ${node.name}` : ""), "p"));
  const limit = largest([step.grad, ...step.outs.map((o) => o.grad)]);
  panel.append(colourBar(limit));
  const incoming = document.createElement("div"); incoming.id = "step-grad";
  incoming.append(heading(`gradient arriving, dL/d(output) ${"(" + node.shape.join(", ") + ")"}` +
                          sampledNote(step.grad, node.shape)),
                  heatmap(step.grad, limit));
  panel.append(incoming);
  if (step.leaf) panel.append(heading("A leaf: this gradient is added into its .grad.", "p"));
  if (node.dropout) panel.append(dropoutSection(node, step, limit));
  step.outs.forEach((out) => {
    const source = nodes[edges[out.edge].from];
    const block = document.createElement("div");
    block.className = "step-out"; block.dataset.edge = out.edge;
    block.append(heading(`passed on to ${nodeTitle(source)} (${source.shape.join(", ")}), ` +
                         `norm ${fmt(out.grad.stats.norm)}`));
    block.append(heatmap(out.grad, limit, node.dropout && !evalMode ? node.dropout.mask : null));
    panel.append(block);
  });
}

function dropoutSection(node, step, limit) {
  const box = document.createElement("div"); box.id = "dropout";
  const p = node.dropout.p;
  const toggle = document.createElement("button");
  toggle.id = "eval-toggle";
  toggle.textContent = evalMode ? "show training (the mask)" : "show eval (identity)";
  toggle.addEventListener("click", () => { evalMode = !evalMode; update(); });
  box.append(heading(`dropout p = ${p}: ● kept (scaled by 1/(1-p) = ${fmt(node.dropout.scale)}), ○ dropped`), toggle);
  if (evalMode) {
    box.append(heading("In eval() dropout is the identity: every element kept, nothing scaled, so the " +
                       "gradient passes through unchanged (and a graph built in eval has no node here).", "p"),
               heatmap(step.grad, limit));
  } else {
    box.append(maskGrid(node.dropout, node.value),
               heading("Backward multiplies by the same mask and scale: a dropped element gets exactly 0.", "p"));
  }
  return box;
}

// ---------------------------------------------------------------- the node panel
function statsTable(rows) {
  const table = document.createElement("table"); table.className = "stats";
  table.innerHTML = "<tr><th></th><th>min</th><th>max</th><th>mean</th><th>std</th><th>norm</th><th>zeros</th></tr>" +
    rows.map(([name, s]) => `<tr><th>${name}</th>` + ["min", "max", "mean", "std", "norm"].map((k) => `<td>${fmt(s[k])}</td>`).join("") +
      `<td>${s.zeros === undefined ? "-" : (100 * s.zeros).toFixed(1) + "%"}</td></tr>`).join("");
  return table;
}

function pre(text) { const p = document.createElement("pre"); p.textContent = text; return p; }

function drawNodePanel(id) {
  const panel = $("node-panel");
  panel.replaceChildren(heading("node", "h2"));
  if (id === null) { panel.append(heading("Click a node to see its rule, statistics and gradcheck.", "p")); return; }
  const node = nodes[id];
  panel.append(heading(`${nodeTitle(node)} (${node.shape.join(", ")}) ${node.dtype}` +
                       (node.module ? ` · in ${node.module}` : ""), "p"));
  const rows = [["value", node.value.stats]];
  const k = stepOfNode[id];
  if (k !== null && k <= current - 1) rows.push(["grad", steps[k].grad.stats]);
  panel.append(statsTable(rows));
  if (node.kind !== "op") {
    panel.append(heading(node.kind === "param" ? "A parameter: backward adds its gradient into .grad."
                                               : "Needs no gradient: backward stops here.", "p"));
    return;
  }
  if (node.attention) {  // attention's own dropout, on the weights after softmax
    const weights = node.attention.weights;
    panel.append(heading("attention weights after dropout (rows: batch × head × query, columns: key): " +
                         "● kept, ○ dropped, blank: masked by causality" + sampledNote(weights, [weights.stats.size])),
                 heatmap(weights, largest([weights]), node.attention.mask));
  }
  const check = node.check;
  const checkLine = document.createElement("p"); checkLine.id = "gradcheck";
  if (!check) checkLine.textContent = "gradcheck: not run (pass explore a function that computes the loss)";
  else if (check.error) checkLine.textContent = `gradcheck: could not run this node alone (${check.error})`;
  else {
    checkLine.className = check.ok ? "ok" : "bad";
    checkLine.textContent = `gradcheck ${check.ok ? "passed" : "FAILED"} (float64, ${check.checked} elements): ` +
      `worst input ${check.input} [${check.index.join(", ")}]: analytic ${fmt(check.analytic)}, numeric ${fmt(check.numeric)}`;
  }
  panel.append(checkLine);
  const rule = data.rules[node.function];
  if (rule) {
    panel.append(heading(`what ${node.function} computes (${rule.file})`), pre(rule.doc || "(no docstring)"),
                 heading("forward"), pre(rule.forward), heading("backward: the chain rule for this node"), pre(rule.backward));
  }
}

// ---------------------------------------------------------------- putting it together
let current = 0, selected = null;

function update() {
  const boxes = groupBoxes();
  const done = (k) => k !== null && k < current;
  for (const node of nodes) {
    const div = $(`node-${node.id}`);
    div.classList.toggle("hidden", representative(node) !== null);
    div.classList.toggle("current", current > 0 && steps[current - 1].node === node.id);
    div.classList.toggle("done", done(stepOfNode[node.id]));
    div.classList.toggle("selected", selected === node.id);
  }
  const graph = $("graph");
  graph.querySelectorAll(".group").forEach((g) => g.remove());
  const currentGroup = current > 0 ? representative(nodes[steps[current - 1].node]) : null;
  for (const [group, b] of boxes) {
    const div = document.createElement("div");
    div.className = "group" + (group === currentGroup ? " current" : "");
    Object.assign(div.style, { left: b.left + "px", top: b.top + "px", width: b.right - b.left + "px",
                               height: b.bottom - b.top + "px" });
    div.textContent = `▸ ${group} (${b.count} nodes)`;
    div.addEventListener("click", () => toggle(group));
    graph.append(div);
  }
  const anchor = (id, bottom) => {  // where an edge meets a node, or the group box hiding it
    const group = representative(nodes[id]);
    if (group) { const b = boxes.get(group); return [(b.left + b.right) / 2, bottom ? b.bottom : b.top, group]; }
    return [layout.x[id] + layout.nodeWidth / 2, layout.y[id] + (bottom ? layout.nodeHeight : 0), null];
  };
  edges.forEach((edge, k) => {
    const path = $(`edge-${k}`), label = $(`edge-label-${k}`);
    const [x1, y1, g1] = anchor(edge.from, true), [x2, y2, g2] = anchor(edge.to, false);
    const inside = g1 !== null && g1 === g2;
    path.classList.toggle("hidden", inside); label.classList.toggle("hidden", inside);
    const bend = Math.max(20, Math.abs(y2 - y1) / 2);
    path.setAttribute("d", `M ${x1} ${y1} C ${x1} ${y1 + bend}, ${x2} ${y2 - bend}, ${x2} ${y2}`);
    const passed = done(edgeStep[k]);
    path.classList.toggle("done", passed);
    const out = passed ? steps[edgeStep[k]].outs.find((o) => o.edge === k) : null;
    label.textContent = out ? `‖g‖ ${fmt(out.grad.stats.norm)}` : "";
    label.setAttribute("x", (x1 + x2) / 2 + 4); label.setAttribute("y", (y1 + y2) / 2);
  });
  $("slider").value = current;
  $("step-label").textContent = current === 0 ? `step 0 of ${steps.length}: before backward`
    : `step ${current} of ${steps.length}: ${steps[current - 1].name}`;
  drawStepPanel(current - 1);
  drawNodePanel(selected !== null ? selected : current > 0 ? steps[current - 1].node : null);
}

function go(step) {
  current = Math.max(0, Math.min(steps.length, step));
  update();
  const node = current > 0 ? $(`node-${steps[current - 1].node}`) : null;
  if (node && !node.classList.contains("hidden")) node.scrollIntoView({ block: "nearest", inline: "nearest" });
}

function select(id) {
  selected = selected === id ? null : id;
  update();
}

function search(text, jump) {
  const query = text.trim().toLowerCase();
  const matches = nodes.filter((n) => query && [nodeTitle(n), n.op, n.module || ""].join(" ").toLowerCase().includes(query));
  nodes.forEach((n) => $(`node-${n.id}`).classList.toggle("match", matches.includes(n)));
  if (jump && matches.length) {
    const first = matches[0];
    for (const group of [...collapsed]) if (first.module && (first.module + ".").startsWith(group + ".")) collapsed.delete(group);
    drawModuleList(); select(first.id);
    $(`node-${first.id}`).scrollIntoView({ block: "center", inline: "center" });
  }
}

function start() {
  $("title").textContent = data.title;
  if (data.fusedNote) { $("note").hidden = false; $("note").textContent = data.fusedNote; }
  $("slider").max = steps.length;
  drawNodes();
  if (data.startCollapsed) collapseAll(); else drawModuleList();
  $("first").addEventListener("click", () => go(0));
  $("prev").addEventListener("click", () => go(current - 1));
  $("next").addEventListener("click", () => go(current + 1));
  $("last").addEventListener("click", () => go(steps.length));
  $("slider").addEventListener("input", (e) => go(Number(e.target.value)));
  $("collapse-all").addEventListener("click", collapseAll);
  $("expand-all").addEventListener("click", () => { collapsed.clear(); drawModuleList(); update(); });
  $("search").addEventListener("input", (e) => search(e.target.value, false));
  $("search").addEventListener("keydown", (e) => { if (e.key === "Enter") search(e.target.value, true); });
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" && e.target.type !== "range") return;  // typing in the search box
    const moves = { ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: steps.length };
    if (e.key in moves) { e.preventDefault(); go(moves[e.key]); }
  });
  update();
}

start();
