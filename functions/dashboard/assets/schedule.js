// The form to schedule an outbound call: an hour from now on the half hour
// by default; a refusal says which rule refused it.
import { api } from './api.js';
import { $, localDate, plainError, when } from './format.js';
import { loadScheduled } from './calls.js';
import { state } from './state.js';

export function defaultScheduleTime() {
  const d = new Date(Date.now() + 60 * 60 * 1000);
  d.setMinutes(d.getMinutes() < 30 ? 30 : 60, 0, 0);
  return `${localDate(d)}T${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

export async function submitSchedule(event) {
  event.preventDefault();
  const form = event.target;
  const status = $('schedule-status');
  const data = new FormData(form);
  const text = (name) => (data.get(name) || '').toString().trim() || undefined;
  if (!text('phoneNumber') || !text('scheduledAt')) {
    status.className = 'form-status error';
    status.textContent = 'A phone number and a time are needed.';
    return;
  }
  const body = {
    phoneNumber: text('phoneNumber'), callType: text('callType'), scheduledAt: new Date(text('scheduledAt')).toISOString(),
    voiceAgentId: text('voiceAgentId'), customerName: text('customerName'), purpose: text('purpose'), notes: text('notes'),
    moveToCallingHours: data.get('moveToCallingHours') === 'on',
  };
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  status.className = 'form-status';
  status.textContent = 'Scheduling…';
  try {
    const call = await api('/api/outbound/schedule', { method: 'POST', body: JSON.stringify(body) });
    status.className = 'form-status ok';
    status.textContent = `Scheduled: ${call.phoneNumber} on ${when(call.scheduledAt)}.`;
    form.reset();
    form.elements.scheduledAt.value = defaultScheduleTime();
    if (state.agentId) form.elements.voiceAgentId.value = state.agentId;
    await loadScheduled(true);
  } catch (err) {
    status.className = 'form-status error';
    status.textContent = err.code === 'outside_calling_hours' ? `${plainError(err)} Tick the box to move it to the next opening.` : plainError(err);
  } finally {
    button.disabled = false;
  }
}
