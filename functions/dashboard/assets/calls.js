// Recent calls (ten to a page, newer and older by cursor; a row opens the
// call), the range's calls exported as one CSV file, and the scheduled
// outbound calls, each moved to a new time or cancelled with two clicks.
import { api, apiFile } from './api.js';
import { $, cents, confirmed, duration, el, localDate, plainError, save, shownNumber, when } from './format.js';
import { showCall } from './detail.js';
import { callTypeLabel, outcomeBadge, statusBadge } from './labels.js';
import { banner, current, panel, setState } from './panel.js';
import { PAGE_SIZE, agentName, state, windowQuery } from './state.js';

export async function loadRecent(quiet) {
  const { query } = windowQuery();
  const q = new URLSearchParams(query);
  q.set('limit', String(PAGE_SIZE));
  // A list shows facts: it asks for no content, so it reads none and the audit log has nothing to say of it.
  q.set('content', 'false');
  const cursor = state.cursors[state.page];
  if (cursor) q.set('cursor', cursor);
  return panel('recent', async (g) => { const result = await api(`/api/analytics/calls/recent?${q}`); if (current(g)) renderRecent(result); }, quiet);
}

function renderRecent(result) {
  const rows = $('recent-rows');
  rows.replaceChildren();
  state.cursors[state.page + 1] = result.nextCursor;
  $('newer').disabled = state.page === 0;
  $('older').disabled = !result.nextCursor;
  $('page-label').textContent = `Page ${state.page + 1}`;
  if (result.calls.length === 0) { setState('recent', 'empty'); return; }
  for (const call of result.calls) {
    const open = () => showCall(call.id);
    rows.append(el('tr', { tabindex: '0', 'data-call-id': call.id, onclick: open, onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); } } },
      el('td', { text: when(call.callStartedAt || call.createdAt) }),
      el('td', { class: 'hide-narrow', text: agentName(call.voiceAgentId) }),
      el('td', { class: 'who-cell', text: [call.customerName, shownNumber(call.phoneNumber)].filter(Boolean).join(' · ') }),
      el('td', { class: 'hide-narrow', text: callTypeLabel(call.callType) || call.callType }),
      el('td', { class: 'hide-narrow' }, statusBadge(call.status)),
      el('td', {}, outcomeBadge(call.outcome)),
      el('td', { class: 'num hide-narrow', text: duration(call.duration) }),
      el('td', { class: 'num', text: cents(call.costCents) })));
  }
  setState('recent', 'ready');
}

// The calls of the range as one CSV file: the API answers a part at a time (X-Next-Cursor), each part is appended as it comes.
export async function exportCalls() {
  const button = $('export-calls');
  const { query, from, to } = windowQuery();
  const parts = [];
  let cursor = null;
  button.disabled = true;
  try {
    do {
      const q = new URLSearchParams(query);
      q.set('format', 'csv');
      q.set('content', 'false');
      if (cursor) q.set('cursor', cursor);
      button.textContent = `Exporting… ${parts.length ? `part ${parts.length + 1}` : ''}`;
      const res = await apiFile(`/api/calls/export?${q}`);
      parts.push(await res.blob());
      cursor = res.headers.get('X-Next-Cursor');
    } while (cursor);
    save(URL.createObjectURL(new Blob(parts, { type: 'text/csv' })), `calls-${from}-to-${to}.csv`);
  } catch (err) {
    banner(`Could not export the calls: ${plainError(err)}`);
  } finally {
    button.disabled = false;
    button.textContent = 'Export CSV';
  }
}

export async function loadScheduled(quiet) {
  // A call being moved keeps its form: the refresh waits.
  if (quiet && state.movingCall) return true;
  const q = new URLSearchParams({ limit: '20' });
  if (state.agentId) q.set('agentId', state.agentId);
  return panel('scheduled', async (g) => { const result = await api(`/api/outbound/scheduled?${q}`); if (current(g)) renderScheduled(result); }, quiet);
}

function renderScheduled(result) {
  const list = $('scheduled-rows');
  list.replaceChildren();
  if (result.calls.length === 0) { setState('scheduled', 'empty'); return; }
  for (const call of result.calls) {
    const cancel = el('button', { type: 'button', class: 'danger', 'aria-label': `Cancel the call to ${call.phoneNumber}` }, 'Cancel');
    cancel.addEventListener('click', () => cancelCall(call, cancel));
    const move = el('button', { type: 'button', 'aria-label': `Move the call to ${call.phoneNumber}` }, 'Move');
    const row = el('li', { 'data-call-id': call.id, 'data-phone': call.phoneNumber });
    move.addEventListener('click', () => moveForm(call, row));
    const who = [call.customerName, call.phoneNumber, callTypeLabel(call.callType), agentName(call.voiceAgentId), call.callPurpose].filter(Boolean).join(' · ');
    row.append(el('span', { class: 'when', text: when(call.scheduledAt) }), el('span', { class: 'who', text: who }), el('span', { class: 'row-actions' }, move, cancel));
    list.append(row);
  }
  setState('scheduled', 'ready');
}

// A new time for a waiting call: the rules weigh it as they weighed the first, and a time outside the callee's
// hours moves to the next opening. The list is not refreshed while the form is open.
function moveForm(call, row) {
  if (row.querySelector('form')) return;
  state.movingCall = call.id;
  const at = new Date(call.scheduledAt);
  const local = `${localDate(at)}T${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}`;
  const status = el('span', { class: 'form-status', role: 'status' });
  const form = el('form', { class: 'move-form' },
    el('label', {}, 'New time ', el('input', { type: 'datetime-local', name: 'scheduledAt', value: local, required: true })),
    el('button', { type: 'submit', class: 'primary' }, 'Save'),
    el('button', { type: 'button', onclick: () => { form.remove(); state.movingCall = null; } }, 'Keep'), status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const body = { scheduledAt: new Date(form.elements.scheduledAt.value).toISOString(), moveToCallingHours: true };
      await api(`/api/outbound/scheduled/${encodeURIComponent(call.id)}`, { method: 'PATCH', body: JSON.stringify(body) });
      state.movingCall = null;
      await loadScheduled();
    } catch (err) {
      status.className = 'form-status error';
      status.textContent = plainError(err);
    }
  });
  row.append(form);
  form.elements.scheduledAt.focus();
}

// Two clicks to cancel: the first arms the button for a few seconds.
async function cancelCall(call, button) {
  if (!confirmed(button, 'Confirm cancel')) return;
  button.disabled = true;
  try {
    await api(`/api/outbound/scheduled/${encodeURIComponent(call.id)}`, { method: 'DELETE' });
    await loadScheduled();
  } catch (err) {
    banner(`Could not cancel the call to ${call.phoneNumber}: ${plainError(err)}`);
    button.disabled = false;
  }
}
