// The missed calls to win back: the range's worklist, a page at a time, each
// with a Call back button that schedules a follow-up.
import { api } from './api.js';
import { $, duration, el, number, when } from './format.js';
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
    if (dialable) back.addEventListener('click', () => callBack(call, back, status));
    const what = [call.phoneNumber, agentName(call.voiceAgentId), outcomeInfo(call.outcome)[1], call.duration != null ? duration(call.duration) : null].filter(Boolean).join(' · ');
    list.append(el('li', { 'data-call-id': call.id, 'data-phone': call.phoneNumber }, el('span', { class: 'when', text: when(call.callStartedAt) }), el('span', { class: 'who', text: what }), back, status));
  }
  setState('missed', list.children.length ? 'ready' : 'empty');
}

// A call back is a scheduled call like any other: every rule of the outbound path applies, and a refusal says which.
async function callBack(call, button, status) {
  const own = state.agents.find((a) => a.id === call.voiceAgentId && !a.importedFrom);
  const agent = own || state.agents.find((a) => !a.importedFrom);
  button.disabled = true;
  status.className = 'form-status';
  status.textContent = 'Scheduling…';
  try {
    const body = {
      phoneNumber: call.phoneNumber, callType: 'OUTBOUND_FOLLOWUP', scheduledAt: new Date(Date.now() + 2 * 60 * 1000).toISOString(),
      voiceAgentId: agent?.id, purpose: 'Returning a missed call', moveToCallingHours: true,
    };
    const placed = await api('/api/outbound/schedule', { method: 'POST', body: JSON.stringify(body) });
    status.className = 'form-status ok';
    status.textContent = `Call back scheduled for ${when(placed.scheduledAt)}.`;
    await loadScheduled(true);
  } catch (err) {
    status.className = 'form-status error';
    status.textContent = err.message;
    button.disabled = false;
  }
}
