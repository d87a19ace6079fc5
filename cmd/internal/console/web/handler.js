// The department handlers' views: the inbox and a ticket's page.
import { t, statusName } from './i18n.js';
import { api, el, table, countdown, fmtTime, unitName, matterName, names, session, showError, live, nav, uploadAll } from './core.js';

export async function inboxView(arg, box) {
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
    list.replaceChildren(table([t('number'), t('title2'), t('status'), t('deadline'), t('level'), t('description')],
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
  if (box.isConnected) live.timer = setInterval(() => load().catch(showError), 5000);
}

export async function ticketView(id, box) {
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
      onclick: () => act('Accept', {}, () => nav.route()) }, t('accept')));
  }
  if (item.status === 'TICKET_STATUS_ACCEPTED' || item.status === 'TICKET_STATUS_REOPENED') {
    const result = el('textarea', { id: 'result', placeholder: t('resultPlaceholder') });
    const photo = el('input', { type: 'file', id: 'photo', accept: 'image/*', capture: 'environment' });
    box.append(el('h2', {}, t('resolve')), result, el('div', { className: 'controls' }, photo,
      el('button', { type: 'button', className: 'primary', id: 'resolve', onclick: async () => {
        try { await act('Resolve', { result: result.value, evidence: await uploadAll(photo, s) }, () => nav.route()); } catch (err) { showError(err); }
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
        try { await act('AddProgress', { note: note.value, attachments: await uploadAll(progressPhoto, s) }, () => nav.route()); } catch (err) { showError(err); }
      } }, t('addProgress')),
      el('button', { type: 'button', id: 'extension', onclick: () => act('RequestExtension',
        { requested_resolve_due: due.value ? new Date(due.value).toISOString() : '', reason: note.value }, () => nav.route()) }, t('askExtension')), due,
      reason, el('button', { type: 'button', id: 'return', onclick: () => act('Return', { reason_code: reason.value, note: note.value }, () => nav.route()) },
        t('returnIt'))));
  }
  box.append(...ticketFollower(id, s, box));
}

// ticketFollower draws a ticket's photos and timeline and keeps them
// current while the page shows (evidence is attached to the ticket once
// intake has followed the resolution, a moment after the call returns).
function ticketFollower(id, s, box) {
  const photos = el('div', { className: 'photos', id: 'photos' });
  const photosPart = el('section', { hidden: true }, el('h2', {}, t('photos')), photos);
  const timeline = el('ol', { className: 'timeline', id: 'timeline' });
  const shown = new Set();
  let busy = false, timer = 0;
  const refresh = async () => {
    if (!box.isConnected) { clearInterval(timer); return; }
    if (busy) return;
    busy = true;
    try {
      const media = await api('IntakeService', 'ListMedia', { ticket: id }).catch(() => ({}));
      for (const m of media.media || []) {
        if (shown.has(m.id)) continue;
        const resp = await fetch('media/' + encodeURIComponent(m.id), { headers: { Authorization: 'Bearer ' + s.token } });
        if (!resp.ok) continue;
        shown.add(m.id);
        photos.append(el('figure', {}, el('img', { src: URL.createObjectURL(await resp.blob()), alt: m.name, dataset: { media: m.id } }),
          el('figcaption', {}, m.name)));
      }
      photosPart.hidden = shown.size === 0;
      const tl = await api('MonitoringService', 'GetTimeline', { ticket_id: id }).catch(() => ({ entries: [] }));
      timeline.replaceChildren(...(tl.entries || []).map((e) => el('li', {}, el('time', {}, fmtTime(e.occurred_at)), `${e.event_type}: ${e.summary || ''}`)));
    } finally { busy = false; }
  };
  refresh().catch(showError);
  timer = live.timer = setInterval(() => refresh().catch(showError), 3000);
  return [photosPart, el('h2', {}, t('timeline')), timeline];
}
