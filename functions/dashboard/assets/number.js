// A patient's number looked up: its consents (record one, revoke one), its
// do-not-call state and history, its last calls, and the patient's records
// exported or erased (admins).
import { api, apiFile } from './api.js';
import { showCall } from './detail.js';
import { CHANNELS, dncHistory, dncState, isListed, numberPath } from './dnc.js';
import { $, el, plainError, save, when } from './format.js';
import { basisLabel, basisOptions, callTypeLabel, outcomeInfo, statusLabel } from './labels.js';
import { state } from './state.js';

export async function showNumber(number) {
  const box = $('number');
  const body = $('number-body');
  box.dataset.state = 'loading';
  try {
    const [consents, history, recent, registries] = await Promise.all([
      api(`/api/consents?phoneNumber=${encodeURIComponent(number)}`), dncHistory(number), api(`/api/analytics/calls/recent?limit=10&content=false&phoneNumber=${encodeURIComponent(number)}`),
      registryCheck(number)]);
    const calls = (recent.calls || []).map((c) => el('li', { 'data-call': c.id },
      el('button', { type: 'button', class: 'link', onclick: () => showCall(c.id) }, `${when(c.callStartedAt || c.createdAt)} · ${callTypeLabel(c.callType) || c.callType} · ${statusLabel(c.status) || c.status}${c.outcome ? ` · ${outcomeInfo(c.outcome)[1]}` : ''}`)));
    const rows = (consents.consents || []).map((c) => el('li', { 'data-consent': c.id, class: c.revoked ? 'revoked' : 'active' },
      el('span', { text: `${basisLabel(c.basis) || c.basis} · ${c.source} · captured ${when(c.capturedAt)}${c.scope.length ? ` · ${c.scope.join(', ')}` : ''}${rndText(c.rnd)}` }),
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
      el('p', { class: 'meta dnc-state', text: dncState(history) }),
      dncForm(number, isListed(history)),
      el('h4', { text: 'Consents' }), rows.length ? el('ul', { class: 'consent-list', id: 'consent-rows' }, ...rows) : el('p', { class: 'meta', id: 'consent-rows', text: 'No consent on record: no outbound call can be placed.' }),
      form,
      el('h4', { text: 'Do-not-call registries' }), registries,
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

// What the Reassigned Numbers Database said of a consent's number, when the dialer asked it.
const RND = { yes: 'reassigned since: this consent covers no call', no: 'still the patient\'s', no_data: 'no data' };
const rndText = (rnd) => (rnd ? ` · reassigned-numbers check ${when(rnd.checkedAt)}: ${RND[rnd.result] || rnd.result}` : '');

// What each do-not-call registry that holds a marketing call to the number says, from the practice's copies.
async function registryCheck(number) {
  const agent = state.agents.find((a) => !a.importedFrom);
  if (!agent) return el('p', { class: 'meta', id: 'number-registries', text: 'Set up a voice agent to see what the registries say.' });
  try {
    const check = await api(`/api/compliance/check?phoneNumber=${encodeURIComponent(number)}&callType=OUTBOUND_CAMPAIGN&voiceAgentId=${encodeURIComponent(agent.id)}`);
    const name = (r) => (r.name === 'national' ? 'National Do Not Call Registry' : `${r.name} state list`);
    const kept = (check.registries || []).filter((r) => r.asOf);
    if (!kept.length) return el('p', { class: 'meta', id: 'number-registries', text: 'No registry copy imported: marketing calls rest on written consent alone.' });
    return el('ul', { class: 'history-list', id: 'number-registries' }, ...kept.map((r) => el('li', { 'data-registry': r.name, 'data-listed': String(r.listed),
      text: `${name(r)}: ${r.listed ? 'listed — marketing calls need written consent or a current relationship' : 'not listed'} (copy of ${r.asOf})` })));
  } catch (err) {
    return el('p', { class: 'meta', id: 'number-registries', text: `Could not check the registries: ${plainError(err)}` });
  }
}

const saving = (status) => { status.className = 'form-status'; status.textContent = 'Saving…'; };

// A patient who asks not to be called (by phone, text, letter, at the desk) goes on the list at once: every
// consent of the number is revoked and every call waiting for it cancelled. Taking a number off needs a reason.
function dncForm(number, listed) {
  const status = el('p', { class: 'form-status', id: 'dnc-status', role: 'status' });
  if (listed) {
    return el('form', { class: 'dnc-form', id: 'dnc-form', onsubmit: (e) => removeFromList(e, number, status) },
      el('label', {}, 'Why it comes off ', el('input', { name: 'reason', type: 'text', required: true, placeholder: 'Patient asked to be called again' })),
      el('button', { type: 'submit' }, 'Take off the do-not-call list'), status);
  }
  return el('form', { class: 'dnc-form', id: 'dnc-form', onsubmit: (e) => addToList(e, number, status) },
    el('label', {}, 'How they asked ', el('select', { name: 'channel' }, ...Object.entries(CHANNELS).filter(([k]) => k !== 'api').map(([k, v]) => el('option', { value: k }, v)))),
    el('label', {}, 'Details ', el('input', { name: 'source', type: 'text', placeholder: 'Phoned the front desk' })),
    el('button', { type: 'submit', class: 'danger' }, 'Add to the do-not-call list'), status);
}

async function addToList(event, number, status) {
  event.preventDefault();
  saving(status);
  const data = new FormData(event.target);
  const source = (data.get('source') || '').toString().trim();
  try {
    const done = await api('/api/dnc', { method: 'POST', body: JSON.stringify({ phoneNumber: number, channel: data.get('channel'), source: source || undefined }) });
    await showNumber(number);
    const after = $('dnc-status');
    after.className = 'form-status ok';
    after.textContent = `On the list. ${done.cancelledCalls} waiting ${done.cancelledCalls === 1 ? 'call' : 'calls'} cancelled, ${done.revokedConsents} ${done.revokedConsents === 1 ? 'consent' : 'consents'} revoked.`;
  } catch (err) {
    status.className = 'form-status error';
    status.textContent = plainError(err);
  }
}

async function removeFromList(event, number, status) {
  event.preventDefault();
  saving(status);
  const reason = (new FormData(event.target).get('reason') || '').toString().trim();
  try {
    await api(`/api/dnc/${numberPath(number)}?reason=${encodeURIComponent(reason)}`, { method: 'DELETE' });
    await showNumber(number);
    const after = $('dnc-status');
    after.className = 'form-status ok';
    after.textContent = 'Taken off the list. Its consents stay revoked: record a new one before calling.';
  } catch (err) {
    status.className = 'form-status error';
    status.textContent = plainError(err);
  }
}

// Consents from another system: a CSV with phoneNumber, basis, source and, if it has them, scope, capturedAt, expiresAt.
export async function importConsents(event) {
  event.preventDefault();
  const form = event.target;
  const status = $('import-status');
  const file = form.elements.file.files[0];
  const result = $('import-result');
  result.replaceChildren();
  if (!file) {
    status.className = 'form-status error';
    status.textContent = 'Choose the CSV file of consents.';
    return;
  }
  saving(status);
  try {
    const done = await api('/api/consents/import', { method: 'POST', body: await file.text(), contentType: 'text/csv' });
    status.className = 'form-status ok';
    status.textContent = `${done.accepted} ${done.accepted === 1 ? 'consent' : 'consents'} recorded${done.rejected.length ? `, ${done.rejected.length} ${done.rejected.length === 1 ? 'row' : 'rows'} refused (below)` : ''}.`;
    if (done.rejected.length) {
      result.replaceChildren(el('table', { class: 'rows-table', id: 'import-rows-table' },
        el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'Row' }), el('th', { scope: 'col', text: 'Why' }))),
        el('tbody', {}, ...done.rejected.map((r) => el('tr', { 'data-row': r.row, 'data-code': r.code }, el('td', { text: String(r.row) }), el('td', { text: plainError({ code: r.code, message: r.message }) }))))));
    }
    form.reset();
  } catch (err) {
    status.className = 'form-status error';
    status.textContent = plainError(err);
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
