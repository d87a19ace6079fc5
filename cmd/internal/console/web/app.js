// Whistle's web console: a client of the gRPC APIs through the console's
// JSON layer (/api/v1/<Service>/<Method>). Every text that comes from the
// API is written with textContent, never as HTML.
import { t, setLang, lang, figureName, statusName, roleName } from './i18n.js';
import uPlot from './vendor/uPlot.esm.js';

const main = document.getElementById('view');
const errorBox = document.getElementById('error');

// ---- session: the bearer token lives in this tab only (sessionStorage), sent as a header, never a cookie.
const session = {
  get() { try { return JSON.parse(sessionStorage.getItem('whistle.session')); } catch { return null; } },
  set(s) { sessionStorage.setItem('whistle.session', JSON.stringify(s)); },
  clear() { sessionStorage.removeItem('whistle.session'); },
};

async function api(service, method, body = {}) {
  const s = session.get();
  const headers = { 'Content-Type': 'application/json' };
  if (s) headers.Authorization = 'Bearer ' + s.token;
  const resp = await fetch(`api/v1/${service}/${method}`, { method: 'POST', headers, body: JSON.stringify(body) });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    if (resp.status === 401) { session.clear(); location.hash = '#/login'; }
    throw Object.assign(new Error(data.message || resp.statusText), { status: resp.status });
  }
  return data;
}

async function upload(file, s) {
  const q = new URLSearchParams({ name: file.name, actor_id: s.name, org_unit_id: s.org_unit });
  const resp = await fetch('media?' + q, { method: 'POST', headers: { Authorization: 'Bearer ' + s.token }, body: file });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(data.message || resp.statusText);
  return data.media;
}

// uploadAll uploads a file input's photos and returns them as attachments.
async function uploadAll(input, s) {
  const out = [];
  for (const f of input.files) {
    const m = await upload(f, s);
    out.push({ name: m.name, size_bytes: m.size_bytes, sha256: m.sha256, media_id: m.id });
  }
  return out;
}

// ---- names of units and matters, from the active catalog (read once a sign-in)
let names = { units: {}, matters: {}, units_list: [] };
async function loadNames() {
  const cat = await api('DispatchService', 'GetCatalog', {});
  names = { units: {}, matters: {}, units_list: cat.org_units || [] };
  for (const u of cat.org_units || []) names.units[u.id] = u.name;
  for (const d of cat.departments || []) names.units[d.id] = d.name;
  for (const m of cat.matters || []) names.matters[m.code] = m.name;
}
const unitName = (id) => (names.units[id] ? `${names.units[id]}` : id);
const matterName = (code) => names.matters[code] || code;

