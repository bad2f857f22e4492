// servent's web interface: plain JavaScript over the JSON API (/api/v1/) and its event
// stream; no framework, no build step, nothing loaded from elsewhere.
'use strict';

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const SVG_NS = 'http://www.w3.org/2000/svg';

const ui = {
  section: 'search',
  search: null,          // id of the search shown
  groups: new Map(),     // key -> group of the search shown
  sort: { key: 'sources', dir: -1 },
  downloads: new Map(),  // id -> download object
  resort: false,
};

// ---- helpers ---------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
}

function svg(tag, attrs = {}) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
  }
  return e;
}

function humanSize(n) {
  if (n === null || n === undefined) return '?';
  if (n < 1024) return n + ' B';
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024, u = 0;
  while (v >= 1024 && u + 1 < units.length) { v /= 1024; u++; }
  return v.toFixed(1) + ' ' + units[u];
}

function humanDuration(s) {
  if (s === null || s === undefined) return '–';
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
}

let errorTimer = null;
function showError(message) {
  $('#error-text').textContent = message;
  $('#error').hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => { $('#error').hidden = true; }, 15000);
}

async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin' };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch('/api/v1/' + path, opts);
  } catch (e) {
    throw new Error(method + ' ' + path + ': the servent cannot be reached (' + e.message + ')');
  }
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!r.ok) {
    const why = data && data.error ? data.error : (text || r.statusText);
    throw new Error(method + ' ' + path + ': ' + r.status + ' ' + why);
  }
  return data;
}

// Runs an API call, showing its failure in the banner.
async function attempt(fn) {
  try { return await fn(); } catch (e) { showError(e.message); return undefined; }
}

// ---- tabs ------------------------------------------------------------------------------

function show(section) {
  ui.section = section;
  for (const b of $$('nav button')) {
    const on = b.dataset.section === section;
    b.setAttribute('aria-selected', on ? 'true' : 'false');
    $('#' + b.dataset.section).hidden = !on;
  }
  if (location.hash !== '#' + section) history.replaceState(null, '', '#' + section);
  refreshSection();
}

function refreshSection() {
  if (ui.section === 'library') refreshLibrary();
  if (ui.section === 'overlay') refreshOverlay();
  if (ui.section === 'downloads') refreshDownloads();
}

// ---- search ----------------------------------------------------------------------------

function groupKey(g) { return g.sha1 || ('name:' + g.name + ':' + g.size); }

async function startSearch(ev) {
  ev.preventDefault();
  const pattern = $('#search-pattern').value.trim();
  if (!pattern) return;
  const strategy = $('#search-strategy').value;
  const res = await attempt(() => api('POST', 'searches', { pattern, strategy }));
  if (!res) return;
  ui.search = res.id;
  ui.groups.clear();
  $('#results tbody').replaceChildren();
  $('#search-summary').textContent = 'Searching for “' + pattern + '” (' + strategy + ')…';
  showCost({ state: 'running', cost: null });
  pollSearch(res.id);
}

// Reads the search's whole state (the event stream brings changes in between; this
// catches anything sent before the stream was up, and the running cost).
async function pollSearch(id) {
  if (ui.search !== id) return;
  let s;
  try { s = await api('GET', 'searches/' + id); } catch (e) { showError(e.message); return; }
  if (ui.search !== id) return;
  for (const g of s.groups) upsertGroup(g);
  showCost(s);
  if (s.state === 'running') setTimeout(() => pollSearch(id), 1000);
}

function showCost(s) {
  const c = s.cost || {};
  const box = $('#search-cost');
  const dash = (v) => (v === null || v === undefined ? '–' : String(v));
  $('.cost-state', box).textContent = s.state || '–';
  $('.cost-messages', box).textContent = dash(c.messages);
  $('.cost-reached', box).textContent = c.servents_reached == null ? 'not known live' : String(c.servents_reached);
  $('.cost-hops', box).textContent = dash(c.hops);
  $('.cost-steps', box).textContent = dash(c.first_hit_steps);
  $('.cost-first', box).textContent = c.first_hit_ms === null || c.first_hit_ms === undefined ? '–' : c.first_hit_ms + ' ms';
  $('.cost-hits', box).textContent = c.hits === undefined ? '–' : c.hits + ' / ' + c.responders;
  const n = ui.groups.size;
  if (s.state === 'done') {
    $('#search-summary').textContent = n === 0 ? 'No results.' : n + ' file' + (n === 1 ? '' : 's') + ' found; click a column to sort.';
  } else if (n > 0) {
    $('#search-summary').textContent = n + ' file' + (n === 1 ? '' : 's') + ' so far; still searching…';
  }
}

