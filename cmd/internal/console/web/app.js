// Whistle's web console: a client of the gRPC APIs through the console's
// JSON layer (/api/v1/<Service>/<Method>). Every text that comes from the
// API is written with textContent, never as HTML. This file routes between
// the views (leader.js, handler.js) and signs people in.
import { t, setLang, lang, roleName } from './i18n.js';
import { el, session, showError, loadNames, names, live, nav } from './core.js';
import { leaderView, boardView, hotSpotsView, mapView, reportView } from './leader.js';
import { inboxView, ticketView } from './handler.js';

const main = document.getElementById('view');

const views = { login: loginView, leader: leaderView, board: boardView, hotspots: hotSpotsView, map: mapView, report: reportView,
  inbox: inboxView, ticket: ticketView };

async function route() {
  clearInterval(live.timer);
  live.stream?.abort();
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
  if (arg === 'oidc' && await finishCitySignIn()) return;
  box.append(el('h1', {}, t('signIn')));
  const { users, oidc } = await (await fetch('session/users')).json();
  if (oidc) {
    // The console's server runs the sign-in with the city's identity
    // provider (GET login … login/callback) and keeps the token it mints
    // for this browser; the page picks it up once, from a POST's body.
    box.append(el('div', { className: 'controls' }, el('button', {
      type: 'button', className: 'primary', id: 'oidc-signin', onclick: () => { location.assign('login'); },
    }, t('cityAccount'))));
  }
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

// finishCitySignIn picks up the token the console minted at the end of a
// sign-in with the city's identity provider (its server set a one-time,
// HttpOnly cookie for POST session/oidc), and opens the user's first page.
async function finishCitySignIn() {
  const resp = await fetch('session/oidc', { method: 'POST' });
  const data = await resp.json().catch(() => ({}));
  history.replaceState(null, '', '#/login');
  if (!resp.ok) { showError(`${t('cityNotFinished')} (${data.message || resp.statusText})`); return false; }
  session.set(data);
  location.hash = isHandler(data) ? '#/inbox' : '#/leader';
  return true;
}

document.getElementById('lang').addEventListener('click', () => { setLang(lang() === 'zh' ? 'en' : 'zh'); route(); });
document.getElementById('signout').addEventListener('click', () => { session.clear(); location.hash = '#/login'; route(); });
nav.route = route;
window.addEventListener('hashchange', route);
route();