// ---- small DOM helpers: el('td', {className: 'x'}, 'text', child…) writes strings as text.
function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e[k] = v;
  }
  for (const c of children.flat()) if (c != null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function showError(err) {
  errorBox.textContent = err ? String(err.message || err) : '';
  errorBox.hidden = !err;
}

function table(headers, rows, csvName) {
  const tbl = el('table', {}, el('thead', {}, el('tr', {}, headers.map((h) => el('th', {}, h)))),
    el('tbody', {}, rows.length ? rows : [el('tr', {}, el('td', { colSpan: headers.length }, t('none')))]));
  if (!csvName) return tbl;
  return el('div', {}, el('div', { className: 'controls' }, el('button', { type: 'button', className: 'csv',
    onclick: () => downloadCSV(tbl, csvName) }, t('exportCSV'))), tbl);
}

// downloadCSV saves a table's text as CSV (UTF-8 with a BOM, which spreadsheet programs read as UTF-8).
function downloadCSV(tbl, name) {
  const cell = (c) => '"' + c.textContent.replaceAll('"', '""') + '"';
  const lines = [...tbl.rows].map((r) => [...r.cells].map(cell).join(','));
  const url = URL.createObjectURL(new Blob(['\ufeff' + lines.join('\r\n')], { type: 'text/csv;charset=utf-8' }));
  const a = el('a', { href: url, download: `${name}-${today()}.csv` });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

const pct = (f) => (f && f.denominator > 0 ? (100 * (f.rate || 0)).toFixed(1) + '%' : '—');
const today = () => new Date().toLocaleDateString('sv'); // YYYY-MM-DD, local

function fmtTime(ts) { return ts ? new Date(ts).toLocaleString(lang() === 'zh' ? 'zh-CN' : 'en-GB', { hour12: false }) : '—'; }

function countdown(ts) {
  if (!ts) return el('span', { className: 'due' }, '—');
  const ms = new Date(ts) - Date.now();
  const abs = Math.abs(ms), h = Math.floor(abs / 3.6e6), m = Math.floor((abs % 3.6e6) / 6e4);
  const text = (h ? `${h}${t('hours')}` : '') + `${m}${t('minutes')}`;
  return el('span', { className: 'due' + (ms < 0 ? ' late' : ''), title: fmtTime(ts) }, ms < 0 ? t('overdueBy') + text : t('left') + text);
}

// ---- views
let timer;
let stream; // the board's live event stream, ended when the view changes
const views = { login: loginView, leader: leaderView, board: boardView, hotspots: hotSpotsView, map: mapView, report: reportView,
  inbox: inboxView, ticket: ticketView };

async function route() {
  clearInterval(timer);
  stream?.abort();
  showError(null);
  const s = session.get();
  const [name, arg] = location.hash.replace(/^#\//, '').split('/');
  let v = views[name];
  if (!s) v = loginView;
  else if (!v) v = isHandler(s) ? inboxView : leaderView;
  renderChrome(s);
  // Each route draws into a box of its own: a slower earlier route that
  // finishes later draws into its detached box, never into this one.
  const box = el('div');
  main.replaceChildren(box);
  try {
    if (s && !names.units_list.length) await loadNames();
    await v(arg, box);
  } catch (err) { if (box.isConnected) showError(err); }
}

function isHandler(s) { return s.role === 'department_handler' || s.role === 'department_lead'; }

function renderChrome(s) {
  document.querySelectorAll('[data-i18n]').forEach((n) => { n.textContent = t(n.dataset.i18n); });
  document.getElementById('lang').textContent = lang() === 'zh' ? 'EN' : '中文';
  document.getElementById('signout').hidden = !s;
  document.getElementById('who').textContent = s ? `${roleName(s.role)} · ${s.org_unit}` : '';
  const nav = document.getElementById('nav');
  nav.replaceChildren();
  if (!s) return;
  if (!isHandler(s)) {
    nav.append(el('a', { href: '#/leader' }, t('scorecard')), el('a', { href: '#/board' }, t('board')),
      el('a', { href: '#/hotspots' }, t('hotspots')), el('a', { href: '#/map' }, t('map')), el('a', { href: '#/report' }, t('report')));
  }
  if (isHandler(s)) nav.append(el('a', { href: '#/inbox' }, t('inbox')));
}

async function loginView(arg, box) {
  box.append(el('h1', {}, t('signIn')));
  const { users } = await (await fetch('session/users')).json();
  if (users.length) {
    box.append(el('p', {}, t('pickUser')));
    box.append(el('div', { className: 'users' }, users.map((u) => el('button', {
      type: 'button', dataset: { user: u.name },
      onclick: async () => {
        const resp = await fetch('session', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: u.name }) });
        const data = await resp.json();
        if (!resp.ok) { showError(data.message); return; }
        session.set(data);
        location.hash = isHandler(data) ? '#/inbox' : '#/leader';
        route();
      },
    }, roleName(u.role), el('small', {}, `${u.name} · ${u.org_unit}`)))));
  }
  const token = el('textarea', { placeholder: t('pasteToken'), id: 'token' });
  const unit = el('input', { placeholder: t('orgUnit'), id: 'token-unit' });
  const role = el('select', { id: 'token-role' }, ['monitor', 'street_officer', 'community_officer', 'department_handler', 'department_lead', 'admin']
    .map((r) => el('option', { value: r }, roleName(r))));
  box.append(el('h2', {}, t('withToken')), token, el('div', { className: 'controls' }, role, unit,
    el('button', { type: 'button', className: 'primary', onclick: () => {
      session.set({ token: token.value.trim(), role: role.value, org_unit: unit.value.trim(), name: 'token' });
      route();
    } }, t('signIn'))));
}

