// The missed calls to win back: the range's worklist, a page at a time, each
// with a Call back button that schedules a follow-up.
import { api } from './api.js';
import { $, duration, el, number, plainError, when } from './format.js';
import { loadScheduled } from './calls.js';
import { outcomeInfo } from './labels.js';
import { current, panel, setState } from './panel.js';
import { agentName, state, windowQuery } from './state.js';

export async function loadMissed(quiet, more) {
  const { query } = windowQuery();
  const q = new URLSearchParams(query);
  q.set('limit', '10');
  if (more && state.missedCursor) q.set('cursor', state.missedCursor);
  return panel('missed', async (g) => { const result = await api(`/api/analytics/missed?${q}`); if (current(g)) renderMissed(result, more); }, quiet || more);
}

function renderMissed(result, more) {
  const list = $('missed-rows');
  if (!more) list.replaceChildren();
  $('missed-caption').textContent = `${number.format(result.notReturned)} of ${number.format(result.missed)} missed inbound calls in this range wait to be returned (no later call with the number connected).`;
  state.missedCursor = result.nextCursor;
  $('missed-more').hidden = !result.nextCursor;
  for (const call of result.calls) {
    const status = el('span', { class: 'form-status', role: 'status' });
    // A withheld caller's label or an erased number's token cannot be dialed: nothing to call back.
    const dialable = /^\+[1-9][0-9]{6,14}$/.test(call.phoneNumber);
    const back = dialable
      ? el('button', { type: 'button', class: 'primary', 'aria-label': `Call ${call.phoneNumber} back` }, 'Call back')
      : el('span', { class: 'no-callback', text: 'No number to call back' });
    if (dialable) {
      back.addEventListener('click', () => callBack(call, back, status));
      showCallBack(call.phoneNumber, back, status);
    }
    const what = [call.customerName, call.phoneNumber, agentName(call.voiceAgentId), outcomeInfo(call.outcome)[1], call.duration != null ? duration(call.duration) : null].filter(Boolean).join(' · ');
    list.append(el('li', { 'data-call-id': call.id, 'data-phone': call.phoneNumber }, el('span', { class: 'when', text: when(call.callStartedAt) }), el('span', { class: 'who', text: what }), back, status));
  }
  setState('missed', list.children.length ? 'ready' : 'empty');
}

// What the page knows of a call back for `number` (asked, or scheduled), shown on its row: the button
// stays pressed until the call exists, and a refresh of the list does not re-arm it.
function showCallBack(number, button, status) {
  const known = state.callBacks.get(number);
  if (!known) return;
  button.disabled = true;
  button.textContent = known.pending ? 'Scheduling…' : 'Call back waiting';
  status.className = known.pending ? 'form-status' : 'form-status ok';
  status.textContent = known.pending ? '' : `Call back ${known.existing ? 'already waits' : 'scheduled'} for ${when(known.scheduledAt)}.`;
}

// A call back is a scheduled call like any other: every rule of the outbound path applies, and a refusal says which.
async function callBack(call, button, status) {
  const own = state.agents.find((a) => a.id === call.voiceAgentId && !a.importedFrom);
  const agent = own || state.agents.find((a) => !a.importedFrom);
  const number = call.phoneNumber;
  if (state.callBacks.has(number)) return;
  state.callBacks.set(number, { pending: true });
  showCallBack(number, button, status);
  try {
    const body = {
      phoneNumber: number, callType: 'OUTBOUND_FOLLOWUP', scheduledAt: new Date(Date.now() + 2 * 60 * 1000).toISOString(),
      voiceAgentId: agent?.id, purpose: 'Returning a missed call', moveToCallingHours: true,
    };
    if (call.customerName) body.customerName = call.customerName;
    const placed = await api('/api/outbound/schedule', { method: 'POST', body: JSON.stringify(body) });
    state.callBacks.set(number, { scheduledAt: placed.scheduledAt });
    await loadScheduled(true);
  } catch (err) {
    if (err.code === 'duplicate_call' && err.details?.existingScheduledAt) {
      // A call back pressed again (here or elsewhere): the one waiting stands.
      state.callBacks.set(number, { scheduledAt: err.details.existingScheduledAt, existing: true });
    } else {
      state.callBacks.delete(number);
      button.disabled = false;
      button.textContent = 'Call back';
      status.className = 'form-status error';
      status.textContent = plainError(err);
      return;
    }
  }
  // Every row of the number shows it (the list may have been redrawn meanwhile).
  for (const row of document.querySelectorAll(`#missed-rows li[data-phone="${CSS.escape(number)}"]`)) {
    const rowButton = row.querySelector('button');
    if (rowButton) showCallBack(number, rowButton, row.querySelector('.form-status'));
  }
}