function upsertGroup(g) {
  const key = groupKey(g);
  const old = ui.groups.get(key);
  ui.groups.set(key, g);
  let row = $$('#results tbody tr.result').find((r) => r.dataset.key === key);
  if (!row) {
    row = el('tr', { class: 'result fresh', 'data-key': key });
    if (g.sha1) row.setAttribute('data-sha1', g.sha1);
    const btn = el('button', { class: 'download', type: 'button', text: 'Download' });
    btn.addEventListener('click', () => downloadGroup(row.dataset.key, btn));
    row.append(el('td', { class: 'name' }), el('td', { class: 'size num' }),
      el('td', { class: 'sources num' }), el('td', { class: 'hops num' }), el('td', {}, btn));
    $('#results tbody').append(row);
  } else if (old && old.sources === g.sources && old.hops === g.hops) {
    return;
  }
  $('.name', row).textContent = g.name;
  $('.name', row).title = g.sha1 ? 'urn:sha1:' + g.sha1 : 'no SHA-1';
  $('.size', row).textContent = humanSize(g.size);
  $('.size', row).dataset.bytes = g.size;
  $('.sources', row).textContent = g.sources;
  $('.hops', row).textContent = g.hops === null ? '?' : g.hops;
  scheduleSort();
}

function scheduleSort() {
  if (ui.resort) return;
  ui.resort = true;
  requestAnimationFrame(() => { ui.resort = false; sortRows(); });
}

function sortRows() {
  const { key, dir } = ui.sort;
  const rows = $$('#results tbody tr.result');
  const value = (r) => {
    const g = ui.groups.get(r.dataset.key);
    return g ? g[key] : null;
  };
  rows.sort((a, b) => {
    const x = value(a), y = value(b);
    if (x === y) return 0;
    if (x === null) return 1;
    if (y === null) return -1;
    return (typeof x === 'string' ? x.localeCompare(y) : x - y) * dir;
  });
  const body = $('#results tbody');
  rows.forEach((r) => body.append(r));
  for (const th of $$('#results th.sortable')) {
    th.classList.toggle('sorted-asc', th.dataset.key === key && dir > 0);
    th.classList.toggle('sorted-desc', th.dataset.key === key && dir < 0);
  }
}

function sortBy(key) {
  if (ui.sort.key === key) ui.sort.dir = -ui.sort.dir;
  else ui.sort = { key, dir: key === 'name' || key === 'hops' ? 1 : -1 };
  sortRows();
}

async function downloadGroup(key, btn) {
  const g = ui.groups.get(key);
  if (!g) return;
  btn.disabled = true;
  const body = g.sha1 ? { search: ui.search, sha1: g.sha1 } : { magnet: g.magnet };
  const res = await attempt(() => api('POST', 'downloads', body));
  if (res) {
    btn.textContent = 'Added ✓';
    await refreshDownloads();
  } else {
    btn.disabled = false;
  }
}

// ---- downloads -------------------------------------------------------------------------

async function refreshDownloads() {
  const list = await attempt(() => api('GET', 'downloads'));
  if (!list) return;
  for (const d of list) renderDownload(d);
}

