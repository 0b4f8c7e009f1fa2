/* qinqing self-check page: a form generated from the record schema (GET /v1/schema),
 * checked by POST /v1/check. Vanilla JS, no framework, nothing loaded from elsewhere.
 *
 * Every field label, description and enum label comes from the schema (x-title-zh / title,
 * x-description-zh / description, x-enum-labels); only the page's own words are below.
 * Empty fields are left out of the record (unknown); sections not added send the values
 * that mean "nothing of that kind" (empty lists, kind: none).
 */
"use strict";

(function () {
  // ---- the page's own words --------------------------------------------------------------
  const UI = {
    zh: {
      title: "政商交往事前自查",
      subtitle: "填写计划中的交往情况，即时对照正负面清单和边界规定，得到结论、依据和建议。",
      loading: "正在加载表单…",
      load_failed: "无法加载表单：",
      add_more: "添加其他情况：",
      hidden_note: "未添加的栏目按“没有此类情况”处理（如未添加礼品即表示没有礼品往来）；留空的字段视为“未知”，结论中会作为需要补充的事实提出。",
      submit: "检查",
      checking: "正在检查…",
      reset: "重新填写",
      footer: "qinqing 亲清政商关系合规检查 · 结论仅供事前自查参考，不替代组织认定。",
      api_docs: "接口文档",
      lang_switch: "English",
      unknown: "—（未知）—",
      yes: "是",
      no: "否",
      none_selected: "（均无）",
      add_item: "添加",
      remove_item: "删除",
      remove_section: "移除此栏",
      no_items: "无（未添加即表示没有）",
      item: "第 {n} 项",
      required: "必填",
      sec_basic: "基本信息",
      sec_conduct: "请托与干预",
      sec_money: "借用、持股与兼职",
      sec_enforcement: "检查执法与服务作风",
      sec_reception: "公务接待",
      sec_other: "其他字段",
      result_title: "自查结论",
      outcome_hint: {
        violation: "存在违规情形：请按下列建议调整，调整后再检查。",
        review: "尚不能判断：请补充下列事实或提请纪检监察部门判断。",
        tolerated: "问题已由事前备案的容错机制覆盖，仍需按程序报告。",
        compliant: "符合正面清单及其边界要求。",
        unlisted: "正负面清单均未涉及此事项（既不鼓励也不禁止）。",
        invalid: "记录格式有误，未作判断；请按下列提示修正后重新检查。",
      },
      outcome: { violation: "违规", review: "需复核", tolerated: "容错免责", compliant: "合规",
                 unlisted: "未列入清单", invalid: "无效记录" },
      severity: { critical: "严重", high: "高", medium: "中", low: "低" },
      severity_label: "严重程度",
      citation: "依据",
      remedy: "建议",
      change: "如何合规",
      questions_title: "请补充以下事实",
      questions_lead: "以下事实缺失，补充后可得出明确结论：",
      findings_title: "发现的问题",
      compliant_title: "符合的条目",
      errors_title: "需要修正",
      history: "已参考账本中该公职人员的 {n} 条既往记录（用于频次等跨记录规则）。",
      record_line: "记录 {id} · {date} · 行政区划 {jurisdiction}",
      policy_line: "规则版本 {hash} · 检查时间 {time}",
      print: "打印 / 保存为 PDF",
      show_json: "查看提交的记录（JSON）",
      disclaimer: "本结论由 qinqing 按现行规则自动得出，仅供事前自查参考，不替代组织认定；已写入防篡改决策日志。",
      request_failed: "检查失败：",
      network_failed: "无法连接自查服务：",
      token_label: "访问令牌",
      token_use: "使用此令牌",
      q_suffix: "？",
      colon: "：",
    },
    en: {
      title: "Interaction self-check",
      subtitle: "Describe the planned interaction and check it against the positive and negative lists and their boundaries: verdict, sources and advice.",
      loading: "Loading the form…",
      load_failed: "The form could not be loaded: ",
      add_more: "Add more:",
      hidden_note: "Sections not added count as \"nothing of that kind\" (no gift section means no gifts); empty fields count as unknown and come back as facts to provide.",
      submit: "Check",
      checking: "Checking…",
      reset: "Start over",
      footer: "qinqing compliance checker · for self-checks before the fact; not a ruling by the authorities.",
      api_docs: "API docs",
      lang_switch: "中文",
      unknown: "— unknown —",
      yes: "yes",
      no: "no",
      none_selected: "(none)",
      add_item: "Add",
      remove_item: "Remove",
      remove_section: "Remove section",
      no_items: "None (nothing added means none)",
      item: "Item {n}",
      required: "required",
      sec_basic: "Basics",
      sec_conduct: "Favours and interventions",
      sec_money: "Borrowing, shares and posts",
      sec_enforcement: "Inspection and service conduct",
      sec_reception: "Official reception",
      sec_other: "Other fields",
      result_title: "Self-check result",
      outcome_hint: {
        violation: "Something here is not allowed: change the plan as advised below and check again.",
        review: "Cannot decide yet: provide the facts below, or ask the discipline office.",
        tolerated: "Covered by a pre-registered fault-tolerance filing; still report it as required.",
        compliant: "Within the positive list and its boundaries.",
        unlisted: "Neither list covers this interaction (neither encouraged nor forbidden).",
        invalid: "The record is malformed and was not assessed; fix the following and check again.",
      },
      outcome: { violation: "Violation", review: "Needs review", tolerated: "Tolerated",
                 compliant: "Compliant", unlisted: "Unlisted", invalid: "Invalid record" },
      severity: { critical: "critical", high: "high", medium: "medium", low: "low" },
      severity_label: "Severity",
      citation: "Source",
      remedy: "Advice",
      change: "To comply",
      questions_title: "Facts to provide",
      questions_lead: "These facts are missing; with them the check can decide:",
      findings_title: "Findings",
      compliant_title: "Items complied with",
      errors_title: "To fix",
      history: "Took {n} earlier recorded interactions of this official from the ledger into account (frequency and other cross-record rules).",
      record_line: "Record {id} · {date} · jurisdiction {jurisdiction}",
      policy_line: "Policy version {hash} · checked at {time}",
      print: "Print / save as PDF",
      show_json: "Show the record sent (JSON)",
      disclaimer: "Decided automatically by qinqing under the rules in force, for self-checks only; not a ruling by the authorities. Recorded in the tamper-evident decision log.",
      request_failed: "The check failed: ",
      network_failed: "Cannot reach the self-check service: ",
      token_label: "Access token",
      token_use: "Use this token",
      q_suffix: "?",
      colon: ": ",
    },
  };

  // ---- what the form shows, section by section --------------------------------------------
  // `obj`: one object property of the record; `fields`: top-level properties grouped under a
  // page title; `list`: a list of objects. `optional` sections appear when the interaction kind
  // is in `kinds` or when added by hand; while absent they send `none`.
  // The record kind the form describes: `?kind=complaint` (default: an interaction).
  const KIND = new URLSearchParams(location.search).get("kind") || "interaction";
  const SECTIONS = [
    { key: "basic", fields: ["id", "stage", "jurisdiction", "date", "start_at", "end_at", "declared_at"] },
    { key: "official", obj: "official" },
    { key: "enterprise", obj: "enterprise" },
    { key: "interaction", obj: "interaction" },
    { key: "venue", obj: "venue" },
    { key: "participants", obj: "participants" },
    { key: "transport", obj: "transport" },
    { key: "meals", list: "meals", optional: true, none: { meals: [] } },
    { key: "gifts", list: "gifts", optional: true, none: { gifts: [] } },
    { key: "lodging", obj: "lodging", optional: true, none: { lodging: { arranged_by: "none" } },
      kinds: ["joint_trip", "investment_promotion", "public_business_event", "training_lecture"] },
    { key: "costs", obj: "costs", optional: true, none: {},
      kinds: ["joint_trip", "investment_promotion", "public_business_event"] },
    { key: "leisure", obj: "leisure", optional: true, none: { leisure: { activities: [] } },
      kinds: ["leisure_entertainment", "private_social", "joint_trip"] },
    { key: "conduct", fields: ["personal_favour_requested", "interventions", "recusal_recorded"],
      optional: true, none: { personal_favour_requested: false, interventions: [] },
      kinds: ["private_social", "financial_dealing", "other"] },
    { key: "money", fields: ["borrowing", "position"], optional: true,
      none: { borrowing: { kind: "none" }, position: { kind: "none" } },
      kinds: ["financial_dealing", "private_social"] },
    { key: "enforcement", fields: ["enforcement_actions", "service_conduct"], optional: true,
      none: { enforcement_actions: [], service_conduct: {
        commitment_broken: false, discriminatory_condition: false, refusal_without_legal_basis: false } },
      kinds: ["inspection_enforcement", "onsite_service_visit", "product_promotion"] },
    { key: "reception", fields: ["reception_list_filed", "official_letter_ref"], optional: true, none: {},
      kinds: ["government_hosted_consultation", "public_business_event", "investment_promotion"] },
    { key: "approval", obj: "approval" },
    { key: "liaison", obj: "liaison", optional: true, none: { liaison: { assigned: false } },
      kinds: ["onsite_service_visit"] },
    { key: "tolerance", obj: "tolerance", optional: true, none: {} },
  ];

  // Defaults of a fresh form (paths with [] apply to every list item).
  const DEFAULTS = {
    stage: "planned",
    jurisdiction: "150300",
    date: () => today(),
    id: () => "SC-" + today().replace(/-/g, "") + "-" + Math.random().toString(16).slice(2, 6).toUpperCase(),
    "lodging.arranged_by": "none",
    "borrowing.kind": "none",
    "position.kind": "none",
    personal_favour_requested: false,
    "service_conduct.commitment_broken": false,
    "service_conduct.discriminatory_condition": false,
    "service_conduct.refusal_without_legal_basis": false,
    "meals[].alcohol": "none",
    "meals[].tobacco": false,
    "meals[].high_end_dishes": false,
    "gifts[].direction": "received",
    "liaison.assigned": false,
  };
  const OFFSET = "+08:00"; // datetimes entered on the page are Beijing time

  // ---- state ---------------------------------------------------------------------------
  let lang = new URLSearchParams(location.search).get("lang") === "en" ? "en" : "zh";
  let schema = null;
  let sections = []; // {def, el, widget(s), open}
  let lastRecord = null;
  let lastAnswer = null; // {lang, report, history}
  const byName = new Map(); // field name ("meals.0.diners") → input element

  const $ = (sel, root) => (root || document).querySelector(sel);
  const t = (key) => UI[lang][key];
  const fill = (text, vars) => text.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? vars[k] : ""));

  const pad2 = (n) => String(n).padStart(2, "0");
  function today() {
    const d = new Date();
    return d.getFullYear() + "-" + pad2(d.getMonth() + 1) + "-" + pad2(d.getDate());
  }
  // The time of a check as 2026-12-07 18:30 in either language (no locale's day/month order).
  function nowText() {
    const d = new Date();
    return today() + " " + pad2(d.getHours()) + ":" + pad2(d.getMinutes());
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  // A piece of text in both languages, re-rendered when the language changes.
  function bi(zh, en, tag, attrs) {
    const node = el(tag || "span", attrs);
    node.dataset.zh = zh;
    node.dataset.en = en || zh;
    node.textContent = lang === "en" ? node.dataset.en : node.dataset.zh;
    return node;
  }
  function uiText(key, tag, attrs) {
    return bi(UI.zh[key], UI.en[key], tag, attrs);
  }

  // ---- the schema ------------------------------------------------------------------------
  const META = ["title", "x-title-zh", "description", "x-description-zh", "x-enum-labels"];

  function deref(node) {
    if (!node) return {};
    let target = node;
    if (node.$ref) target = schema.$defs[node.$ref.split("/").pop()];
    else if (node.anyOf) target = deref(node.anyOf.find((a) => a.type !== "null") || {});
    if (target === node) return node;
    const out = Object.assign({}, target);
    for (const k of META) if (node[k] !== undefined) out[k] = node[k];
    return out;
  }

  function types(n) {
    return Array.isArray(n.type) ? n.type : n.type ? [n.type] : [];
  }

  function kindOf(n) {
    const ty = types(n);
    if (n.enum) return "enum";
    if (ty.includes("array")) {
      const items = deref(n.items);
      return items.enum ? "enumset" : "list";
    }
    if (ty.includes("object")) return "object";
    if (ty.includes("boolean")) return "bool";
    if (ty.includes("integer")) return "int";
    if (n["x-normalise"] === "decimal") return "money";
    if (n.format === "date") return "date";
    if (n.format === "date-time") return "datetime";
    return "text";
  }

  const titleZh = (n, key) => n["x-title-zh"] || n.title || key;
  const titleEn = (n, key) => n.title || key;
  const label = (n, key) => bi(titleZh(n, key), titleEn(n, key));

  function enumLabels(n) {
    const labels = n["x-enum-labels"] || {};
    return (n.enum || []).filter((v) => v !== null).map((v) => [v, labels[v] || { zh: v, en: v }]);
  }

  function defaultFor(pattern) {
    const v = DEFAULTS[pattern];
    return typeof v === "function" ? v() : v;
  }

  // ---- widgets: {el, get(), set(v), name(prefix)} ----------------------------------------
  function fieldWidget(key, node, pattern, required) {
    const n = deref(node);
    const kind = kindOf(n);
    if (kind === "object") return objectWidget(key, n, pattern, false);
    if (kind === "list") return listWidget(key, n, pattern);
    if (kind === "enumset") return enumSetWidget(key, n, pattern);
    let input;
    if (kind === "enum") {
      input = el("select", {});
      input.append(optionBi("", UI.zh.unknown, UI.en.unknown));
      for (const [v, l] of enumLabels(n)) input.append(optionBi(v, l.zh, l.en));
    } else if (kind === "bool") {
      input = el("select", {});
      input.append(optionBi("", UI.zh.unknown, UI.en.unknown), optionBi("true", UI.zh.yes, UI.en.yes),
                   optionBi("false", UI.zh.no, UI.en.no));
    } else if (kind === "int") {
      input = el("input", { type: "number", min: n.minimum ?? 0, step: 1, inputmode: "numeric" });
    } else if (kind === "money") {
      input = el("input", { type: "text", inputmode: "decimal", pattern: "\\d+(\\.\\d+)?",
                            placeholder: "0.00", autocomplete: "off" });
    } else if (kind === "date") {
      input = el("input", { type: "date" });
    } else if (kind === "datetime") {
      input = el("input", { type: "datetime-local" });
    } else {
      input = el("input", { type: "text", maxlength: n.maxLength, autocomplete: "off" });
    }
    input.dataset.kind = kind;
    const help = bi(n["x-description-zh"] || "", n.description || "", "small", { class: "help" });
    const caption = el("span", { class: "caption" }, label(n, key));
    if (required) {
      input.required = true;
      caption.append(" ", el("abbr", { class: "req", title: "必填 required" }, "*"));
    }
    const wrap = el("label", { class: "field field-" + kind }, caption, input, help);
    const w = {
      el: wrap, input,
      get() {
        const raw = input.value.trim();
        if (raw === "") return undefined;
        if (kind === "bool") return raw === "true";
        if (kind === "int") { const x = Number(raw); return Number.isFinite(x) ? Math.trunc(x) : raw; }
        if (kind === "datetime") return (raw.length === 16 ? raw + ":00" : raw) + OFFSET;
        return raw;
      },
      set(v) {
        if (v === undefined || v === null) input.value = "";
        else if (kind === "bool") input.value = v ? "true" : "false";
        else if (kind === "datetime") input.value = String(v).slice(0, 16);
        else input.value = String(v);
      },
      name(prefix) { setName(input, prefix + key); },
    };
    w.set(defaultFor(pattern));
    return w;
  }

  function optionBi(value, zh, en) {
    const o = bi(zh, en, "option");
    o.value = value;
    return o;
  }

  function setName(input, name) {
    if (input.name) byName.delete(input.name);
    input.name = name;
    input.id = "f-" + name.replace(/[^A-Za-z0-9_]/g, "-");
    byName.set(name, input);
  }

  function enumSetWidget(key, n, pattern) {
    const items = deref(n.items);
    const labels = Object.assign({}, items["x-enum-labels"] || {}, n["x-enum-labels"] || {});
    const boxes = [];
    const box = el("fieldset", { class: "field field-enumset" },
      el("legend", {}, label(n, key)),
      bi(n["x-description-zh"] || "", n.description || "", "small", { class: "help" }));
    for (const v of items.enum.filter((x) => x !== null)) {
      const cb = el("input", { type: "checkbox", value: v });
      boxes.push(cb);
      const l = labels[v] || { zh: v, en: v };
      box.append(el("label", { class: "check" }, cb, bi(l.zh, l.en)));
    }
    return {
      el: box,
      get() { return boxes.filter((b) => b.checked).map((b) => b.value); },
      set(vs) { for (const b of boxes) b.checked = Array.isArray(vs) && vs.includes(b.value); },
      name(prefix) { boxes.forEach((b) => setName(b, prefix + key + "." + b.value)); },
    };
  }

  function objectWidget(key, n, pattern, bare, only) {
    const props = n.properties || {};
    const req = new Set(n.required || []);
    const keys = only || Object.keys(props);
    const children = [];
    const body = el("div", { class: "grid" });
    for (const k of keys) {
      if (!props[k]) continue;
      const childPattern = pattern ? pattern + "." + k : k;
      const w = fieldWidget(k, props[k], childPattern, req.has(k));
      children.push([k, w]);
      const sub = deref(props[k]);
      const wide = ["object", "list", "enumset"].includes(kindOf(sub));
      if (wide) w.el.classList.add("wide");
      body.append(w.el);
    }
    const root = bare ? body : el("fieldset", { class: "field field-object wide" },
      el("legend", {}, label(n, key)), body);
    return {
      el: root,
      get() {
        const out = {};
        for (const [k, w] of children) {
          const v = w.get();
          if (v !== undefined) out[k] = v;
        }
        return Object.keys(out).length ? out : undefined;
      },
      set(v) { for (const [k, w] of children) w.set(v ? v[k] : undefined); },
      name(prefix) {
        const p = bare ? prefix : prefix + key + ".";
        for (const [, w] of children) w.name(p);
      },
    };
  }

  function listWidget(key, n, pattern) {
    const itemNode = deref(n.items);
    const items = [];
    const holder = el("div", { class: "items" });
    const empty = uiText("no_items", "p", { class: "muted empty" });
    let prefix = "";
    const addLabel = el("span", {}, uiText("add_item"), " ", label(n, key));
    const add = el("button", { type: "button", class: "add", "data-add": key }, "＋ ", addLabel);
    const box = el("fieldset", { class: "field field-list wide" },
      el("legend", {}, label(n, key)), empty, holder, add);
    const w = {
      el: box, items,
      add() {
        const item = objectWidget(key, itemNode, pattern + "[]", true);
        const heading = el("div", { class: "item-head" });
        const remove = el("button", { type: "button", class: "remove" }, uiText("remove_item"));
        const wrap = el("div", { class: "item" }, heading, item.el);
        heading.append(el("span", { class: "item-no" }), remove);
        const entry = { item, wrap, heading };
        remove.addEventListener("click", () => {
          items.splice(items.indexOf(entry), 1);
          wrap.remove();
          renumber();
        });
        items.push(entry);
        holder.append(wrap);
        renumber();
        return item;
      },
      clear() { while (items.length) items.pop().wrap.remove(); renumber(); },
      get() { return items.map((e) => e.item.get() || {}); },
      set(vs) { w.clear(); for (const v of vs || []) w.add().set(v); },
      name(p) { prefix = p; renumber(); },
    };
    function renumber() {
      items.forEach((e, i) => {
        const no = e.heading.querySelector(".item-no");
        no.replaceChildren(bi(fill(UI.zh.item, { n: i + 1 }), fill(UI.en.item, { n: i + 1 })));
        e.item.name(prefix + key + "." + i + ".");
      });
      empty.hidden = items.length > 0;
    }
    add.addEventListener("click", () => { w.add(); focusFirst(holder.lastElementChild); });
    return w;
  }

  function focusFirst(root) {
    const first = root && root.querySelector("input, select");
    if (first) first.focus();
  }

  // ---- sections ----------------------------------------------------------------------------
  function buildSections() {
    const props = Object.assign({}, schema.properties);
    delete props.record_kind; // the kind is the page's (?kind=), set by collect()
    const used = new Set();
    // An interaction's fields are grouped in SECTIONS; another kind's form is generated from its
    // schema alone, one section of its fields.
    const defs = KIND === "interaction" ? SECTIONS.slice() : [];
    for (const s of defs) for (const k of s.fields || [s.obj || s.list]) used.add(k);
    const rest = Object.keys(props).filter((k) => !used.has(k));
    if (rest.length) defs.push({ key: "other", fields: rest }); // fields added to the schema later
    const root = $("#sections");
    const required = new Set(schema.required || []);
    for (const def of defs) {
      let widget, heading;
      if (def.fields) {
        widget = objectWidget("", { properties: props, required: [...required] }, "", true, def.fields);
        heading = uiText("sec_" + def.key);
      } else {
        const key = def.obj || def.list;
        const n = deref(props[key]);
        heading = label(n, key);
        widget = def.list ? listWidget(key, n, key) : objectWidget(key, n, key, true);
      }
      widget.name(def.obj ? def.obj + "." : "");
      const n = def.obj || def.list ? deref(props[def.obj || def.list]) : null;
      const head = el("div", { class: "section-head" }, el("h2", {}, heading));
      if (def.optional) {
        const close = el("button", { type: "button", class: "remove", "data-close": def.key },
                         uiText("remove_section"));
        close.addEventListener("click", () => { state.manual = false; state.closed = true; reset(state); refresh(); });
        head.append(close);
      }
      const body = el("section", { class: "form-section", id: "sec-" + def.key, "data-section": def.key }, head);
      if (n && (n["x-description-zh"] || n.description)) {
        body.append(bi(n["x-description-zh"] || "", n.description || "", "p", { class: "help section-help" }));
      }
      body.append(def.list ? widget.el : el("div", {}, widget.el));
      root.append(body);
      const state = { def, el: body, widget, manual: false, closed: false };
      sections.push(state);
      if (def.optional) {
        const button = el("button", { type: "button", class: "chip", "data-open": def.key }, "＋ ", heading.cloneNode(true));
        button.addEventListener("click", () => {
          state.manual = true; state.closed = false;
          if (def.list && widget.items.length === 0) widget.add();
          refresh();
          body.scrollIntoView({ block: "start" });
          focusFirst(body.querySelector(".item:last-child") || body);
        });
        state.button = button;
        $("#add-buttons").append(button);
      }
    }
    const kind = byName.get("interaction.kind");
    if (kind) kind.addEventListener("change", () => { sections.forEach((s) => { s.closed = false; }); refresh(); });
  }

  function reset(state) {
    if (state.def.list) {
      state.widget.clear();
    } else {
      state.widget.set(undefined);
      resetDefaults(state);
    }
  }

  function resetDefaults(state) {
    // restore DEFAULTS inside an object section
    for (const [pattern, value] of Object.entries(DEFAULTS)) {
      if (pattern.includes("[]")) continue;
      const input = byName.get(pattern);
      if (input && state.el.contains(input)) {
        const v = typeof value === "function" ? value() : value;
        input.value = typeof v === "boolean" ? String(v) : v;
      }
    }
  }

  function isOpen(state) {
    const d = state.def;
    if (!d.optional) return true;
    if (state.manual) return true;
    if (d.list) return state.widget.items.length > 0;
    const kind = byName.get("interaction.kind");
    return !state.closed && !!(d.kinds && kind && d.kinds.includes(kind.value));
  }

  function refresh() {
    for (const s of sections) {
      const open = isOpen(s);
      s.el.hidden = !open;
      if (s.button) s.button.hidden = open;
    }
  }

  function collect() {
    const record = KIND === "interaction" ? {} : { record_kind: KIND };
    for (const s of sections) {
      if (!isOpen(s)) {
        Object.assign(record, JSON.parse(JSON.stringify(s.def.none || {})));
        continue;
      }
      const v = s.widget.get();
      if (s.def.list) record[s.def.list] = v;
      else if (s.def.obj) { if (v !== undefined) record[s.def.obj] = v; }
      else if (v !== undefined) Object.assign(record, v);
    }
    return record;
  }

  // ---- language ------------------------------------------------------------------------------
  function applyLang() {
    document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
    document.title = t("title") + " · qinqing";
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-zh]")) {
      node.textContent = lang === "en" ? node.dataset.en : node.dataset.zh;
    }
    for (const input of byName.values()) {
      const wrap = input.closest(".field");
      const help = wrap && wrap.querySelector(":scope > .help");
      if (help) input.title = help.textContent;
    }
    const toggle = $("#lang-toggle");
    toggle.textContent = t("lang_switch");
    toggle.lang = lang === "en" ? "zh-CN" : "en";
    const url = new URL(location.href);
    if (lang === "en") url.searchParams.set("lang", "en"); else url.searchParams.delete("lang");
    history.replaceState(null, "", url);
  }

  async function switchLang() {
    lang = lang === "en" ? "zh" : "en";
    applyLang();
    if (lastRecord && lastAnswer && lastAnswer.lang !== lang) await check(lastRecord);
  }

  // ---- checking --------------------------------------------------------------------------
  async function check(record) {
    const button = $("#submit");
    button.disabled = true;
    button.textContent = t("checking");
    try {
      let response;
      try {
        response = await fetch("/v1/check?lang=" + lang, {
          method: "POST",
          headers: authHeaders({ "Content-Type": "application/json", Accept: "application/json" }),
          body: JSON.stringify(record),
        });
      } catch (e) {
        showError(t("network_failed") + e.message);
        return;
      }
      const body = await response.json().catch(() => null);
      if (!response.ok || !body || !body.records) {
        const msg = body && body.error ? body.error.message : response.status + " " + response.statusText;
        showError(t("request_failed") + msg);
        if (response.status === 401) askForToken(record);
        return;
      }
      lastRecord = record;
      lastAnswer = { lang, report: body, history: Number(response.headers.get("X-Qinqing-History-Records") || 0) };
      renderResult(lastAnswer);
    } finally {
      button.disabled = false;
      button.textContent = t("submit");
    }
  }

  // ---- access: the CSRF token this page was served with (local mode), or an access token
  // the user pastes (a shared server: `qinqing token add`), kept for this tab only.
  const TOKEN_KEY = "qinqing-access-token";
  function authHeaders(headers) {
    const meta = document.querySelector('meta[name="qinqing-csrf"]');
    if (meta && meta.content) headers["X-Qinqing-CSRF"] = meta.content;
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = "Bearer " + token;
    return headers;
  }

  function askForToken(record) {
    const input = el("input", { type: "password", id: "access-token", autocomplete: "off",
                                "aria-label": t("token_label") });
    const save = el("button", { type: "button", id: "save-token", onclick: async () => {
      if (input.value.trim()) sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      await check(record);
    } }, t("token_use"));
    $("#result").append(el("p", { class: "token-ask" }, el("label", { for: "access-token" },
      t("token_label")), " ", input, " ", save));
  }

  function showError(text) {
    const box = $("#result");
    box.replaceChildren(el("div", { class: "banner outcome-invalid", role: "alert", id: "error" }, text));
    box.hidden = false;
  }

  const ORDER = ["violation", "review", "tolerated", "compliant", "unlisted", "invalid"];
  const SEV = ["critical", "high", "medium", "low"];

  function renderResult(answer) {
    const box = $("#result");
    const report = answer.report;
    const entry = report.records[0];
    const L = UI[answer.lang];
    const parts = [];
    parts.push(el("div", { class: "result-head" },
      el("h2", {}, L.result_title),
      el("button", { type: "button", class: "print", id: "print", onclick: () => window.print() }, L.print)));
    parts.push(el("p", { class: "record-line" }, fill(L.record_line, {
      id: entry.id || "—", date: entry.date || "—", jurisdiction: entry.jurisdiction || "—" })));
    parts.push(el("div", { class: "banner outcome-" + entry.outcome, id: "verdict", "data-outcome": entry.outcome },
      el("strong", { class: "verdict-word" }, L.outcome[entry.outcome] || entry.outcome),
      el("span", { class: "verdict-hint" }, L.outcome_hint[entry.outcome] || "")));
    if (answer.history > 0) parts.push(el("p", { class: "muted history" }, fill(L.history, { n: answer.history })));

    if (entry.errors && entry.errors.length) {
      parts.push(el("h3", {}, L.errors_title));
      parts.push(el("ul", { class: "errors" }, ...entry.errors.map((e) =>
        el("li", {}, el("code", {}, e.path), " ", e.message))));
    }
    const findings = (entry.findings || []).slice().sort((a, b) =>
      ORDER.indexOf(a.outcome) - ORDER.indexOf(b.outcome) || SEV.indexOf(a.severity) - SEV.indexOf(b.severity));
    const questions = [];
    for (const f of findings) {
      for (const q of (f.suggestion && f.suggestion.questions) || []) if (!questions.includes(q)) questions.push(q);
    }
    if (questions.length) {
      parts.push(el("div", { class: "questions", id: "questions" },
        el("h3", {}, L.questions_title),
        el("p", {}, L.questions_lead),
        el("ol", {}, ...questions.map((q) => el("li", {}, questionLink(q, L))))));
    }
    const problems = findings.filter((f) => f.outcome !== "compliant");
    const fine = findings.filter((f) => f.outcome === "compliant");
    if (problems.length) {
      parts.push(el("h3", {}, L.findings_title));
      parts.push(el("div", { class: "findings" }, ...problems.map((f) => findingCard(f, L))));
    }
    if (fine.length) {
      parts.push(el("h3", {}, L.compliant_title));
      parts.push(el("div", { class: "findings compliant" }, ...fine.map((f) => findingCard(f, L))));
    }
    const time = nowText();
    parts.push(el("p", { class: "muted policy-line" },
      fill(L.policy_line, { hash: report.policy.content_hash.slice(0, 12), time })));
    parts.push(el("p", { class: "disclaimer" }, L.disclaimer));
    parts.push(el("details", { class: "json no-print" }, el("summary", {}, L.show_json),
      el("pre", {}, JSON.stringify(lastRecord, null, 2))));
    box.replaceChildren(...parts);
    box.hidden = false;
    box.scrollIntoView({ block: "start" });
  }

  function findingCard(f, L) {
    const card = el("article", { class: "finding outcome-" + f.outcome, "data-rule": f.rule });
    card.append(el("header", {},
      el("span", { class: "rule-id" }, f.rule),
      el("span", { class: "rule-title" }, f.title),
      el("span", { class: "badge outcome-" + f.outcome }, L.outcome[f.outcome] || f.outcome),
      el("span", { class: "badge severity-" + f.severity }, L.severity_label + L.colon + (L.severity[f.severity] || f.severity)),
      f.element ? el("code", { class: "element" }, f.element) : null));
    card.append(el("p", { class: "message" }, f.message));
    if (f.remedy) card.append(el("p", { class: "remedy" }, el("strong", {}, L.remedy + L.colon), f.remedy));
    const s = f.suggestion;
    if (s && s.text && !(s.questions && s.questions.length) && s.changes && s.changes.length) {
      card.append(el("p", { class: "change" }, el("strong", {}, L.change + L.colon), s.text));
    }
    if (s && s.questions && s.questions.length) {
      card.append(el("ul", { class: "finding-questions" }, ...s.questions.map((q) => el("li", {}, questionLink(q, L)))));
    }
    card.append(el("p", { class: "citation" }, el("strong", {}, L.citation + L.colon), f.citation));
    return card;
  }

  // "用餐·用餐形式（meals[0].format）" → a link that opens and focuses that field.
  function questionLink(q, L) {
    const m = /[（(]([A-Za-z_][\w.\[\]]*)[）)]\s*$/.exec(q);
    const text = q + L.q_suffix;
    if (!m) return document.createTextNode(text);
    const path = m[1];
    const a = el("a", { href: "#", class: "question", "data-path": path }, text);
    a.addEventListener("click", (ev) => { ev.preventDefault(); focusPath(path); });
    return a;
  }

  function focusPath(path) {
    const name = path.replace(/\[(\d+)\]/g, ".$1");
    let input = byName.get(name);
    if (!input) { // a whole object or list: its first field
      for (const [k, v] of byName) if (k.startsWith(name + ".")) { input = v; break; }
    }
    if (!input) {
      const top = name.split(".")[0];
      const s = sections.find((x) => x.def.list === top || x.def.obj === top || (x.def.fields || []).includes(top));
      if (s && s.button) s.button.click();
      return;
    }
    const s = sections.find((x) => x.el.contains(input));
    if (s && !isOpen(s)) { s.manual = true; refresh(); }
    input.scrollIntoView({ block: "center" });
    input.focus();
  }

  // ---- start -------------------------------------------------------------------------------
  async function start() {
    applyLang();
    $("#lang-toggle").addEventListener("click", switchLang);
    try {
      const response = await fetch("/v1/schema" + (KIND === "interaction" ? "" : "?kind=" + encodeURIComponent(KIND)),
                                   { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(response.status + " " + response.statusText);
      schema = await response.json();
      if (KIND !== "interaction") { // the page's title: the kind's own
        UI.zh.title = schema["x-title-zh"] || KIND;
        UI.en.title = schema.title || KIND;
      }
    } catch (e) {
      $("#load-status").textContent = t("load_failed") + e.message;
      return;
    }
    buildSections();
    refresh();
    applyLang();
    const form = $("#record-form");
    form.addEventListener("submit", (ev) => { ev.preventDefault(); check(collect()); });
    $("#reset").addEventListener("click", () => location.reload());
    $("#load-status").hidden = true;
    form.hidden = false;
    document.body.dataset.ready = "true";
  }

  // For tests and integrators: the record the form currently describes.
  window.qinqing = { collect: () => collect(), check: () => check(collect()) };
  start();
})();
