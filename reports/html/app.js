// fleetgate dashboard (runs in the browser, inlined into index.html by reports/html/index.ts).
// Every string from the run folder is data: it goes into the page through textContent and
// createTextNode only, never innerHTML, so guest text such as a crash title cannot become markup.
// Routes are hash based (#/, #/cell/<id>, #/group/<row>/<col>) so the page works from file://.
(function () {
  'use strict';
  var DATA = JSON.parse(document.getElementById('fleetgate-data').textContent);
  var cells = DATA.cells;
  var byId = {};
  cells.forEach(function (c, i) { byId[c.id] = i; });

  var ORDER = ['product-crash', 'product-hang', 'boot-failure', 'install-failure', 'verifier-violation', 'perf-regression', 'latency-inconclusive', 'test-error', 'infra-error', 'unfinished', 'skipped', 'pass'];
  function sev(v) { var i = ORDER.indexOf(v); return i === -1 ? ORDER.length : i; }
  function vclass(v) { return 'v-' + String(v).replace(/[^a-z-]/g, ''); }

  var filters = { verdict: '', release: '', driver: '', text: '' };
  var LIST_PAGE = 200;
  var listLimit = LIST_PAGE;

  // h('div', {class: 'x', onclick: fn}, 'text', child): children strings become text nodes.
  function h(tag, props) {
    var el = document.createElement(tag);
    if (props) {
      for (var k in props) {
        if (!Object.prototype.hasOwnProperty.call(props, k) || props[k] === undefined || props[k] === null) continue;
        if (k === 'class') el.className = props[k];
        else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), props[k]);
        else if (k === 'text') el.textContent = props[k];
        else el.setAttribute(k, String(props[k]));
      }
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function append(el, child) {
    if (child === undefined || child === null || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
    el.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
  var SVG = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, text) {
    var el = document.createElementNS(SVG, tag);
    for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) el.setAttribute(k, String(attrs[k]));
    if (text !== undefined) el.textContent = String(text);
    return el;
  }
  function link(href, text) { return h('a', { href: href }, text); }
  function cellHref(id) { return '#/cell/' + encodeURIComponent(id); }
  function badge(v) { return h('span', { class: 'badge ' + vclass(v) }, v); }
  function fmtUs(us) { return us === null || us === undefined ? '–' : Math.round(us).toLocaleString('en-US') + ' µs'; }
  function fmtSigned(us) { return us === null || us === undefined ? '–' : (us >= 0 ? '+' : '−') + Math.round(Math.abs(us)).toLocaleString('en-US') + ' µs'; }
  function fmtMs(ms) { return ms === null || ms === undefined ? '–' : ms >= 10000 ? (ms / 1000).toFixed(1) + ' s' : Math.round(ms) + ' ms'; }
  // What a pass stands on: the smallest p50 overhead the cell would have detected (null: no interval).
  function detectableText(c) { return c.detectable ? 'would have detected ≥ ' + fmtUs(c.detectable.us) + ' on ' + c.detectable.op + ' p50' : null; }
  function hasLatency(c) { return Object.keys(c.latency).length > 0; }
  function rowKey(c) { return c.patch ? c.release + ' ' + c.patch : c.release; }
  function colKey(c) { return c.driver + ' / ' + c.verifier; }
  function uniq(list) { var seen = {}; var out = []; list.forEach(function (x) { if (!seen['$' + x]) { seen['$' + x] = 1; out.push(x); } }); return out; }

  function matches(c) {
    if (filters.verdict && c.verdict !== filters.verdict) return false;
    if (filters.release && c.release !== filters.release) return false;
    if (filters.driver && c.driver !== filters.driver) return false;
    if (filters.text) {
      var t = filters.text.toLowerCase();
      var hay = (c.id + ' ' + c.title + ' ' + (c.reason || '') + ' ' + (c.crash ? c.crash.title + ' ' + c.crash.bucket : '')).toLowerCase();
      if (hay.indexOf(t) === -1) return false;
    }
    return true;
  }

  // ---- overview -------------------------------------------------------------------------------
  function counts(list) {
    var m = {};
    list.forEach(function (c) { m[c.verdict] = (m[c.verdict] || 0) + 1; });
    return Object.keys(m).sort(function (a, b) { return sev(a) - sev(b); }).map(function (v) { return [v, m[v]]; });
  }

  function filterBar() {
    function select(name, label, values) {
      var sel = h('select', { id: 'filter-' + name, 'aria-label': label, onchange: function (e) { filters[name] = e.target.value; listLimit = LIST_PAGE; render(); } },
        h('option', { value: '' }, 'all ' + label + 's'),
        values.map(function (v) { var o = h('option', { value: v }, v); if (filters[name] === v) o.selected = true; return o; }));
      return h('label', null, label + ' ', sel);
    }
    var verdicts = uniq(cells.map(function (c) { return c.verdict; })).sort(function (a, b) { return sev(a) - sev(b); });
    var releases = uniq(cells.map(function (c) { return c.release; })).sort();
    var drivers = uniq(cells.map(function (c) { return c.driver; })).sort();
    var search = h('input', { id: 'filter-text', type: 'search', placeholder: 'id, title, bucket…', value: filters.text, onchange: function (e) { filters.text = e.target.value; listLimit = LIST_PAGE; render(); } });
    return h('div', { class: 'filters', id: 'filters' }, select('verdict', 'verdict', verdicts), select('release', 'release', releases), select('driver', 'driver', drivers), h('label', null, 'search ', search),
      h('button', { id: 'filter-clear', onclick: function () { filters = { verdict: '', release: '', driver: '', text: '' }; render(); } }, 'clear'));
  }

  function heatmap(list) {
    var rows = uniq(cells.map(rowKey)).sort();
    var cols = uniq(cells.map(colKey)).sort();
    var grid = {};
    list.forEach(function (c) {
      var k = rowKey(c) + '\u0000' + colKey(c);
      (grid[k] = grid[k] || []).push(c);
    });
    var table = h('table', { class: 'heatmap', id: 'heatmap' });
    var head = h('tr', null, h('th', { class: 'corner' }, '↓ release · patch   → driver / verifier'));
    cols.forEach(function (col) { head.appendChild(h('th', { class: 'col' }, col)); });
    table.appendChild(h('thead', null, head));
    var body = h('tbody');
    rows.forEach(function (row) {
      var tr = h('tr', null, h('th', { class: 'row' }, row));
      cols.forEach(function (col) {
        var group = grid[row + '\u0000' + col];
        if (!group) { tr.appendChild(h('td', { class: 'empty' })); return; }
        var worst = group.reduce(function (w, c) { return sev(c.verdict) < sev(w) ? c.verdict : w; }, 'pass');
        var href = group.length === 1 ? cellHref(group[0].id) : '#/group/' + encodeURIComponent(row) + '/' + encodeURIComponent(col);
        var label = group.length === 1 ? worst : worst + ' (' + group.length + ')';
        var a = h('a', { class: 'square ' + vclass(worst), href: href, title: row + ' · ' + col + ': ' + label, 'data-verdict': worst, 'data-cells': group.map(function (c) { return c.id; }).join(' ') }, group.length === 1 ? '' : String(group.length));
        tr.appendChild(h('td', null, a));
      });
      body.appendChild(tr);
    });
    table.appendChild(body);
    return h('div', { class: 'heatmap-wrap' }, table);
  }

  function cellTable(list, id) {
    var shown = list.slice(0, listLimit);
    var table = h('table', { class: 'cells', id: id || 'cell-list' },
      h('thead', null, h('tr', null, h('th', null, 'verdict'), h('th', null, 'cell'), h('th', null, 'release · patch'), h('th', null, 'driver / verifier'), h('th', null, 'workloads'), h('th', null, 'detectable p50'), h('th', null, 'bucket / reason'))));
    var body = h('tbody');
    shown.forEach(function (c) {
      var det = detectableText(c);
      body.appendChild(h('tr', { class: 'cell-row', 'data-verdict': c.verdict, 'data-id': c.id, title: det || (hasLatency(c) ? 'no 95% interval recorded: no detectable figure' : null) },
        h('td', null, badge(c.verdict), c.flaky ? h('span', { class: 'flaky' }, ' flaky') : null),
        h('td', null, link(cellHref(c.id), c.id)),
        h('td', null, rowKey(c)),
        h('td', null, colKey(c)),
        h('td', null, c.workloads.join(' + ') + (c.coexist.length ? ' with ' + c.coexist.join(' + ') : '')),
        h('td', { class: 'num detectable' }, c.detectable ? '≥ ' + fmtUs(c.detectable.us) + ' (' + c.detectable.op + ')' : hasLatency(c) ? 'no interval' : ''),
        h('td', { class: 'why' }, c.crash ? c.crash.bucket : (c.reason || ''))));
    });
    table.appendChild(body);
    var more = list.length > shown.length ? h('button', { id: 'show-more', onclick: function () { listLimit += 5000; render(); } }, 'show ' + Math.min(5000, list.length - shown.length) + ' more of ' + (list.length - shown.length)) : null;
    return [table, more];
  }

  function bucketTable(list) {
    var visible = {};
    list.forEach(function (c) { visible[c.id] = true; });
    var rows = DATA.buckets.filter(function (b) { return b.cells.some(function (id) { return visible[id]; }); });
    if (!rows.length) return h('p', { class: 'none' }, 'No crashes.');
    return h('table', { class: 'buckets', id: 'bucket-table' },
      h('thead', null, h('tr', null, h('th', null, 'bucket'), h('th', null, 'title'), h('th', null, 'count'), h('th', null, 'attribution'), h('th', null, 'first seen'), h('th', null, 'cells'))),
      h('tbody', null, rows.map(function (b) {
        return h('tr', null, h('td', { class: 'mono' }, b.bucket), h('td', { class: 'crash-title' }, b.title), h('td', { class: 'num' }, String(b.count)), h('td', null, b.attribution || 'unknown'), h('td', null, b.firstSeen || '–'),
          h('td', null, b.cells.slice(0, 20).map(function (id) { return [link(cellHref(id), id), ' ']; }), b.cells.length > 20 ? '…' : null));
      })));
  }

  // Steps their own cell judged: regressions (perf-regression cells) or undecided (latency-inconclusive).
  function regressionTable(list, source, id, none) {
    var visible = {};
    list.forEach(function (c) { visible[c.id] = true; });
    var rows = source.filter(function (r) { return visible[cells[r.cell].id]; });
    if (!rows.length) return none ? h('p', { class: 'none' }, none) : null;
    var more = rows.length > 500 ? h('p', null, (rows.length - 500) + ' more not shown; filter to narrow.') : null;
    return [h('table', { class: 'regressions', id: id },
      h('thead', null, h('tr', null, h('th', null, 'cell'), h('th', null, 'operation'), h('th', null, 'p50'), h('th', null, 'baseline p50'), h('th', null, 'overhead p50'), h('th', null, 'p99'), h('th', null, 'baseline p99'), h('th', null, 'overhead p99'))),
      h('tbody', null, rows.slice(0, 500).map(function (r) {
        var c = cells[r.cell];
        return h('tr', null, h('td', null, link(cellHref(c.id), c.title)), h('td', null, r.op), h('td', { class: 'num' }, fmtUs(r.p50)), h('td', { class: 'num' }, fmtUs(r.b50)), h('td', { class: 'num' }, fmtSigned(r.o50)), h('td', { class: 'num' }, fmtUs(r.p99)), h('td', { class: 'num' }, fmtUs(r.b99)), h('td', { class: 'num' }, fmtSigned(r.o99)));
      }))), more];
  }

  function overview() {
    var list = cells.filter(matches);
    var sorted = list.slice().sort(function (a, b) { return sev(a.verdict) - sev(b.verdict); });
    return [
      h('section', { class: 'summary' },
        h('div', { class: 'outcome ' + vclass(DATA.run.outcome === 'passed' ? 'pass' : DATA.run.outcome === 'failed' ? 'product-crash' : 'infra-error') }, DATA.run.outcome),
        h('ul', { class: 'counts', id: 'counts' }, counts(cells).map(function (kv) { return h('li', null, badge(kv[0]), ' ' + kv[1]); })),
        h('dl', { class: 'meta' }, h('dt', null, 'run'), h('dd', null, DATA.run.id), h('dt', null, 'matrix'), h('dd', null, DATA.run.matrix), h('dt', null, 'started'), h('dd', null, DATA.run.started || '–'), h('dt', null, 'ended'), h('dd', null, DATA.run.ended || '–'), h('dt', null, 'cells'), h('dd', null, String(cells.length)))),
      filterBar(),
      h('p', { class: 'shown', id: 'shown' }, list.length + ' of ' + cells.length + ' cells match'),
      h('h2', null, 'Heatmap'),
      heatmap(list),
      h('h2', null, 'Crash buckets'),
      bucketTable(list),
      h('h2', null, 'Latency regressions'),
      regressionTable(list, DATA.regressions, 'regression-table', 'No latency regressions.'),
      (DATA.undecided || []).length ? [h('h2', null, 'Latency undecided'), regressionTable(list, DATA.undecided, 'undecided-table', 'No undecided latency steps.')] : null,
      h('h2', null, 'Cells'),
      cellTable(sorted),
    ];
  }

  function groupPage(row, col) {
    var list = cells.filter(function (c) { return rowKey(c) === row && colKey(c) === col; });
    list.sort(function (a, b) { return sev(a.verdict) - sev(b.verdict); });
    return [h('p', null, link('#/', '← overview')), h('h2', null, row + ' · ' + col), cellTable(list, 'group-list')];
  }

  // ---- cell page ------------------------------------------------------------------------------
  function timeline(a) {
    var total = 0;
    a.steps.forEach(function (st) { total = Math.max(total, st[1] + (st[2] || 0)); });
    total = total || 1;
    var rows = a.steps.map(function (st) {
      var left = (100 * st[1]) / total;
      var width = Math.max(0.3, (100 * (st[2] || 0)) / total);
      var bar = h('div', { class: 'bar ' + (st[3] === false ? 'bad' : st[3] === null ? 'open' : 'ok'), title: st[0] + ': ' + fmtMs(st[2]) + (st[4] ? ' — ' + st[4] : '') });
      bar.style.left = left + '%';
      bar.style.width = width + '%';
      return h('div', { class: 'step' }, h('span', { class: 'step-name' }, st[0]), h('div', { class: 'track' }, bar), h('span', { class: 'step-ms' }, fmtMs(st[2])), h('span', { class: 'step-detail' }, st[4] || ''));
    });
    return h('div', { class: 'timeline' }, rows.length ? rows : h('p', { class: 'none' }, 'No steps recorded.'));
  }

  // Latency per operation on a log scale: baseline (hollow) against with-driver (filled), p50 and p99.
  function latencyPlot(lat) {
    var ops = Object.keys(lat);
    if (!ops.length) return h('p', { class: 'none' }, 'No latency measured.');
    var values = [];
    ops.forEach(function (op) { lat[op].slice(0, 4).forEach(function (v) { if (typeof v === 'number' && v > 0) values.push(v); }); });
    var lo = Math.pow(10, Math.floor(Math.log10(Math.min.apply(null, values.length ? values : [1])))), hi = Math.pow(10, Math.ceil(Math.log10(Math.max.apply(null, values.concat([10])))));
    if (hi <= lo) hi = lo * 10;
    var W = 720, L = 120, R = 20, rowH = 28, T = 24, H = T + ops.length * rowH + 30;
    function x(v) { return L + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (W - L - R); }
    var svg = s('svg', { viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, class: 'latency-plot', role: 'img', 'aria-label': 'latency percentiles against baseline' });
    for (var d = lo; d <= hi; d *= 10) {
      svg.appendChild(s('line', { x1: x(d), x2: x(d), y1: T - 6, y2: H - 24, class: 'grid' }));
      svg.appendChild(s('text', { x: x(d), y: H - 8, 'text-anchor': 'middle', class: 'axis' }, d >= 1000 ? d / 1000 + ' ms' : d + ' µs'));
    }
    ops.forEach(function (op, i) {
      var y = T + i * rowH + rowH / 2, l = lat[op];
      svg.appendChild(s('text', { x: L - 8, y: y + 4, 'text-anchor': 'end', class: 'op' + (l[4] === 'regressed' ? ' regressed' : '') }, op));
      if (l[2] !== null && l[3] !== null) svg.appendChild(s('line', { x1: x(l[2]), x2: x(l[3]), y1: y - 5, y2: y - 5, class: 'base-range' }));
      svg.appendChild(s('line', { x1: x(l[0]), x2: x(l[1]), y1: y + 5, y2: y + 5, class: 'drv-range' + (l[4] === 'regressed' ? ' regressed' : '') }));
      if (l[2] !== null) svg.appendChild(s('circle', { cx: x(l[2]), cy: y - 5, r: 4, class: 'base' }, undefined)).appendChild(s('title', {}, 'baseline p50 ' + fmtUs(l[2])));
      if (l[3] !== null) svg.appendChild(s('rect', { x: x(l[3]) - 3.5, y: y - 8.5, width: 7, height: 7, class: 'base' })).appendChild(s('title', {}, 'baseline p99 ' + fmtUs(l[3])));
      svg.appendChild(s('circle', { cx: x(l[0]), cy: y + 5, r: 4, class: 'drv' })).appendChild(s('title', {}, op + ' p50 ' + fmtUs(l[0])));
      svg.appendChild(s('rect', { x: x(l[1]) - 3.5, y: y + 1.5, width: 7, height: 7, class: 'drv' })).appendChild(s('title', {}, op + ' p99 ' + fmtUs(l[1])));
    });
    svg.appendChild(s('text', { x: L, y: 14, class: 'legend' }, '○ □ baseline p50 / p99 (no driver)    ● ■ with driver p50 / p99'));
    var table = h('table', { class: 'latency' },
      h('thead', null, h('tr', null, h('th', null, 'operation'), h('th', null, 'p50'), h('th', null, 'baseline p50'), h('th', null, 'p99'), h('th', null, 'baseline p99'), h('th', null, 'change'), h('th', null, 'detectable p50'))),
      h('tbody', null, ops.map(function (op) { var l = lat[op]; return h('tr', { class: l[4] === 'regressed' ? 'regressed' : '' }, h('td', null, op), h('td', { class: 'num' }, fmtUs(l[0])), h('td', { class: 'num' }, fmtUs(l[2])), h('td', { class: 'num' }, fmtUs(l[1])), h('td', { class: 'num' }, fmtUs(l[3])), h('td', null, l[4] || '–'), h('td', { class: 'num' }, l[5] === null || l[5] === undefined ? '–' : '≥ ' + fmtUs(l[5]))); })));
    return [svg, table];
  }

  // ---- rounds pictures (issue #17) -------------------------------------------------------------
  // Percentile curves, HdrHistogram-style: x is the percentile on a scale that spreads the tail
  // (log10 of 1/(1-p): 0%, 90%, 99%, 99.9%, 99.99% equally spaced), y the latency on a log scale.
  // One line per run: baseline runs (ours out) grey-blue, driver runs (ours in) orange, each labelled
  // by its round; a hover names the run and its figures.
  var PCTS = DATA.percentiles || [];
  function pctX(p) { return Math.log10(1 / (1 - Math.min(p, 99.999) / 100)); }
  function pctLabel(p) { return p === 100 ? 'max' : p + '%'; }
  function curvesPlot(pic) {
    var runs = pic.runs;
    var W = 340, H = 200, L = 52, R = 10, T = 18, B = 30;
    var vals = [];
    runs.forEach(function (r) { r[2].forEach(function (v) { if (v > 0) vals.push(v); }); });
    if (!vals.length) return h('p', { class: 'none' }, 'no samples');
    var lo = Math.pow(10, Math.floor(Math.log10(Math.min.apply(null, vals)))), hi = Math.pow(10, Math.ceil(Math.log10(Math.max.apply(null, vals))));
    if (hi <= lo) hi = lo * 10;
    var xmax = pctX(99.999);
    function x(p) { return L + (pctX(p) / xmax) * (W - L - R); }
    function y(v) { return T + (1 - (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (H - T - B); }
    var svg = s('svg', { viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, class: 'curves', role: 'img', 'aria-label': pic.step + ': latency by percentile, every run', 'data-step': pic.step });
    [0, 50, 90, 99, 99.9, 99.99].forEach(function (p) {
      svg.appendChild(s('line', { x1: x(p), x2: x(p), y1: T, y2: H - B, class: 'grid' }));
      if (p) svg.appendChild(s('text', { x: x(p), y: H - B + 13, 'text-anchor': 'middle', class: 'axis' }, p + '%'));
    });
    for (var d = lo; d <= hi; d *= 10) {
      svg.appendChild(s('line', { x1: L, x2: W - R, y1: y(d), y2: y(d), class: 'grid' }));
      svg.appendChild(s('text', { x: L - 4, y: y(d) + 4, 'text-anchor': 'end', class: 'axis' }, d >= 1000 ? d / 1000 + ' ms' : d + ' µs'));
    }
    svg.appendChild(s('text', { x: L, y: 12, class: 'legend' }, pic.step));
    runs.forEach(function (r) {
      var pts = r[2].map(function (v, i) { return x(PCTS[i]).toFixed(1) + ',' + y(v).toFixed(1); }).join(' ');
      var name = (r[0] === 'b' ? 'baseline run B' : 'driver run D') + r[1];
      var line = s('polyline', { points: pts, class: 'run ' + (r[0] === 'b' ? 'run-b' : 'run-d'), 'data-run': r[0] + r[1] });
      line.appendChild(s('title', {}, name + ': ' + r[2].map(function (v, i) { return pctLabel(PCTS[i]) + ' ' + fmtUs(v); }).join(', ')));
      svg.appendChild(line);
      var last = r[2].length - 1;
      svg.appendChild(s('text', { x: x(PCTS[last]) - 2, y: y(r[2][last]) - 2, 'text-anchor': 'end', class: 'run-label ' + (r[0] === 'b' ? 'run-b' : 'run-d') }, r[0].toUpperCase() + r[1]));
    });
    return svg;
  }

  // The per-round p50 overheads of every step, each row on the scale of its own limit (so a 9 ms
  // listing and a 60 µs open read alike): each round a dot, the median a tick, the 95% interval a bar,
  // the limit the cell judged the dashed line at 1; the bar is red when the whole interval is above the
  // limit, amber when it straddles it. Rows the cell did not judge use their own largest value as 1.
  // What lies past the plot's edge (-2 .. 3 limits) is drawn at the edge, with an arrow.
  function overheadPlot(steps) {
    var rows = steps.filter(function (p) { return p.overheads; });
    if (!rows.length) return null;
    var W = 760, L = 130, R = 170, rowH = 24, T = 22, H = T + rows.length * rowH + 28;
    var MIN = -2, MAX = 4;
    var lo = -1, hi = 1.25;
    function unit(p) { return p.judged && p.judged.limitUs > 0 ? p.judged.limitUs : Math.max.apply(null, p.overheads.us.concat(p.overheads.ci).map(Math.abs).concat([1])); }
    rows.forEach(function (p) {
      var u = unit(p);
      p.overheads.us.concat(p.overheads.ci).forEach(function (v) { lo = Math.min(lo, v / u); hi = Math.max(hi, v / u); });
    });
    lo = Math.max(MIN, lo - 0.1); hi = Math.min(MAX, hi + 0.1);
    function x(r) { return L + ((Math.min(hi, Math.max(lo, r)) - lo) / (hi - lo)) * (W - L - R); }
    var svg = s('svg', { viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, class: 'overheads', role: 'img', 'aria-label': 'p50 overhead per round with its 95% interval, on the scale of each step\u2019s limit' });
    svg.appendChild(s('line', { x1: x(0), x2: x(0), y1: T - 4, y2: H - 24, class: 'zero' }));
    svg.appendChild(s('text', { x: x(0), y: H - 8, 'text-anchor': 'middle', class: 'axis' }, '0'));
    svg.appendChild(s('line', { x1: x(1), x2: x(1), y1: T - 4, y2: H - 24, class: 'limit' }));
    svg.appendChild(s('text', { x: x(1), y: H - 8, 'text-anchor': 'middle', class: 'axis' }, 'limit'));
    svg.appendChild(s('text', { x: L, y: 13, class: 'legend' }, '• round   | median   ━ 95% interval   ┆ the step\u2019s limit      (p50 overhead; right: median, limit)'));
    rows.forEach(function (p, i) {
      var yc = T + i * rowH + rowH / 2, o = p.overheads, j = p.judged, u = unit(p);
      svg.appendChild(s('text', { x: L - 8, y: yc + 4, 'text-anchor': 'end', class: 'op' + (j && j.outcome === 'over' ? ' regressed' : '') }, p.step));
      // Wholly past the edge: a stub at the edge, so the bar is still there to see and to hover.
      var x1 = x(o.ci[0] / u), x2 = x(o.ci[1] / u);
      if (x2 - x1 < 6) { if (x1 >= x(hi) - 1) x1 = x2 - 8; else if (x2 <= x(lo) + 1) x2 = x1 + 8; }
      var bar = s('line', { x1: x1, x2: x2, y1: yc, y2: yc, class: j ? 'ci ' + j.outcome : 'ci', 'data-step': p.step });
      bar.appendChild(s('title', {}, p.step + ': overhead ' + fmtSigned(o.median) + ', 95% ' + fmtSigned(o.ci[0]) + ' .. ' + fmtSigned(o.ci[1]) + (j ? '; limit ' + fmtUs(j.limitUs) + ': ' + j.outcome : '; not judged')));
      svg.appendChild(bar);
      if (o.ci[1] / u > hi) svg.appendChild(s('text', { x: W - R + 1, y: yc + 4, class: 'axis' }, '▸'));
      if (o.ci[0] / u < lo) svg.appendChild(s('text', { x: L - 1, y: yc + 4, 'text-anchor': 'end', class: 'axis' }, '◂'));
      svg.appendChild(s('line', { x1: x(o.median / u), x2: x(o.median / u), y1: yc - 7, y2: yc + 7, class: 'median' }));
      o.us.forEach(function (v, k) { svg.appendChild(s('circle', { cx: x(v / u), cy: yc - 6, r: 2.5, class: 'round' })).appendChild(s('title', {}, 'round ' + (k + 1) + ': ' + fmtSigned(v))); });
      svg.appendChild(s('text', { x: W - R + 10, y: yc + 4, class: 'axis' }, fmtSigned(o.median) + (j ? ' / ' + fmtUs(j.limitUs) : '')));
    });
    return svg;
  }

  function roundsPictures(pic) {
    if (!pic) return null;
    var withRuns = pic.steps.filter(function (p) { return p.runs.length; });
    return h('section', { class: 'rounds', id: 'rounds' },
      h('h3', null, 'Rounds: overhead per round'),
      overheadPlot(pic.steps),
      h('h3', null, 'Rounds: latency by percentile, every run'),
      pic.curvesMissing ? h('p', { class: 'none' }, 'No curves: ' + pic.curvesMissing + '.') : h('p', { class: 'legend-text' }, h('span', { class: 'key run-b' }, '━ B'), ' baseline runs (ours taken out)   ', h('span', { class: 'key run-d' }, '━ D'), ' driver runs (ours in); B1 D1 B2 … in time order'),
      h('div', { class: 'curves-grid' }, withRuns.map(curvesPlot)));
  }

  // ---- the filter stack's own recording (the matrix's filterDelays; Windows WPR, unverified) ----
  function fmtUs1(us) { return us === null || us === undefined ? '–' : (us < 10 ? us.toFixed(2) : us < 100 ? us.toFixed(1) : Math.round(us).toLocaleString('en-US')) + ' µs'; }
  function filterDelaysSection(records) {
    if (!records || !records.length) return null;
    return h('section', { class: 'filter-delays', id: 'filter-delays' },
      h('h3', null, 'Filter callback times (the OS\u2019s recording)'),
      h('p', { class: 'note' }, 'One more run with ours in, after the rounds, recorded by the OS (Windows: WPR\u2019s Minifilter profile, exported by wpaexporter; unverified on Windows). It says where the time went; the rounds above judge it.'),
      records.map(function (r) {
        if (!r.captured) return h('p', { class: 'none' }, r.workload + ': not recorded: ' + r.why);
        return h('div', null,
          h('p', null, r.workload + ': ' + r.tool + ', ' + r.rows.toLocaleString('en-US') + ' rows' + (r.ours ? '; ours (' + r.ours.filter + '): ' + r.ours.count.toLocaleString('en-US') + ' callbacks, ' + fmtUs1(r.ours.totalUs) + ' in all, mean ' + fmtUs1(r.ours.meanUs) : '; ours is not among the recorded filters')),
          h('table', { class: 'delays' },
            h('thead', null, h('tr', null, ['filter', 'operation', 'callbacks', 'total', 'mean', 'p99'].map(function (x) { return h('th', null, x); }))),
            h('tbody', null, r.top.map(function (row) {
              var mine = r.ours && row.filter === r.ours.filter;
              return h('tr', { class: mine ? 'ours' : null }, [row.filter, row.operation, row.count.toLocaleString('en-US'), fmtUs1(row.totalUs), fmtUs1(row.meanUs), fmtUs1(row.p99Us)].map(function (x) { return h('td', null, x); }));
            }))));
      }));
  }

  function cellPage(id) {
    var i = byId[id];
    if (i === undefined) return [h('p', null, link('#/', '← overview')), h('p', { class: 'none' }, 'No cell ' + id + ' in this run.')];
    var c = cells[i];
    var coords = h('dl', { class: 'meta' },
      [['id', c.id], ['release', c.release], ['patch level', c.patch || '(image)'], ['KB', c.kb ? 'KB' + c.kb : '–'], ['driver', c.driver], ['verifier', c.verifier], ['workloads', c.workloads.join(', ')], ['coexist', c.coexist.join(', ') || '–'], ['repeat', String(c.repeat)], ['tags', c.tags.join(', ') || '–']]
        .map(function (kv) { return [h('dt', null, kv[0]), h('dd', null, kv[1])]; }));
    var crash = c.crash ? h('section', { class: 'crash', id: 'crash' }, h('h3', null, 'Crash'), h('dl', { class: 'meta' },
      [['title', c.crash.title], ['bucket', c.crash.bucket], ['kind', c.crash.kind], ['bugcheck', c.crash.bugcheck], ['module', c.crash.module], ['attribution', c.crash.attribution], ['dump', c.crash.dump]]
        .filter(function (kv) { return kv[1]; }).map(function (kv) { return [h('dt', null, kv[0]), h('dd', { class: kv[0] === 'title' ? 'crash-title' : null }, kv[1])]; }))) : null;
    return [
      h('p', null, link('#/', '← overview')),
      h('h2', { id: 'cell-title' }, c.title),
      h('p', null, badge(c.verdict), c.flaky ? h('span', { class: 'flaky' }, ' flaky') : null, c.reason ? h('span', { class: 'reason', id: 'cell-reason' }, ' ' + c.reason) : null),
      coords,
      crash,
      c.triage ? h('section', null, h('h3', null, 'Triage'), h('pre', { class: 'triage' }, c.triage)) : null,
      h('h3', null, 'Steps'),
      c.attempts.map(function (a) {
        return h('section', { class: 'attempt' }, h('h4', null, 'attempt ' + a.n + ' on ' + a.host + ': ', badge(a.verdict), ' ' + fmtMs(a.ms) + (a.reason ? ' — ' + a.reason : '')), timeline(a),
          a.notes.length ? h('ul', { class: 'notes' }, a.notes.map(function (n) { return h('li', null, n); })) : null);
      }),
      h('h3', null, 'Latency against baseline'),
      hasLatency(c) ? h('p', { id: 'cell-detectable', class: 'detectable' }, c.detectable
        ? detectableText(c) + (c.detectable.from === 'rounds' ? ' (the run\u2019s own figure)' : ' (from the 95% interval, normal approximation)') + (c.detectable.missing.length ? '; no interval for ' + c.detectable.missing.join(', ') : '')
        : 'No 95% interval recorded: no detectable figure.') : null,
      latencyPlot(c.latency),
      roundsPictures(c.pictures),
      filterDelaysSection(c.filterDelays),
      h('h3', null, 'Console log' + (c.console && c.console.truncated ? ' (tail)' : '')),
      c.console ? h('pre', { class: 'console', id: 'console' }, c.console.text) : h('p', { class: 'none' }, 'No console log.'),
      h('h3', null, 'Evidence'),
      h('ul', { class: 'evidence' }, c.evidence.map(function (e) { return h('li', { class: 'mono' }, e); })),
    ];
  }

  // ---- routing --------------------------------------------------------------------------------
  function render() {
    var app = document.getElementById('app');
    var hash = location.hash.replace(/^#\/?/, '');
    var parts = hash.split('/').map(function (p) { try { return decodeURIComponent(p); } catch (e) { return p; } });
    var view;
    if (parts[0] === 'cell' && parts[1]) view = cellPage(parts[1]);
    else if (parts[0] === 'group' && parts.length >= 3) view = groupPage(parts[1], parts[2]);
    else view = overview();
    app.textContent = '';
    append(app, view);
    app.setAttribute('data-route', parts[0] || 'overview');
  }

  document.getElementById('run-title').textContent = DATA.run.matrix + ' · ' + DATA.run.id + ' · generated ' + DATA.run.generated;
  window.addEventListener('hashchange', function () { render(); window.scrollTo(0, 0); });
  render();
})();