function renderDownload(d) {
  ui.downloads.set(d.id, d);
  let box = $$('#download-list .download').find((b) => b.dataset.id === String(d.id));
  if (!box) {
    box = el('div', { class: 'download', 'data-id': String(d.id) });
    const buttons = el('span', { class: 'buttons' });
    for (const action of ['pause', 'resume', 'cancel']) {
      const b = el('button', { class: action + ' secondary', type: 'button', text: action[0].toUpperCase() + action.slice(1) });
      b.addEventListener('click', () => downloadAction(d.id, action));
      buttons.append(b);
    }
    box.append(
      el('div', { class: 'top' }, el('span', { class: 'name' }), el('span', { class: 'state' }),
        el('span', { class: 'verdict' }), buttons),
      el('progress', { value: 0, max: 1 }),
      el('div', { class: 'meta' }, el('span', { class: 'percent' }), el('span', { class: 'bytes' }),
        el('span', { class: 'speed' }), el('span', { class: 'eta' }), el('span', { class: 'sources' })),
      el('div', { class: 'error' }),
      el('ul', { class: 'source-errors' }));
    $('#download-list').prepend(box);
  }
  const size = d.size || 0;
  const done = d.state === 'done' ? size : Math.min(d.done, size);
  const pct = size > 0 ? Math.floor((100 * done) / size) : (d.state === 'done' ? 100 : 0);
  $('.name', box).textContent = d.name;
  const state = $('.state', box);
  state.textContent = d.state;
  state.className = 'state state-' + d.state;
  const verdict = $('.verdict', box);
  verdict.textContent = d.verdict || '';
  verdict.className = 'verdict' + (d.verdict ? ' verdict-' + d.verdict : '');
  const bar = $('progress', box);
  bar.max = size > 0 ? size : 1;
  bar.value = size > 0 ? done : (d.state === 'done' ? 1 : 0);
  $('.percent', box).textContent = pct + '%';
  $('.bytes', box).textContent = humanSize(done) + ' of ' + humanSize(d.size);
  $('.speed', box).textContent = d.state === 'running' ? humanSize(d.speed_bps) + '/s' : '';
  $('.eta', box).textContent = d.state === 'running' && d.eta_s !== null ? 'ETA ' + humanDuration(d.eta_s) : '';
  $('.sources', box).textContent = d.sources + ' source' + (d.sources === 1 ? '' : 's');
  $('.error', box).textContent = d.error || '';
  $('.source-errors', box).replaceChildren(...(d.source_errors || []).map((t) => el('li', { text: t })));
  $('.pause', box).disabled = !(d.state === 'running' || d.state === 'queued');
  $('.resume', box).disabled = !(d.state === 'paused' || d.state === 'failed');
  $('.cancel', box).disabled = d.state === 'done' || d.state === 'cancelled';
  $('#downloads-empty').hidden = ui.downloads.size > 0;
  const active = [...ui.downloads.values()].filter((x) => x.state === 'running' || x.state === 'queued').length;
  $('#downloads-count').textContent = active > 0 ? String(active) : '';
}

async function downloadAction(id, action) {
  const d = await attempt(() => api('POST', 'downloads/' + id + '/' + action, {}));
  if (d) renderDownload(d);
}

async function downloadMagnet(ev) {
  ev.preventDefault();
  const magnet = $('#magnet-input').value.trim();
  if (!magnet) return;
  const res = await attempt(() => api('POST', 'downloads', { magnet }));
  if (res) { $('#magnet-input').value = ''; refreshDownloads(); }
}

// ---- library ---------------------------------------------------------------------------

async function refreshLibrary() {
  const l = await attempt(() => api('GET', 'library'));
  if (!l) return;
  $('#library-files').textContent = l.files;
  $('#library-bytes').textContent = humanSize(l.bytes);
  const total = l.hashing.done + l.hashing.pending;
  $('#library-hashing').textContent = l.hashing.pending > 0
    ? l.hashing.done + ' hashed, ' + l.hashing.pending + ' waiting'
    : 'every file hashed (' + l.hashing.done + ')';
  $('#library-progress').max = Math.max(total, 1);
  $('#library-progress').value = total > 0 ? l.hashing.done : 1;
  $('#library-folders').replaceChildren(...(l.folders.length ? l.folders : ['(nothing shared)']).map((f) => el('li', { text: f })));
  if (ui.section === 'library' && l.hashing.pending > 0) setTimeout(refreshLibrary, 2000);
}

async function rescan() {
  $('#library-rescan').disabled = true;
  const r = await attempt(() => api('POST', 'library/rescan', {}));
  $('#library-rescan').disabled = false;
  if (r) {
    $('#library-report').textContent = 'Rescanned: ' + r.files + ' files (' + r.added + ' added, ' + r.removed + ' removed, ' + r.changed + ' changed, ' + r.to_hash + ' to hash).';
    refreshLibrary();
  }
}

// ---- overlay ---------------------------------------------------------------------------

async function refreshOverlay() {
  const [neighbours, hosts, rates] = await Promise.all([
    attempt(() => api('GET', 'neighbours')),
    attempt(() => api('GET', 'hosts')),
    attempt(() => api('GET', 'rates')),
  ]);
  if (neighbours) {
    renderNeighbours(neighbours);
    drawOverlay(neighbours, hosts || []);
  }
  if (rates) drawRates(rates);
  if (hosts) $('#hosts-summary').textContent = hosts.length + ' host' + (hosts.length === 1 ? '' : 's') + ' in the host cache worth a connect now.';
}