// previous is a date in the period before this one of the kind.
function previous(kind) {
  const d = new Date();
  if (kind === 'PERIOD_KIND_MONTH') d.setDate(0); else d.setDate(d.getDate() - (kind === 'PERIOD_KIND_WEEK' ? 7 : 1));
  return d.toLocaleDateString('sv');
}

// change says how a unit's place moved since the period before: ↑ places up, ↓ down, new when it was not ranked.
function change(before, now) {
  if (before == null) return t('newInRanking');
  if (before === now) return '—';
  return before > now ? `↑${before - now}` : `↓${now - before}`;
}

// within is the area rankings are drawn in: departments rank city-wide (an area does not hold them).
const within = (level, unit) => (level === 'RANKING_LEVEL_DEPARTMENT' ? '' : unit);

const FIGURES = ['response_rate', 'resolution_rate', 'on_time_resolution_rate', 'closing_rate', 'satisfaction_rate', 'rework_rate'];

async function leaderView(arg, box) {
  const s = session.get();
  const unit = el('input', { value: s.org_unit, id: 'unit', size: 14 });
  const kind = el('select', { id: 'period' }, [['PERIOD_KIND_MONTH', t('month')], ['PERIOD_KIND_WEEK', t('week')], ['PERIOD_KIND_DAY', t('day')]]
    .map(([v, n]) => el('option', { value: v }, n)));
  const level = el('select', { id: 'level' }, [['RANKING_LEVEL_STREET', t('streets')], ['RANKING_LEVEL_COMMUNITY', t('communities')],
    ['RANKING_LEVEL_DEPARTMENT', t('departments')], ['RANKING_LEVEL_DISTRICT', t('districts')]].map(([v, n]) => el('option', { value: v }, n)));
  const figure = el('select', { id: 'figure' }, FIGURES.map((f) => el('option', { value: f }, figureName(f))));
  const cards = el('div', { className: 'cards', id: 'scorecard' });
  const ranks = el('div', { id: 'rankings' });
  const stamp = el('small', { id: 'updated' });
  const load = async () => {
    const period = { kind: kind.value, date: today() };
    const nothingYet = (err) => { if (err.status === 404) return {}; throw err; }; // no ticket counted there yet
    const rankings = (p) => api('MonitoringService', 'GetRankings', { level: level.value, figure: figure.value, period: p,
      within: within(level.value, unit.value.trim()) }).catch(nothingYet);
    const [sc, rk, before] = await Promise.all([
      api('MonitoringService', 'GetScorecard', { org_unit_id: unit.value.trim(), period }).catch(nothingYet),
      rankings(period), rankings({ kind: kind.value, date: previous(kind.value) })]);
    const was = Object.fromEntries((before.entries || []).map((e) => [e.org_unit_id, e.rank]));
    const byName = Object.fromEntries((sc.figures || []).map((f) => [f.name, f]));
    cards.replaceChildren(
      el('div', { className: 'card' }, el('div', { className: 'label' }, t('open')), el('div', { className: 'value', dataset: { figure: 'open' } }, sc.open || 0)),
      el('div', { className: 'card' }, el('div', { className: 'label' }, t('overdue')), el('div', { className: 'value', dataset: { figure: 'overdue' } }, sc.overdue || 0)),
      ...FIGURES.map((n) => {
        const f = byName[n] || { numerator: 0, denominator: 0 };
        return el('div', { className: 'card', title: `${f.numerator || 0} / ${f.denominator || 0}` },
          el('div', { className: 'label' }, figureName(n)), el('div', { className: 'value', dataset: { figure: n } }, pct(f)),
          el('div', { className: 'ratio', dataset: { ratio: n } }, `${f.numerator || 0} / ${f.denominator || 0}`));
      }));
    ranks.replaceChildren(table([t('rank'), t('change'), t('unit'), figureName(figure.value), t('ratio')], (rk.entries || []).map((e) =>
      el('tr', { dataset: { unit: e.org_unit_id } }, el('td', {}, e.rank), el('td', { className: 'change' }, change(was[e.org_unit_id], e.rank)),
        el('td', {}, unitName(e.org_unit_id)), el('td', {}, pct(e.figure)),
        el('td', {}, `${e.figure?.numerator || 0} / ${e.figure?.denominator || 0}`))), 'rankings'));
    stamp.textContent = t('updatedAt') + new Date().toLocaleTimeString('zh-CN', { hour12: false });
  };
  const refresh = () => Promise.all([load(), drawTrend()]).then(() => showError(null), showError);
  for (const c of [unit, kind, level, figure]) c.addEventListener('change', refresh);
  const trendKind = el('select', { id: 'trend-kind' }, [['PERIOD_KIND_WEEK', t('byWeek')], ['PERIOD_KIND_MONTH', t('byMonth')]]
    .map(([v, n]) => el('option', { value: v }, n)));
  const chart = el('div', { id: 'trend', className: 'chart' });
  const drawTrend = () => trend(chart, unit.value.trim(), trendKind.value);
  trendKind.addEventListener('change', () => drawTrend().catch(showError));
  box.append(el('h1', {}, t('scorecard')),
    el('div', { className: 'controls' }, el('label', {}, t('unit'), ' ', unit), kind,
      el('button', { type: 'button', id: 'refresh', onclick: refresh }, t('refresh')), stamp), cards,
    el('h2', {}, t('rankings')), el('div', { className: 'controls' }, level, figure), ranks,
    el('h2', {}, t('trend')), el('div', { className: 'controls' }, trendKind), chart);
  await load();
  await drawTrend();
  if (box.isConnected) timer = setInterval(refresh, 5000); // the figures move as tickets close
}

