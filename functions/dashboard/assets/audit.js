// The audit log (admins): read on demand, as each read is itself an entry;
// filtered by kind of record, record and who, older entries a page at a time.
import { api } from './api.js';
import { $, el, plainError, when } from './format.js';

export const ENTITY_TYPES = ['call', 'campaign', 'agent', 'tenant', 'consent', 'number', 'patient'];
const audit = { cursor: null };

// An id or a subject's pseudonym: there for whoever needs to match it, behind a toggle for whoever reads the log.
const idToggle = (id) => (id ? el('details', { class: 'id-toggle' }, el('summary', { text: 'id' }), el('code', { text: id })) : null);

export async function loadAudit(more) {
  const box = $('audit');
  const form = $('audit-form');
  const q = new URLSearchParams({ limit: '25' });
  for (const name of ['entityType', 'entityId', 'actor']) {
    const value = (form.elements[name].value || '').trim();
    if (value) q.set(name, value);
  }
  if (more && audit.cursor) q.set('cursor', audit.cursor);
  if (!more) box.dataset.state = 'loading';
  try {
    const page = await api(`/api/audit?${q}`);
    const rows = page.entries.map((e) => el('tr', { 'data-action': e.action },
      el('td', { 'data-label': 'When', text: when(e.at) }), el('td', { 'data-label': 'Who' }, e.actor.name || 'a user', idToggle(e.actor.sub)), el('td', { 'data-label': 'Action', text: e.action }),
      el('td', { 'data-label': 'Record' }, e.entityType, idToggle(e.entityId)), el('td', { 'data-label': 'Fields', text: Object.keys(e.changes || {}).join(', ') }),
      el('td', { 'data-label': 'From', text: [e.sourceIp, e.userAgent].filter(Boolean).join(' · ') })));
    const body = $('audit-rows');
    if (more) body.append(...rows); else body.replaceChildren(...rows);
    audit.cursor = page.nextCursor;
    $('audit-more').hidden = !page.nextCursor;
    box.dataset.state = body.children.length ? 'ready' : 'empty';
  } catch (err) {
    box.dataset.state = 'error';
    box.querySelector('.error-note').textContent = err.status === 403 ? 'Only a practice admin may read the audit log.' : `Could not load the audit log: ${plainError(err)}`;
  }
}