function renderNeighbours(list) {
  $('#neighbours-count').textContent = list.length ? String(list.length) : '';
  $('#neighbours tbody').replaceChildren(...list.map((n) => el('tr', { class: 'neighbour' },
    el('td', { class: 'addr', text: n.addr }),
    el('td', { class: 'role', text: n.role }),
    el('td', { class: 'agent', text: n.user_agent || '' }),
    el('td', { class: 'uptime num', text: humanDuration(n.uptime_s) }),
    el('td', { class: 'sent num', text: n.sent }),
    el('td', { class: 'received num', text: n.received }),
    el('td', { class: 'dropped num', text: n.dropped }))));
  if (list.length === 0) {
    $('#neighbours tbody').append(el('tr', {}, el('td', { colSpan: 7, class: 'muted', text: 'No neighbours: the servent is alone.' })));
  }
}

function ring(items, radius, klass, nodeRadius, g, edges) {
  const n = items.length;
  items.forEach((item, i) => {
    const a = (2 * Math.PI * i) / Math.max(n, 1) - Math.PI / 2;
    const x = (radius * Math.cos(a)).toFixed(1), y = (radius * Math.sin(a)).toFixed(1);
    if (edges) g.append(svg('line', { x1: 0, y1: 0, x2: x, y2: y, class: 'edge' }));
    const c = svg('circle', { cx: x, cy: y, r: nodeRadius, class: klass(item) });
    c.append(svg('title', { text: item.addr + (item.user_agent ? ' — ' + item.user_agent : '') }));
    g.append(c);
    if (edges) g.append(svg('text', { x, y: (Number(y) + nodeRadius + 11).toFixed(1), text: item.addr }));
  });
}

function drawOverlay(neighbours, hosts) {
  const g = $('#overlay-graph');
  g.replaceChildren();
  const around = new Set(neighbours.map((n) => n.addr));
  const outer = hosts.filter((h) => !around.has(h.addr)).slice(0, 48);
  const hostLayer = svg('g'), linkLayer = svg('g');
  ring(outer, 195, () => 'host', 4, hostLayer, false);
  ring(neighbours, 120, (n) => (n.role === 'leaf' ? 'leaf' : 'ultrapeer'), 9, linkLayer, true);
  g.append(hostLayer, linkLayer);
  g.append(svg('circle', { cx: 0, cy: 0, r: 14, class: 'self' }));
  g.append(svg('text', { x: 0, y: 28, text: 'this servent' }));
}

function drawRates(rates) {
  const c = $('#rates-chart');
  c.replaceChildren();
  const W = 360, H = 160, L = 34, B = 18;
  const series = [['ping', 's-ping'], ['query', 's-query'], ['query_hit', 's-hit']];
  const len = Math.max(...series.map(([k]) => rates[k].length), 1);
  const max = Math.max(1, ...series.flatMap(([k]) => rates[k]));
  c.append(svg('line', { x1: L, y1: H - B, x2: W, y2: H - B, class: 'axis' }));
  c.append(svg('line', { x1: L, y1: 4, x2: L, y2: H - B, class: 'axis' }));
  c.append(svg('text', { x: 2, y: 12, text: String(max) }));
  c.append(svg('text', { x: 2, y: H - B, text: '0' }));
  const span = len * rates.interval_s;
  const ago = span < 120 ? span + ' s ago' : Math.round(span / 60) + ' min ago';
  c.append(svg('text', { x: L, y: H - 4, text: ago }));
  c.append(svg('text', { x: W - 24, y: H - 4, text: 'now' }));
  for (const [k, cls] of series) {
    const v = rates[k];
    if (v.length === 0) continue;
    const pts = v.map((y, i) => {
      const x = L + ((W - L) * (i + len - v.length)) / Math.max(len - 1, 1);
      return x.toFixed(1) + ',' + (H - B - ((H - B - 6) * y) / max).toFixed(1);
    });
    if (pts.length === 1) pts.push((W).toFixed(1) + ',' + pts[0].split(',')[1]);
    c.append(svg('polyline', { points: pts.join(' '), class: cls }));
  }
  if (len <= 1 && rates.ping.length === 0) {
    c.append(svg('text', { x: L + 8, y: 40, text: 'first sample after ' + rates.interval_s + ' s' }));
  }
}