// boardView: the overdue tickets and the escalations, refreshed as events arrive (no polling).
async function boardView(arg, box) {
  const s = session.get();
  const overdue = el('div', { id: 'overdue' });
  const board = el('div', { id: 'escalations' });
  const live = el('small', { id: 'live' }, t('connecting'));
  const load = async () => {
    const [od, eb] = await Promise.all([
      api('MonitoringService', 'ListOverdue', { org_unit_id: s.org_unit, page_size: 200 }),
      api('MonitoringService', 'GetEscalationBoard', { org_unit_id: s.org_unit })]);
    overdue.replaceChildren(table([t('number'), t('matter'), t('department'), t('stage'), t('deadline'), t('level')],
      (od.tickets || []).map((o) => el('tr', { dataset: { ticket: o.state.ticket_id } }, el('td', {}, o.state.number),
        el('td', {}, matterName(o.state.category)), el('td', {}, unitName(o.state.lead_department_id)), el('td', {}, t('stage_' + o.stage)),
        el('td', {}, countdown(o.due_at)), el('td', {}, o.state.escalation_level ? el('span', { className: 'level' }, t('supervision') + o.state.escalation_level) : ''))),
      'overdue'));
    board.replaceChildren(table([t('unit'), t('level') + ' 1', t('level') + ' 2', t('level') + ' 3'], (eb.rows || []).map((r) =>
      el('tr', { dataset: { unit: r.org_unit_id } }, el('td', {}, unitName(r.org_unit_id)), el('td', {}, r.level_1 || 0),
        el('td', {}, r.level_2 || 0), el('td', {}, r.level_3 || 0))), 'escalations'));
  };
  box.append(el('h1', {}, t('board'), ' · ', unitName(s.org_unit)), live, el('h2', {}, t('overdue')), overdue, el('h2', {}, t('escalations')), board);
  await load();
  if (box.isConnected) follow(() => load().catch(showError), live);
}

// follow reads the console's event stream and calls changed (at most every 300 ms) while the view lasts; it reconnects.
function follow(changed, live) {
  const ctl = new AbortController();
  stream = ctl;
  let pending;
  const poke = () => { clearTimeout(pending); pending = setTimeout(changed, 300); };
  (async () => {
    for (let wait = 1000; !ctl.signal.aborted; wait = Math.min(wait * 2, 30000)) {
      try {
        const resp = await fetch('watch', { headers: { Authorization: 'Bearer ' + session.get().token }, signal: ctl.signal });
        if (!resp.ok) throw new Error((await resp.json().catch(() => ({}))).message || resp.statusText);
        live.textContent = t('live'); live.dataset.live = 'true';
        const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          const lines = buf.split('\n'); buf = lines.pop();
          if (lines.some((l) => l && !JSON.parse(l).heartbeat)) poke();
          wait = 1000;
        }
      } catch (err) { if (ctl.signal.aborted) return; live.textContent = t('reconnecting'); live.dataset.live = 'false'; }
      await new Promise((r) => setTimeout(r, wait));
    }
  })();
}

