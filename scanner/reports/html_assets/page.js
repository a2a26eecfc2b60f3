/* sprawlscan HTML report: draws the report's own JSON (embedded below) with Cytoscape.js.
   Every untrusted string reaches the page through textContent, never innerHTML. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("sprawlscan-data").textContent);
  var COLORS = {dies: "#2e7d32", shared: "#c62828", human: "#ef6c00", orphaned: "#6a1b9a",
                platform: "#1565c0", expiring: "#f9a825", unknown: "#616161"};
  var KIND_COLORS = {agent: "#263238", workflow: "#00838f", reference: "#90a4ae", identity: "#5d4037",
                     platform: "#37474f", owner: "#8d6e63", location: "#b0bec5", locations: "#b0bec5",
                     credential: "#616161", finding: "#c62828", provider: "#455a64"};

  /* a plain SHA-256, or the keyed HMAC of a guessable value ("fingerprint": "keyed") */
  function fpOf(c) { return c.secret_sha256 || c.secret_hmac; }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function kindOf(id) { var i = id.indexOf(":"); return i < 0 ? "node" : id.slice(0, i); }
  function short(id) {
    var k = kindOf(id), rest = id.slice(k.length + 1);
    if (k === "credential") return rest.slice(0, 12);
    var parts = rest.split(/[#\/]/), last = parts[parts.length - 1] || rest;
    return k === "identity" || k === "platform" || k === "owner" ? k + " " + last : last;
  }
  function safeUrl(u) { return typeof u === "string" && /^https?:\/\//i.test(u) ? u : null; }
  function verdictOf(c) { return c.survives ? (c.reason || "unknown") : "dies"; }

  var nodes = {}, edges = {};
  function addNode(id, data) {
    if (!nodes[id]) nodes[id] = {data: Object.assign({id: id, kind: kindOf(id), label: short(id)}, data || {})};
    else Object.assign(nodes[id].data, data || {});
    return nodes[id];
  }
  function addEdge(a, b, kind) {
    var id = a + "->" + b;
    if (!edges[id]) edges[id] = {data: {id: id, source: a, target: b, kind: kind || ""}};
  }
  function addPath(path, kind) {
    for (var i = 0; i < path.length; i++) addNode(path[i]);
    for (var j = 1; j < path.length; j++) addEdge(path[j - 1], path[j], kind);
  }
  function pathEles(cy, path) {
    var col = cy.collection();
    for (var i = 0; i < path.length; i++) {
      col = col.union(cy.getElementById(path[i]));
      if (i > 0) col = col.union(cy.getElementById(path[i - 1] + "->" + path[i]));
    }
    return col;
  }

  var details = document.getElementById("details");
  function show(title, pairs) {
    details.replaceChildren();
    details.appendChild(el("h2", title));
    var dl = el("dl");
    pairs.forEach(function (p) {
      if (p[1] === null || p[1] === undefined || (Array.isArray(p[1]) && !p[1].length)) return;
      dl.appendChild(el("dt", p[0]));
      var dd = el("dd");
      if (p[1] instanceof Node) dd.appendChild(p[1]);
      else if (Array.isArray(p[1])) p[1].forEach(function (x) { dd.appendChild(x instanceof Node ? x : el("div", x)); });
      else dd.textContent = String(p[1]);
      dl.appendChild(dd);
    });
    details.appendChild(dl);
  }
  function locItem(loc) {
    var text = [loc.source, loc.container, loc.path].filter(Boolean).join(" ") +
      (loc.line ? ":" + loc.line : "") + (loc.commit ? " @" + String(loc.commit).slice(0, 10) : "");
    var url = safeUrl(loc.url);
    if (!url) return el("div", text);
    var a = el("a", text); a.href = url; a.rel = "noopener noreferrer"; a.target = "_blank";
    var d = el("div"); d.appendChild(a); return d;
  }
  function table(headers, rows, attrs) {
    var t = el("table"), thead = el("thead"), tr = el("tr");
    headers.forEach(function (h) { tr.appendChild(el("th", h)); });
    thead.appendChild(tr); t.appendChild(thead);
    var tb = el("tbody");
    rows.forEach(function (r, i) {
      var row = el("tr");
      Object.keys((attrs && attrs[i]) || {}).forEach(function (k) { row.setAttribute(k, attrs[i][k]); });
      r.forEach(function (cell) { var td = el("td"); if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell; row.appendChild(td); });
      tb.appendChild(row);
    });
    t.appendChild(tb); return t;
  }

  var header = document.getElementById("summary"), tables = document.getElementById("tables");
  var onSelect = {};   /* node id -> function showing its facts */
  var roots = [];

  /* ---------- survivors ---------- */
  function buildSurvivors(rep) {
    var agentId = "agent:" + rep.agent;
    roots = [agentId];
    addNode(agentId, {label: rep.agent});
    var v = el("span", rep.blocked ? "BLOCKED" : "clear", "verdict " + (rep.blocked ? "blocked" : "clear"));
    header.appendChild(el("h1", "What outlives agent " + rep.agent + (rep.inferred ? " (agent list inferred: may be incomplete)" : "")));
    var line = el("div", null, "counts"); line.appendChild(v);
    var surv = rep.credentials.filter(function (c) { return c.survives; }).length;
    [["at", rep.at], ["grace", rep.grace_seconds / 3600 + " h"], ["credentials", rep.credentials.length],
     ["survive", surv], ["die", rep.credentials.length - surv], ["unresolved", rep.unresolved.length]]
      .forEach(function (p) { line.appendChild(el("span", p[0] + ": " + p[1])); });
    header.appendChild(line);
    (rep.dies_with_agent || []).forEach(function (n) {
      addNode(n, {dies: "yes"});
      if (n !== agentId) addEdge(agentId, n, "dies_with");
    });
    rep.credentials.forEach(function (c) {
      var cid = "credential:" + fpOf(c), verdict = verdictOf(c);
      c.reached_via.forEach(function (p) { addPath(p, "reach"); });
      (c.other_holders_via || []).forEach(function (p) { addPath(p, "holder"); });
      addNode(cid, {label: c.redacted + "\n" + (c.survives ? "survives: " + c.reason : "dies"),
                    verdict: verdict, color: COLORS[verdict] || COLORS.unknown, fp: fpOf(c)});
      var live = c.exposure.live.length, hist = c.exposure.historical.length;
      if (live) { addNode("locations:" + fpOf(c) + ":live", {label: live + " live copies", verdict: verdict}); addEdge("locations:" + fpOf(c) + ":live", cid, "copy_of"); }
      if (hist) { addNode("locations:" + fpOf(c) + ":historical", {label: hist + " historical copies", verdict: verdict}); addEdge("locations:" + fpOf(c) + ":historical", cid, "copy_of"); }
      var facts = function () {
        show(c.redacted + " (" + c.rule_id + ")", [
          ["verdict", c.survives ? "survives: " + c.reason : "dies"],
          ["why", c.dies_because], ["action", c.action], [c.secret_hmac ? "fingerprint (keyed)" : "fingerprint (sha256)", fpOf(c)],
          ["provider", c.provider], ["lifetime", c.lifetime], ["expires", c.expires],
          ["other holders", c.other_holders], ["resolved by", c.resolved_by],
          ["evidence", c.reached_via.map(function (p) { return p.join(" → "); })],
          ["live copies", c.exposure.live.map(locItem)],
          ["historical copies", c.exposure.historical.map(locItem)], ["tags", (c.tags || []).join(", ")]]);
        return c.reached_via.concat(c.other_holders_via || []);
      };
      onSelect[cid] = facts;
      onSelect["locations:" + fpOf(c) + ":live"] = facts;
      onSelect["locations:" + fpOf(c) + ":historical"] = facts;
    });
    rep.unresolved.forEach(function (u) {
      var id = "unresolved:" + u.name + "@" + (u.scope || "-");
      addNode(id, {label: "? " + u.name, verdict: "unresolved", color: COLORS.shared});
      u.referenced_by.forEach(function (r) { addNode(r); addEdge(r, id, "references"); });
      onSelect[id] = function () { show("unresolved " + u.name, [["scope", u.scope], ["why", u.why], ["referenced by", u.referenced_by]]); return []; };
    });
    tables.appendChild(el("h2", "Credentials"));
    tables.appendChild(table(["rule", "secret", "fingerprint", "survives", "reason", "why / action", "exposure", "evidence", "tags"],
      rep.credentials.map(function (c) {
        return [c.rule_id, c.redacted, fpOf(c).slice(0, 16), c.survives ? "yes" : "no", c.reason || "-",
                c.dies_because || c.action, c.exposure.live.length + " live / " + c.exposure.historical.length + " hist",
                (c.reached_via[0] || []).join(" → "), (c.tags || []).join(", ")];
      }), rep.credentials.map(function (c) { return {"data-fp": fpOf(c), "data-verdict": verdictOf(c)}; })));
    if (rep.unresolved.length) {
      tables.appendChild(el("h2", "Unresolved references"));
      tables.appendChild(table(["name", "scope", "referenced by", "why"], rep.unresolved.map(function (u) {
        return [u.name, u.scope || "-", u.referenced_by.join(", "), u.why]; })));
    }
  }

  /* ---------- graph (whole identity graph) ---------- */
  function addGraph(g, limit) {
    var locCount = {};
    g.nodes.forEach(function (n) {
      if (n.kind === "location") return;
      addNode(n.id, {kind: n.kind, label: n.kind === "credential" ? (n.redacted || short(n.id)) : short(n.id)});
      onSelect[n.id] = function () { show(n.id, Object.keys(n).sort().map(function (k) { return [k, n[k]]; })); return []; };
    });
    g.links.forEach(function (e) {
      if (e.kind === "copy_of") { locCount[e.target] = (locCount[e.target] || 0) + 1; return; }
      if (nodes[e.source] && nodes[e.target]) addEdge(e.source, e.target, e.kind);
    });
    Object.keys(locCount).forEach(function (cid) {
      var id = "locations:" + cid; addNode(id, {label: locCount[cid] + " copies", kind: "locations"}); addEdge(id, cid, "copy_of");
    });
  }
  function buildGraph(d) {
    header.appendChild(el("h1", "Identity graph"));
    header.appendChild(el("div", d.graph.nodes.length + " nodes, " + d.graph.links.length + " edges (locations collapsed into counts)", "counts"));
    addGraph(d.graph);
    roots = Object.keys(nodes).filter(function (id) { return kindOf(id) === "agent"; });
  }

  /* ---------- audit ---------- */
  function buildAudit(d) {
    header.appendChild(el("h1", "Audit: " + d.findings.length + " findings"));
    addGraph(d.graph);
    roots = Object.keys(nodes).filter(function (id) { return kindOf(id) === "agent"; });
    var groups = {};
    d.findings.forEach(function (f) {
      (f.agents && f.agents.length ? f.agents : ["(no agent)"]).forEach(function (a) {
        (groups[a] = groups[a] || []).push(f);
      });
    });
    var order = ["critical", "high", "medium", "low"];
    Object.keys(groups).sort().forEach(function (a) {
      tables.appendChild(el("h2", a));
      var fs = groups[a].slice().sort(function (x, y) { return order.indexOf(x.severity) - order.indexOf(y.severity); });
      tables.appendChild(table(["severity", "check", "subject", "message", "tags"], fs.map(function (f) {
        var link = el("a", f.subject); link.href = "#"; link.addEventListener("click", function (ev) {
          ev.preventDefault(); focus(f.subject); });
        return [f.severity, f.check, link, f.message, (f.tags || []).join(", ")];
      }), fs.map(function (f) { return {"data-severity": f.severity, "data-subject": f.subject}; })));
    });
  }

  /* ---------- scan ---------- */
  function buildScan(d) {
    var r = d.report;
    header.appendChild(el("h1", "Scan: " + r.findings.length + " credentials" + (r.incomplete ? " (INCOMPLETE)" : "")));
    var byProv = {};
    r.findings.forEach(function (f) { (byProv[f.provider] = byProv[f.provider] || []).push(f); });
    Object.keys(byProv).sort().forEach(function (p) {
      var pid = "provider:" + p; addNode(pid, {label: p}); roots.push(pid);
      tables.appendChild(el("h2", p + " (" + byProv[p].length + ")"));
      tables.appendChild(table(["rule", "secret", "fingerprint", "locations"], byProv[p].map(function (f) {
        var cid = "credential:" + fpOf(f);
        addNode(cid, {label: f.redacted, kind: "credential"}); addEdge(pid, cid, "has");
        onSelect[cid] = function () { show(f.redacted + " (" + f.rule_id + ")", [["fingerprint", fpOf(f)],
          ["copies", (f.locations || []).map(locItem)]]); return []; };
        var locs = el("div"); (f.locations || []).forEach(function (l) { locs.appendChild(locItem(l)); });
        return [f.rule_id, f.redacted, fpOf(f).slice(0, 16), locs];
      }), byProv[p].map(function (f) { return {"data-fp": fpOf(f)}; })));
    });
  }

  ({survivors: function () { buildSurvivors(DATA.report); }, graph: function () { buildGraph(DATA); },
    audit: function () { buildAudit(DATA); }, scan: function () { buildScan(DATA); }})[DATA.kind]();

  var elements = Object.keys(nodes).map(function (k) { return nodes[k]; })
    .concat(Object.keys(edges).map(function (k) { return edges[k]; }));
  var cy = window.cy = cytoscape({
    container: document.getElementById("cy"), elements: elements,
    style: [
      {selector: "node", style: {"label": "data(label)", "font-size": 11, "text-wrap": "wrap", "text-max-width": 120,
        "text-valign": "bottom", "text-background-color": "#ffffff", "text-background-opacity": 0.8,
        "text-background-padding": 1, "width": 18, "height": 18, "background-color": function (n) {
          return n.data("color") || KIND_COLORS[n.data("kind")] || "#78909c"; }}},
      {selector: "node[kind = 'credential']", style: {"shape": "round-rectangle", "width": 30, "height": 22}},
      {selector: "node[kind = 'agent']", style: {"shape": "star", "width": 34, "height": 34}},
      {selector: "node[kind = 'locations']", style: {"shape": "tag", "width": 14, "height": 14}},
      {selector: "node[dies = 'yes']", style: {"border-width": 3, "border-color": COLORS.dies}},
      {selector: "edge", style: {"width": 1.2, "curve-style": "bezier", "target-arrow-shape": "triangle",
        "line-color": "#b0bec5", "target-arrow-color": "#b0bec5", "arrow-scale": 0.7}},
      {selector: "edge[kind = 'holder']", style: {"line-style": "dashed"}},
      {selector: "edge[kind = 'dies_with']", style: {"line-style": "dotted", "line-color": "#2e7d32"}},
      {selector: "edge.hl", style: {"line-color": "#ff1744", "target-arrow-color": "#ff1744", "width": 3.5,
        "z-index": 10}},
      {selector: "node.hl", style: {"underlay-color": "#ff1744", "underlay-opacity": 0.35, "underlay-padding": 7,
        "font-weight": "bold", "z-index": 10}},
      {selector: ".dim", style: {"opacity": 0.15}}
    ],
    layout: {name: "preset"}
  });
  /* Layers: distance from the roots (the agent in a survivors report), by the library's own BFS;
     the library's concentric layout puts the roots at the centre and each layer on a ring. */
  var depth = {}, maxDepth = 0;
  var start = roots.map(function (r) { return cy.getElementById(r); }).filter(function (n) { return n.length; });
  start.forEach(function (r) {
    cy.elements().bfs({roots: r, directed: false, visit: function (v, e, u, i, d) {
      if (depth[v.id()] === undefined || d < depth[v.id()]) depth[v.id()] = d;
      if (d > maxDepth) maxDepth = d; }});
  });
  /* The library's force-directed layout, started from the concentric one (roots at the centre). */
  cy.layout({name: "concentric", animate: false, padding: 24, minNodeSpacing: 40,
             concentric: function (n) { var d = depth[n.id()]; return d === undefined ? 0 : maxDepth + 1 - d; },
             levelWidth: function () { return 1; }, startAngle: 0.5, sweep: undefined}).run();
  cy.layout({name: "cose", animate: false, randomize: false, padding: 24, nodeRepulsion: function () { return 9000; },
             idealEdgeLength: function () { return 70; }, numIter: 1500}).run();

  function focus(id) {
    cy.elements().removeClass("hl");
    var n = cy.getElementById(id);
    var paths = onSelect[id] ? onSelect[id]() : [];
    if (!onSelect[id]) show(id, [["kind", kindOf(id)]]);
    paths.forEach(function (p) { pathEles(cy, p).addClass("hl"); });
    if (!paths.length && n.length) n.closedNeighborhood().addClass("hl");
    document.querySelectorAll("tr.selected").forEach(function (r) { r.classList.remove("selected"); });
    var fp = n.data && n.data("fp");
    if (fp) { var row = document.querySelector('tr[data-fp="' + fp + '"]'); if (row) row.classList.add("selected"); }
    window.sprawlscanSelected = id;
  }
  cy.on("tap", "node", function (ev) { focus(ev.target.id()); });

  function applyFilters() {
    var q = document.getElementById("search").value.toLowerCase(), v = document.getElementById("verdict").value;
    cy.batch(function () {
      cy.nodes().forEach(function (n) {
        var text = (n.id() + " " + (n.data("label") || "")).toLowerCase();
        var okQ = !q || text.indexOf(q) >= 0;
        var nv = n.data("verdict");
        var okV = v === "all" || !nv || (v === "survives" ? nv !== "dies" : nv === v);
        n.toggleClass("dim", !(okQ && okV));
      });
    });
  }
  document.getElementById("search").addEventListener("input", applyFilters);
  document.getElementById("verdict").addEventListener("change", applyFilters);
  var legend = document.getElementById("legend");
  Object.keys(COLORS).forEach(function (k) {
    var s = el("span"), i = el("i"); i.style.background = COLORS[k]; s.appendChild(i); s.appendChild(document.createTextNode(k)); legend.appendChild(s);
  });
  document.body.setAttribute("data-ready", "1");
})();
