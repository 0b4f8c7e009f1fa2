(function () {
  'use strict';
  // The records table of the HTML report: every record is a row of the JSON in #qq-data,
  // [label, outcome, date, jurisdiction, department, rules, severity, location, count, details];
  // one page of them is in the DOM at a time. Cell texts go in as text; `details` is HTML the
  // report writer escaped, inserted when a row's details are first opened.
  var D = JSON.parse(document.getElementById('qq-data').textContent);
  var M = JSON.parse(document.getElementById('qq-meta').textContent);
  var RANK = {violation: 0, review: 1, invalid: 2, tolerated: 3, compliant: 4, unlisted: 5};
  function $(id) { return document.getElementById(id); }
  var q = $('q'), s = $('s'), r = $('r'), ps = $('ps'), n = $('n'), pg = $('pg');
  var tbody = document.querySelector('#records tbody');
  // Worst first: outcome, then the worst severity of the findings behind it, then the latest
  // date, then input order.
  var all = [];
  for (var i = 0; i < D.length; i++) all.push(i);
  all.sort(function (a, b) {
    var x = D[a], y = D[b];
    return (RANK[x[1]] - RANK[y[1]]) || (x[6] - y[6]) ||
      (x[2] < y[2] ? 1 : x[2] > y[2] ? -1 : 0) || (a - b);
  });
  var shown = all, page = 0, hay = null;

  function text(row) {
    return [row[0], row[2], row[3], row[4], row[7]].join('\n').toLowerCase();
  }
  function hasRule(rules, t) {
    for (var k = 0; k < rules.length; k++) if (rules[k].toLowerCase() === t) return true;
    return false;
  }
  // A term matches a rule id exactly (B1 is not B11) or a substring of the record's id,
  // date, jurisdiction, department or input location; every term must match.
  function filter() {
    var terms = q.value.toLowerCase().split(/\s+/).filter(Boolean);
    var o = s.value, rule = r.value;
    if (terms.length && hay === null) hay = D.map(text);
    shown = all.filter(function (idx) {
      var row = D[idx];
      if (o && row[1] !== o) return false;
      if (rule && row[5].indexOf(rule) < 0) return false;
      for (var k = 0; k < terms.length; k++) {
        if (!hasRule(row[5], terms[k]) && hay[idx].indexOf(terms[k]) < 0) return false;
      }
      return true;
    });
    page = 0;
    render();
  }
  function cell(tr, value, cls) {
    var td = document.createElement('td');
    if (cls) td.className = cls;
    td.textContent = value;
    tr.appendChild(td);
    return td;
  }
  function details(row) {
    var td = document.createElement('td');
    var det = document.createElement('details');
    var sum = document.createElement('summary');
    sum.textContent = row[8];
    det.appendChild(sum);
    det.addEventListener('toggle', function () {
      if (det.open && !det.getAttribute('data-filled')) {
        det.setAttribute('data-filled', '1');
        det.insertAdjacentHTML('beforeend', row[9]);
      }
    });
    td.appendChild(det);
    return td;
  }
  function render() {
    var size = parseInt(ps.value, 10) || 100;
    var pages = Math.max(1, Math.ceil(shown.length / size));
    if (page >= pages) page = pages - 1;
    if (page < 0) page = 0;
    var frag = document.createDocumentFragment();
    var end = Math.min(shown.length, (page + 1) * size);
    for (var k = page * size; k < end; k++) {
      var row = D[shown[k]];
      var tr = document.createElement('tr');
      tr.setAttribute('data-outcome', row[1]);
      tr.setAttribute('data-rules', row[5].join(' '));
      tr.setAttribute('data-severity', row[6]);
      cell(tr, row[0], 'id');
      cell(tr, M.outcomes[row[1]], 'o o-' + row[1]);
      cell(tr, row[2]);
      cell(tr, row[3]);
      cell(tr, row[4]);
      cell(tr, row[5].join(', '), 'rules');
      tr.appendChild(details(row));
      frag.appendChild(tr);
    }
    tbody.textContent = '';
    tbody.appendChild(frag);
    n.textContent = shown.length;
    pg.textContent = M.page.replace('{page}', page + 1).replace('{pages}', pages);
    $('first').disabled = $('prev').disabled = page === 0;
    $('next').disabled = $('last').disabled = page >= pages - 1;
  }
  function go(to) { page = to; render(); }
  q.addEventListener('input', filter);
  s.addEventListener('change', filter);
  r.addEventListener('change', filter);
  ps.addEventListener('change', function () { page = 0; render(); });
  $('first').addEventListener('click', function () { go(0); });
  $('prev').addEventListener('click', function () { go(page - 1); });
  $('next').addEventListener('click', function () { go(page + 1); });
  $('last').addEventListener('click', function () { go(1e9); });
  render();
  document.body.setAttribute('data-ready', 'true');
})();