// ---- compare ---------------------------------------------------------------------------

async function runCompare(ev) {
  ev.preventDefault();
  const body = {
    topology: $('#compare-topology').value.trim(),
    strategies: $('#compare-strategies').value.trim(),
    queries: Number($('#compare-queries').value),
  };
  $('#compare-go').disabled = true;
  $('#compare-status').textContent = 'Simulating…';
  const started = performance.now();
  const r = await attempt(() => api('POST', 'compare', body));
  $('#compare-go').disabled = false;
  if (!r) { $('#compare-status').textContent = 'The comparison failed (see above).'; return; }
  $('#compare-status').textContent = 'Done in ' + ((performance.now() - started) / 1000).toFixed(1) + ' s: ' + r.topology.servents + ' servents, ' + r.topology.links + ' links.';
  // The chart is the servent's own SVG (the same as `servent compare --svg`).
  const doc = new DOMParser().parseFromString(r.svg, 'image/svg+xml');
  const chart = doc.documentElement;
  $('#compare-chart').replaceChildren(document.importNode(chart, true));
  const cols = [['strategy', 'strategy'], ['success_rate', 'success'], ['messages_per_query', 'msgs/query'],
    ['visited_per_query', 'visited'], ['mean_hops', 'hops'], ['duplicate_ratio', 'dup']];
  $('#compare-rows thead').replaceChildren(el('tr', {}, ...cols.map(([, t]) => el('th', { text: t }))));
  const fmt = (v) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : (v === null ? '–' : String(v)));
  $('#compare-rows tbody').replaceChildren(...r.rows.map((row) => el('tr', {}, ...cols.map(([k]) => el('td', { text: fmt(row[k]) })))));
}

// ---- status and events -----------------------------------------------------------------

async function refreshStatus() {
  try {
    const s = await api('GET', 'status');
    $('#whoami').textContent = s.listen + ' · ' + s.role + ' · ' + s.neighbours.length + ' neighbour' + (s.neighbours.length === 1 ? '' : 's') + ' · ' + s.user_agent;
    $('#neighbours-count').textContent = s.neighbours.length ? String(s.neighbours.length) : '';
  } catch (e) {
    $('#whoami').textContent = 'servent unreachable';
  }
}

function connectEvents() {
  const es = new EventSource('/api/v1/events');
  const live = $('#live');
  es.onopen = () => { live.textContent = 'live'; live.classList.add('on'); };
  es.onerror = () => { live.textContent = 'reconnecting'; live.classList.remove('on'); };
  es.addEventListener('hit', (m) => {
    const e = JSON.parse(m.data);
    if (e.search === ui.search) upsertGroup(e.group);
  });
  es.addEventListener('search', (m) => {
    const e = JSON.parse(m.data);
    if (e.id === ui.search) showCost(e);
  });
  es.addEventListener('download', (m) => renderDownload(JSON.parse(m.data)));
  es.addEventListener('link', () => {
    refreshStatus();
    if (ui.section === 'overlay') refreshOverlay();
  });
}

function init() {
  for (const b of $$('nav button')) b.addEventListener('click', () => show(b.dataset.section));
  for (const th of $$('#results th.sortable')) th.addEventListener('click', () => sortBy(th.dataset.key));
  $('#search-form').addEventListener('submit', startSearch);
  $('#magnet-form').addEventListener('submit', downloadMagnet);
  $('#library-rescan').addEventListener('click', rescan);
  $('#compare-form').addEventListener('submit', runCompare);
  $('#error-close').addEventListener('click', () => { $('#error').hidden = true; });
  const first = location.hash.slice(1);
  show(['search', 'downloads', 'library', 'overlay', 'compare'].includes(first) ? first : 'search');
  connectEvents();
  refreshStatus();
  refreshDownloads();
  setInterval(refreshStatus, 5000);
  setInterval(() => { if (ui.section === 'overlay') refreshOverlay(); }, 5000);
  // The event stream brings progress; this catches what it missed while reconnecting.
  setInterval(() => {
    const active = [...ui.downloads.values()].some((d) => d.state === 'running' || d.state === 'queued');
    if (active) refreshDownloads();
  }, 2000);
}

document.addEventListener('DOMContentLoaded', init);