async function hotSpotsView(arg, box) {
  const s = session.get();
  const resp = await api('MonitoringService', 'ListHotSpots', { org_unit_id: s.org_unit });
  box.append(el('h1', {}, t('hotspots')), table([t('detected'), t('matter'), t('unit'), t('rule'), t('explanation'), t('tickets'), t('proactive')],
    (resp.hot_spots || []).map((h) => el('tr', {}, el('td', {}, fmtTime(h.detected_at)), el('td', {}, matterName(h.category)),
      el('td', {}, unitName(h.org_unit_id)), el('td', {}, h.rule), el('td', { className: 'desc' }, h.explanation),
      el('td', {}, (h.ticket_ids || []).length), el('td', {}, h.proactive_ticket_id || '—'))), 'hotspots'));
}

// mapView draws the grids where the catalog puts them (no map tiles: it works offline), each sized by its open tickets.
async function mapView(arg, box) {
  const grids = names.units_list.filter((u) => u.level === 'ORG_LEVEL_GRID' && u.centre);
  const open = {};
  const resp = await api('IntakeService', 'ListTickets', { page_size: 500, statuses: ['TICKET_STATUS_REPORTED', 'TICKET_STATUS_TRIAGE',
    'TICKET_STATUS_DISPATCHED', 'TICKET_STATUS_ACCEPTED', 'TICKET_STATUS_RETURNED', 'TICKET_STATUS_REOPENED'] });
  const located = [];
  for (const tk of resp.tickets || []) {
    const g = tk.location?.grid_id;
    if (g) open[g] = (open[g] || 0) + 1;
    if (tk.location?.coordinates) located.push(tk);
  }
  const spots = new Set(((await api('MonitoringService', 'ListHotSpots', {}).catch(() => ({}))).hot_spots || []).map((h) => h.org_unit_id));
  box.append(el('h1', {}, t('map')));
  if (!grids.length) { box.append(el('p', {}, t('noCentres'))); return; }
  const lat = grids.map((g) => g.centre.latitude), lng = grids.map((g) => g.centre.longitude);
  const [minLat, maxLat, minLng, maxLng] = [Math.min(...lat), Math.max(...lat), Math.min(...lng), Math.max(...lng)];
  const W = 1000, H = 640, pad = 50;
  const cos = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180); // a degree of longitude is shorter than one of latitude
  const k = Math.min((W - 2 * pad) / ((maxLng - minLng) * cos || 1), (H - 2 * pad) / (maxLat - minLat || 1));
  const x = (v) => W / 2 + (v - (minLng + maxLng) / 2) * cos * k;
  const y = (v) => H / 2 - (v - (minLat + maxLat) / 2) * k;
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`); svg.setAttribute('id', 'map'); svg.setAttribute('class', 'map');
  for (const u of names.units_list.filter((u) => (u.level === 'ORG_LEVEL_STREET' || u.level === 'ORG_LEVEL_DISTRICT') && u.centre)) {
    const label = document.createElementNS(NS, 'text');
    label.setAttribute('x', x(u.centre.longitude)); label.setAttribute('y', y(u.centre.latitude) - 14);
    label.setAttribute('class', u.level === 'ORG_LEVEL_DISTRICT' ? 'district' : 'street');
    label.textContent = u.name;
    svg.append(label);
  }
  for (const g of grids) {
    const n = open[g.id] || 0, hot = spots.has(g.id) || spots.has(g.parent_id);
    const c = document.createElementNS(NS, 'circle');
    c.setAttribute('cx', x(g.centre.longitude)); c.setAttribute('cy', y(g.centre.latitude)); c.setAttribute('r', 6 + 4 * Math.sqrt(n));
    c.setAttribute('class', hot ? 'grid hot' : n ? 'grid busy' : 'grid'); c.dataset.grid = g.id; c.dataset.open = n;
    const title = document.createElementNS(NS, 'title');
    title.textContent = `${g.name} (${g.id}): ${t('open')} ${n}${hot ? ' · ' + t('hotspots') : ''}`;
    c.append(title); svg.append(c);
  }
  for (const tk of located) {
    const { latitude, longitude } = tk.location.coordinates;
    if (latitude < minLat - 0.05 || latitude > maxLat + 0.05 || longitude < minLng - 0.05 || longitude > maxLng + 0.05) continue;
    const d = document.createElementNS(NS, 'circle');
    d.setAttribute('cx', x(longitude)); d.setAttribute('cy', y(latitude)); d.setAttribute('r', 3); d.setAttribute('class', 'ticket');
    d.dataset.ticket = tk.id;
    const title = document.createElementNS(NS, 'title');
    title.textContent = `${tk.number} ${matterName(tk.category)}`;
    d.append(title); svg.append(d);
  }
  box.append(svg, el('p', { className: 'legend' }, t('mapLegend')));
}

// reportView is the month's report, to print: rankings of streets and departments, and the top problems (每月一题 candidates).
async function reportView(arg, box) {
  const s = session.get();
  const month = today().slice(0, 7);
  const period = { kind: 'PERIOD_KIND_MONTH', date: today() };
  const none = (err) => { if (err.status === 404) return {}; throw err; };
  const ranking = (level) => api('MonitoringService', 'GetRankings', { level, figure: 'closing_rate', period, within: within(level, s.org_unit) }).catch(none);
  const [streets, depts] = await Promise.all([ranking('RANKING_LEVEL_STREET'), ranking('RANKING_LEVEL_DEPARTMENT')]);
  const rows = (r) => (r.entries || []).map((e) => el('tr', {}, el('td', {}, e.rank), el('td', {}, unitName(e.org_unit_id)), el('td', {}, pct(e.figure)),
    el('td', {}, `${e.figure?.numerator || 0} / ${e.figure?.denominator || 0}`)));
  box.append(el('h1', {}, t('report'), ' · ', month, ' · ', unitName(s.org_unit)),
    el('div', { className: 'controls' }, el('button', { type: 'button', onclick: () => window.print() }, t('print'))),
    el('h2', {}, t('streets'), ' · ', figureName('closing_rate')), table([t('rank'), t('unit'), figureName('closing_rate'), t('ratio')], rows(streets), 'streets'),
    el('h2', {}, t('departments'), ' · ', figureName('closing_rate')), table([t('rank'), t('unit'), figureName('closing_rate'), t('ratio')], rows(depts), 'departments'));
  const districts = names.units_list.filter((u) => u.level === 'ORG_LEVEL_DISTRICT' && (s.org_unit === u.id || s.org_unit === u.parent_id));
  for (const d of districts) {
    const top = await api('MonitoringService', 'GetTopProblems', { district_id: d.id, month }).catch(none);
    box.append(el('h2', {}, t('topProblems'), ' · ', d.name), table([t('matter'), t('count'), t('previous'), t('share')],
      (top.problems || []).map((p) => el('tr', {}, el('td', {}, matterName(p.category)), el('td', {}, p.count || 0), el('td', {}, p.previous_count || 0),
        el('td', {}, ((p.share || 0) * 100).toFixed(1) + '%'))), 'top-' + d.id));
  }
}

// trend draws the closing, satisfaction and on-time rates of a unit over the last 8 weeks or 6 months (uPlot).
const TREND = ['closing_rate', 'satisfaction_rate', 'on_time_resolution_rate'];
async function trend(chart, unit, kind) {
  const n = kind === 'PERIOD_KIND_WEEK' ? 8 : 6;
  const dates = [...Array(n).keys()].reverse().map((i) => {
    const d = new Date();
    if (kind === 'PERIOD_KIND_WEEK') d.setDate(d.getDate() - 7 * i); else d.setMonth(d.getMonth() - i, 15);
    return d.toLocaleDateString('sv');
  });
  const cards = await Promise.all(dates.map((date) => api('MonitoringService', 'GetScorecard', { org_unit_id: unit, period: { kind, date } })
    .catch((err) => { if (err.status === 404) return {}; throw err; })));
  const xs = dates.map((d) => new Date(d + 'T12:00:00').getTime() / 1000);
  const series = TREND.map((name) => cards.map((sc) => {
    const f = (sc.figures || []).find((x) => x.name === name);
    return f && f.denominator > 0 ? 100 * (f.rate || 0) : null;
  }));
  const colors = ['#c0392b', '#1e7d4f', '#2c6fbb'];
  chart.replaceChildren();
  chart.dataset.points = String(series.flat().filter((v) => v != null).length);
  new uPlot({ width: Math.min(chart.clientWidth || 900, 1060), height: 260, scales: { y: { range: [0, 100] } },
    series: [{}, ...TREND.map((name, i) => ({ label: figureName(name), stroke: colors[i], width: 2, spanGaps: true, value: (u, v) => (v == null ? '—' : v.toFixed(1) + '%') }))],
    axes: [{}, { values: (u, vs) => vs.map((v) => v + '%') }] }, [xs, ...series], chart);
}

async function inboxView(arg, box) {
  const s = session.get();
  const list = el('div', { id: 'inbox' });
  const status = el('select', { id: 'filter-status' }, [['', t('allOpen')], ['TICKET_STATUS_DISPATCHED', statusName('TICKET_STATUS_DISPATCHED')],
    ['TICKET_STATUS_ACCEPTED', statusName('TICKET_STATUS_ACCEPTED')], ['TICKET_STATUS_REOPENED', statusName('TICKET_STATUS_REOPENED')],
    ['TICKET_STATUS_RESOLVED', statusName('TICKET_STATUS_RESOLVED')]].map(([v, n]) => el('option', { value: v }, n)));
  const matter = el('select', { id: 'filter-matter' }, el('option', { value: '' }, t('allMatters')),
    Object.entries(names.matters).map(([code, name]) => el('option', { value: code }, name)));
  const overdueOnly = el('input', { type: 'checkbox', id: 'filter-overdue' });
  const supervised = el('input', { type: 'checkbox', id: 'filter-supervised' });
  const load = async () => {
    const resp = await api('ResponseService', 'ListInbox', { department_id: s.org_unit, page_size: 100, category: matter.value,
      statuses: status.value ? [status.value] : [], overdue_only: overdueOnly.checked, min_escalation_level: supervised.checked ? 1 : 0 });
    list.replaceChildren(table([t('number'), t('title'), t('status'), t('deadline'), t('level'), t('description')],
      (resp.items || []).map((it) => el('tr', { dataset: { ticket: it.ticket_id } },
        el('td', {}, el('a', { href: '#/ticket/' + it.ticket_id }, it.ticket_number)),
        el('td', {}, it.title || matterName(it.category)),
        el('td', { dataset: { status: it.status } }, statusName(it.status)),
        el('td', {}, countdown(it.status === 'TICKET_STATUS_DISPATCHED' ? it.accept_due : it.resolve_due)),
        el('td', {}, it.escalation_level ? el('span', { className: 'level' }, t('supervision') + it.escalation_level) : ''),
        el('td', { className: 'desc' }, it.description))), 'inbox'));
  };
  for (const f of [status, matter, overdueOnly, supervised]) f.addEventListener('change', () => load().catch(showError));
  box.append(el('h1', {}, t('inbox'), ' · ', unitName(s.org_unit)),
    el('div', { className: 'controls' }, status, matter, el('label', {}, overdueOnly, ' ', t('overdueOnly')),
      el('label', {}, supervised, ' ', t('supervisedOnly')),
      el('button', { type: 'button', id: 'refresh', onclick: () => load().catch(showError) }, t('refresh'))), list);
  await load();
  if (box.isConnected) timer = setInterval(() => load().catch(showError), 5000);
}

async function ticketView(id, box) {
  const s = session.get();
  const { item } = await api('ResponseService', 'GetInboxItem', { ticket_id: id });
  const actor = { id: s.name, org_unit_id: s.org_unit };
  const act = async (method, body, done) => {
    try { await api('ResponseService', method, { ticket_id: id, actor, request_id: crypto.randomUUID(), ...body }); showError(null); done(); }
    catch (err) { showError(err); }
  };
  const status = el('p', { id: 'ticket-status', dataset: { status: item.status } }, statusName(item.status));
  box.append(el('h1', {}, item.ticket_number, ' · ', item.title || item.category), status,
    el('p', { className: 'desc', id: 'ticket-description' }, item.description),
    el('p', {}, t('deadline'), ': ', countdown(item.status === 'TICKET_STATUS_DISPATCHED' ? item.accept_due : item.resolve_due)));
  if ((item.assists || []).length) {
    box.append(el('h2', {}, t('assists')), table([t('department'), t('status')],
      item.assists.map((a) => el('tr', {}, el('td', {}, a.department_id), el('td', {}, a.reported ? t('reported') : t('waiting'))))));
  }
  if (item.status === 'TICKET_STATUS_DISPATCHED') {
    box.append(el('button', { type: 'button', className: 'primary', id: 'accept',
      onclick: () => act('Accept', {}, () => route()) }, t('accept')));
  }
  if (item.status === 'TICKET_STATUS_ACCEPTED' || item.status === 'TICKET_STATUS_REOPENED') {
    const result = el('textarea', { id: 'result', placeholder: t('resultPlaceholder') });
    const photo = el('input', { type: 'file', id: 'photo', accept: 'image/*', capture: 'environment' });
    box.append(el('h2', {}, t('resolve')), result, el('div', { className: 'controls' }, photo,
      el('button', { type: 'button', className: 'primary', id: 'resolve', onclick: async () => {
        try { await act('Resolve', { result: result.value, evidence: await uploadAll(photo, s) }, () => route()); } catch (err) { showError(err); }
      } }, t('resolve'))));
  }
  if (['TICKET_STATUS_DISPATCHED', 'TICKET_STATUS_ACCEPTED', 'TICKET_STATUS_REOPENED'].includes(item.status)) {
    const note = el('textarea', { id: 'progress-note', placeholder: t('progressPlaceholder') });
    const progressPhoto = el('input', { type: 'file', id: 'progress-photo', accept: 'image/*', capture: 'environment' });
    const reason = el('select', { id: 'return-reason' }, ['NOT_OUR_JURISDICTION', 'UNCLEAR_OWNERSHIP', 'OVERLAPPING_DUTIES', 'INSUFFICIENT_INFORMATION']
      .map((r) => el('option', { value: 'RETURN_REASON_' + r }, t('reason_' + r))));
    const due = el('input', { type: 'datetime-local', id: 'extension-due' });
    box.append(el('h2', {}, t('moreActions')), note, el('div', { className: 'controls' },
      progressPhoto, el('button', { type: 'button', id: 'progress', onclick: async () => {
        try { await act('AddProgress', { note: note.value, attachments: await uploadAll(progressPhoto, s) }, () => route()); } catch (err) { showError(err); }
      } }, t('addProgress')),
      el('button', { type: 'button', id: 'extension', onclick: () => act('RequestExtension',
        { requested_resolve_due: due.value ? new Date(due.value).toISOString() : '', reason: note.value }, () => route()) }, t('askExtension')), due,
      reason, el('button', { type: 'button', id: 'return', onclick: () => act('Return', { reason_code: reason.value, note: note.value }, () => route()) },
        t('returnIt'))));
  }
  const media = await api('IntakeService', 'ListMedia', { ticket: id }).catch(() => ({}));
  if ((media.media || []).length) {
    const photos = el('div', { className: 'photos', id: 'photos' });
    box.append(el('h2', {}, t('photos')), photos);
    for (const m of media.media) {
      const resp = await fetch('media/' + encodeURIComponent(m.id), { headers: { Authorization: 'Bearer ' + s.token } });
      if (!resp.ok) continue;
      photos.append(el('figure', {}, el('img', { src: URL.createObjectURL(await resp.blob()), alt: m.name, dataset: { media: m.id } }),
        el('figcaption', {}, m.name)));
    }
  }
  const tl = await api('MonitoringService', 'GetTimeline', { ticket_id: id }).catch(() => ({ entries: [] }));
  box.append(el('h2', {}, t('timeline')), el('ol', { className: 'timeline', id: 'timeline' }, (tl.entries || []).map((e) =>
    el('li', {}, el('time', {}, fmtTime(e.occurred_at)), `${e.event_type}: ${e.summary || ''}`))));
}

document.getElementById('lang').addEventListener('click', () => { setLang(lang() === 'zh' ? 'en' : 'zh'); route(); });
document.getElementById('signout').addEventListener('click', () => { session.clear(); location.hash = '#/login'; route(); });
window.addEventListener('hashchange', route);
route();
