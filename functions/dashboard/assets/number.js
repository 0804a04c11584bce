// A patient's number looked up: its consents (record one, revoke one), its
// do-not-call state and history, its last calls, and the patient's records
// exported or erased (admins).
import { api, apiFile } from './api.js';
import { showCall } from './detail.js';
import { dncHistory, dncState, numberPath } from './dnc.js';
import { $, el, plainError, save, when } from './format.js';
import { basisLabel, basisOptions, callTypeLabel, outcomeInfo, statusLabel } from './labels.js';

export async function showNumber(number) {
  const box = $('number');
  const body = $('number-body');
  box.dataset.state = 'loading';
  try {
    const [consents, history, recent] = await Promise.all([
      api(`/api/consents?phoneNumber=${encodeURIComponent(number)}`), dncHistory(number), api(`/api/analytics/calls/recent?limit=10&content=false&phoneNumber=${encodeURIComponent(number)}`)]);
    const calls = (recent.calls || []).map((c) => el('li', { 'data-call': c.id },
      el('button', { type: 'button', class: 'link', onclick: () => showCall(c.id) }, `${when(c.callStartedAt || c.createdAt)} · ${callTypeLabel(c.callType) || c.callType} · ${statusLabel(c.status) || c.status}${c.outcome ? ` · ${outcomeInfo(c.outcome)[1]}` : ''}`)));
    const rows = (consents.consents || []).map((c) => el('li', { 'data-consent': c.id, class: c.revoked ? 'revoked' : 'active' },
      el('span', { text: `${basisLabel(c.basis) || c.basis} · ${c.source} · captured ${when(c.capturedAt)}${c.scope.length ? ` · ${c.scope.join(', ')}` : ''}` }),
      c.revoked
        ? el('span', { class: 'meta', text: ` — revoked ${when(c.revoked.at)} (${c.revoked.channel}${c.revoked.reason ? `, ${c.revoked.reason}` : ''})` })
        : el('button', { type: 'button', class: 'revoke', onclick: () => revokeConsent(number, c.id) }, 'Revoke')));
    const changes = history.map((h) => el('li', { text: `${when(h.at)} · ${h.action} · ${[h.channel, h.source, h.reason].filter(Boolean).join(' · ')} · by ${h.by.name || h.by.sub}` }));
    const form = el('form', { class: 'consent-form', id: 'consent-form', onsubmit: (e) => recordConsent(e, number) },
      el('label', {}, 'Basis ', el('select', { name: 'basis' }, ...basisOptions().map(([k, v]) => el('option', { value: k }, v)))),
      el('label', {}, 'Source ', el('input', { name: 'source', type: 'text', required: true, placeholder: 'New-patient intake form' })),
      el('button', { type: 'submit' }, 'Record consent'),
      el('p', { class: 'form-status', id: 'consent-status', role: 'status' }));
    body.replaceChildren(
      el('h3', { text: number }),
      el('p', { class: 'meta dnc-state', text: await dncState(number) }),
      el('h4', { text: 'Consents' }), rows.length ? el('ul', { class: 'consent-list', id: 'consent-rows' }, ...rows) : el('p', { class: 'meta', id: 'consent-rows', text: 'No consent on record: no outbound call can be placed.' }),
      form,
      el('h4', { text: 'Do-not-call history' }), changes.length ? el('ul', { class: 'history-list' }, ...changes) : el('p', { class: 'meta', text: 'Never on the list.' }),
      el('h4', { text: 'Last calls' }), calls.length ? el('ul', { class: 'history-list', id: 'number-calls' }, ...calls) : el('p', { class: 'meta', id: 'number-calls', text: 'No calls yet.' }),
      el('h4', { text: "The patient's records (admins)" }),
      el('div', { class: 'record-actions' },
        el('button', { type: 'button', id: 'export-json', onclick: () => exportRecords(number, 'json') }, 'Export JSON'),
        el('button', { type: 'button', id: 'export-csv', onclick: () => exportRecords(number, 'csv') }, 'Export CSV'),
        el('button', { type: 'button', id: 'erase-records', class: 'danger', onclick: () => eraseRecords(number) }, 'Erase records')),
      el('p', { class: 'form-status', id: 'records-status', role: 'status' }));
    box.dataset.state = 'ready';
  } catch (err) {
    box.dataset.state = 'error';
    box.querySelector('.error-note').textContent = `Could not look this number up: ${plainError(err)}`;
  }
}

async function recordConsent(event, number) {
  event.preventDefault();
  const data = new FormData(event.target);
  const status = $('consent-status');
  try {
    await api('/api/consents', { method: 'POST', body: JSON.stringify({ phoneNumber: number, basis: data.get('basis'), source: (data.get('source') || '').toString().trim() }) });
    await showNumber(number);
  } catch (err) {
    status.className = 'form-status error';
    status.textContent = plainError(err);
  }
}

async function revokeConsent(number, id) {
  try {
    await api(`/api/consents/${encodeURIComponent(id)}/revoke`, { method: 'POST', body: JSON.stringify({ channel: 'staff', reason: 'revoked at the front desk' }) });
  } finally {
    await showNumber(number);
  }
}

// A patient's own copy: the file comes with the page's token, then is handed to the browser to save.
async function exportRecords(number, format) {
  const status = $('records-status');
  try {
    const res = await apiFile(`/api/patients/${numberPath(number)}/export?format=${format}`);
    save(URL.createObjectURL(await res.blob()), `patient-${number.replace(/\D/g, '')}.${format}`);
    status.className = 'form-status';
    status.textContent = `Exported as ${format.toUpperCase()}.`;
  } catch (err) {
    status.className = 'form-status error';
    status.textContent = plainError(err);
  }
}

async function eraseRecords(number) {
  const status = $('records-status');
  if (!window.confirm(`Erase every call of ${number}? Transcripts, summaries and recordings go, and the calls keep no number. Consents and the do-not-call entry stay.`)) return;
  try {
    const done = await api(`/api/patients/${numberPath(number)}`, { method: 'DELETE' });
    await showNumber(number);
    const after = $('records-status');
    after.className = 'form-status';
    after.textContent = `Erased ${done.erasedCalls} calls${done.cancelledCalls ? ` (${done.cancelledCalls} waiting, cancelled)` : ''}.`;
  } catch (err) {
    status.className = 'form-status error';
    status.textContent = plainError(err);
  }
}
