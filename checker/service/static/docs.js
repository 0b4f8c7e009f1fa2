/* Renders /openapi.json as a plain page (no third-party viewer, nothing loaded from elsewhere). */
"use strict";

(function () {
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  function schemaText(s) {
    if (!s) return "";
    if (s.enum) return s.enum.map(String).join(" | ");
    if (s.anyOf) return s.anyOf.map(schemaText).join(" | ");
    return s.type || "";
  }

  function endpoint(path, method, op) {
    const card = el("section", { class: "endpoint", id: (method + path).replace(/[^a-z0-9]/gi, "-") });
    card.append(el("h2", {}, el("span", { class: "method " + method }, method.toUpperCase()),
      el("code", {}, path), el("span", {}, op.summary || "")));
    if (op.description) card.append(el("p", { class: "desc" }, op.description));
    const params = op.parameters || [];
    if (params.length) {
      const table = el("table", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"),
        el("th", {}, "type"), el("th", {}, "default"), el("th", {}, "")));
      for (const p of params) {
        const s = p.schema || {};
        table.append(el("tr", {}, el("td", {}, el("code", {}, p.name)), el("td", {}, p.in),
          el("td", {}, schemaText(s)), el("td", {}, s.default === undefined ? "" : String(s.default)),
          el("td", {}, p.description || "")));
      }
      card.append(table);
    }
    const body = op.requestBody;
    if (body) {
      card.append(el("p", { class: "desc" }, el("strong", {}, "Body: "), body.description || ""));
      const media = (body.content || {})["application/json"];
      if (media && media.example) card.append(el("pre", {}, JSON.stringify(media.example, null, 2)));
    }
    const responses = Object.entries(op.responses || {});
    if (responses.length) {
      const table = el("table", {}, el("tr", {}, el("th", {}, "status"), el("th", {}, "")));
      for (const [code, r] of responses) table.append(el("tr", {}, el("td", {}, code), el("td", {}, r.description || "")));
      card.append(table);
    }
    return card;
  }

  fetch("/openapi.json").then((r) => r.json()).then((doc) => {
    const info = document.getElementById("api-info");
    info.textContent = doc.info.title + " " + doc.info.version + " — " + (doc.info.description || "");
    const list = document.getElementById("endpoints");
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) list.append(endpoint(path, method, op));
    }
    document.body.dataset.ready = "true";
  }).catch((e) => { document.getElementById("api-info").textContent = "/openapi.json: " + e.message; });
})();
