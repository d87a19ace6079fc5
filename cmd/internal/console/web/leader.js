// The leaders' views: scorecard, rankings and trends; the live overdue
// board; hot spots; the offline map; the monthly report.
import { t, figureName } from './i18n.js';
import uPlot from './vendor/uPlot.esm.js';
import { api, el, table, pct, today, countdown, fmtTime, unitName, matterName, names, session, showError, live } from './core.js';

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

const FIGURES = ['response_rate', 'resolution_rate', 'on_time_resolution_rate', 'closing_rate', 'stayed_resolved_rate',
  'satisfaction_rate', 'audited_satisfaction_rate', 'rework_rate'];

export async function leaderView(arg, box) {
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
      }),
      ...(sc.satisfaction_gap ? [el('div', { className: 'card warn', id: 'satisfaction-gap' }, t('satisfactionGap'))] : []));
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
  if (box.isConnected) live.timer = setInterval(refresh, 5000); // the figures move as tickets close
}

// boardView: the overdue tickets and the escalations, refreshed as events arrive (no polling).
export async function boardView(arg, box) {
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
  live.stream = ctl;
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

export async function hotSpotsView(arg, box) {
  const s = session.get();
  const resp = await api('MonitoringService', 'ListHotSpots', { org_unit_id: s.org_unit });
  box.append(el('h1', {}, t('hotspots')), table([t('detected'), t('matter'), t('unit'), t('rule'), t('explanation'), t('tickets'), t('proactive')],
    (resp.hot_spots || []).map((h) => el('tr', {}, el('td', {}, fmtTime(h.detected_at)), el('td', {}, matterName(h.category)),
      el('td', {}, unitName(h.org_unit_id)), el('td', {}, h.rule), el('td', { className: 'desc' }, h.explanation),
      el('td', {}, (h.ticket_ids || []).length), el('td', {}, h.proactive_ticket_id || '—'))), 'hotspots'));
}

// mapView draws the grids where the catalog puts them (no map tiles: it works offline), each sized by its open tickets.
export async function mapView(arg, box) {
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
export async function reportView(arg, box) {
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
    if ((top.clusters || []).length) {
      box.append(el('h3', {}, t('clusters')), table([t('matter'), t('unit'), t('observed'), t('pValue'), t('explanation')],
        top.clusters.map((h) => el('tr', {}, el('td', {}, matterName(h.category)), el('td', {}, unitName(h.scan?.centre_grid_id || h.org_unit_id)),
          el('td', {}, `${h.scan?.observed || 0} / ${(h.scan?.expected || 0).toFixed(1)}`), el('td', {}, String(h.scan?.p_value ?? '')),
          el('td', { className: 'desc' }, h.explanation))), 'clusters-' + d.id));
    }
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

