// The console's plumbing: the session, calls to the API, names from the
// catalog, and DOM helpers that write every string as text.
import { t, lang } from './i18n.js';

const errorBox = document.getElementById('error');

// live is what the current view keeps running: its refresh timer and its event stream.
export const live = { timer: 0, stream: null };
// nav.route redraws the current view (set by app.js).
export const nav = { route: () => {} };

// ---- session: the bearer token lives in this tab only (sessionStorage), sent as a header, never a cookie.
export const session = {
  get() { try { return JSON.parse(sessionStorage.getItem('whistle.session')); } catch { return null; } },
  set(s) { sessionStorage.setItem('whistle.session', JSON.stringify(s)); },
  clear() { sessionStorage.removeItem('whistle.session'); },
};

export async function api(service, method, body = {}) {
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

export async function upload(file, s) {
  const q = new URLSearchParams({ name: file.name, actor_id: s.name, org_unit_id: s.org_unit });
  const resp = await fetch('media?' + q, { method: 'POST', headers: { Authorization: 'Bearer ' + s.token }, body: file });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(data.message || resp.statusText);
  return data.media;
}

// uploadAll uploads a file input's photos and returns them as attachments.
export async function uploadAll(input, s) {
  const out = [];
  for (const f of input.files) {
    const m = await upload(f, s);
    out.push({ name: m.name, size_bytes: m.size_bytes, sha256: m.sha256, media_id: m.id });
  }
  return out;
}

// ---- names of units and matters, from the active catalog (read once a sign-in)
export const names = { units: {}, matters: {}, units_list: [] };
export async function loadNames() {
  const cat = await api('DispatchService', 'GetCatalog', {});
  Object.assign(names, { units: {}, matters: {}, units_list: cat.org_units || [] });
  for (const u of cat.org_units || []) names.units[u.id] = u.name;
  for (const d of cat.departments || []) names.units[d.id] = d.name;
  for (const m of cat.matters || []) names.matters[m.code] = m.name;
}
export const unitName = (id) => (names.units[id] ? `${names.units[id]}` : id);
export const matterName = (code) => names.matters[code] || code;

// ---- small DOM helpers: el('td', {className: 'x'}, 'text', child…) writes strings as text.
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e[k] = v;
  }
  for (const c of children.flat()) if (c != null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

export function showError(err) {
  errorBox.textContent = err ? String(err.message || err) : '';
  errorBox.hidden = !err;
}

export function table(headers, rows, csvName) {
  const tbl = el('table', {}, el('thead', {}, el('tr', {}, headers.map((h) => el('th', {}, h)))),
    el('tbody', {}, rows.length ? rows : [el('tr', {}, el('td', { colSpan: headers.length }, t('none')))]));
  if (!csvName) return tbl;
  return el('div', {}, el('div', { className: 'controls' }, el('button', { type: 'button', className: 'csv',
    onclick: () => downloadCSV(tbl, csvName) }, t('exportCSV'))), tbl);
}

// downloadCSV saves a table's text as CSV (UTF-8 with a BOM, which spreadsheet programs read as UTF-8).
export function downloadCSV(tbl, name) {
  const cell = (c) => '"' + c.textContent.replaceAll('"', '""') + '"';
  const lines = [...tbl.rows].map((r) => [...r.cells].map(cell).join(','));
  const url = URL.createObjectURL(new Blob(['\ufeff' + lines.join('\r\n')], { type: 'text/csv;charset=utf-8' }));
  const a = el('a', { href: url, download: `${name}-${today()}.csv` });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export const pct = (f) => (f && f.denominator > 0 ? (100 * (f.rate || 0)).toFixed(1) + '%' : '—');
export const today = () => new Date().toLocaleDateString('sv'); // YYYY-MM-DD, local

export function fmtTime(ts) { return ts ? new Date(ts).toLocaleString(lang() === 'zh' ? 'zh-CN' : 'en-GB', { hour12: false }) : '—'; }

export function countdown(ts) {
  if (!ts) return el('span', { className: 'due' }, '—');
  const ms = new Date(ts) - Date.now();
  const abs = Math.abs(ms), h = Math.floor(abs / 3.6e6), m = Math.floor((abs % 3.6e6) / 6e4);
  const text = (h ? `${h}${t('hours')}` : '') + `${m}${t('minutes')}`;
  return el('span', { className: 'due' + (ms < 0 ? ' late' : ''), title: fmtTime(ts) }, ms < 0 ? t('overdueBy') + text : t('left') + text);
}
