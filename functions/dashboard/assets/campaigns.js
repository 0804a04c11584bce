// The campaigns (up to eight, following the agent filter), each with its
// progress by outcome; one opened shows its calls as they stand, the calls
// still waiting, and the button that cancels the rest.
import { api } from './api.js';
import { $, confirmed, el, number, plainError, when } from './format.js';
import { callTypeLabel, outcomeInfo, outcomes, statusBadge } from './labels.js';
import { current, panel, setState } from './panel.js';
import { agentName, state } from './state.js';

export async function loadCampaigns(quiet) {
  return panel('campaigns', async (g) => {
    const { campaigns } = await api('/api/campaigns');
    const mine = campaigns.filter((c) => !state.agentId || c.voiceAgentId === state.agentId).slice(0, 8);
    const views = await Promise.all(mine.map((c) => api(`/api/campaigns/${encodeURIComponent(c.id)}`)));
    if (current(g)) renderCampaigns(views);
  }, quiet);
}

function renderCampaigns(views) {
  const list = $('campaign-rows');
  list.replaceChildren();
  if (views.length === 0) { setState('campaigns', 'empty'); return; }
  for (const { campaign, counts } of views) {
    const waiting = counts.scheduled + counts.dialing + counts.inProgress;
    const done = counts.total - waiting;
    const pct = counts.total ? Math.round((done / counts.total) * 100) : 0;
    const bar = el('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': String(counts.total), 'aria-valuenow': String(done), 'aria-label': `${campaign.name}: ${done} of ${counts.total} calls done` });
    for (const [code, , colour] of outcomes()) {
      const n = code ? counts.outcomes[code] || 0 : 0;
      if (n > 0 && counts.total) { const seg = el('span', { title: `${outcomeInfo(code)[1]}: ${n}` }); seg.style.width = `${(n / counts.total) * 100}%`; seg.style.background = colour; bar.append(seg); }
    }
    const other = done - Object.values(counts.outcomes).reduce((a, b) => a + b, 0);
    if (other > 0) { const seg = el('span'); seg.style.width = `${(other / counts.total) * 100}%`; seg.style.background = '#94a3b8'; bar.append(seg); }
    const booked = counts.outcomes.BOOKED || 0;
    const details = el('div', { class: 'campaign-details', hidden: !opened.has(campaign.id) });
    const open = el('button', { type: 'button', class: 'link', 'aria-expanded': String(opened.has(campaign.id)) }, opened.has(campaign.id) ? 'Close' : 'Open');
    open.addEventListener('click', () => toggle(campaign, counts, open, details));
    list.append(el('li', { 'data-campaign-id': campaign.id },
      el('div', { class: 'top' }, el('span', { class: 'name', text: campaign.name }), el('span', {}, campaignBadge(campaign, waiting)), open),
      bar,
      el('div', { class: 'meta', text: `${number.format(done)} of ${number.format(counts.total)} calls done (${pct}%) · ${number.format(booked)} booked · ${number.format(waiting)} waiting · ${callTypeLabel(campaign.callType) || campaign.callType} · ${agentName(campaign.voiceAgentId)}` }),
      details));
    if (opened.has(campaign.id)) showDetails(campaign, counts, details);
  }
  setState('campaigns', 'ready');
}

// What a refused row's code means, for codes the page has no plainer words for.
const CODES = {
  invalid_phone_number: 'Not a phone number that can be called.',
  duplicate_number: 'The same number is on an earlier row.',
  invalid_variables: 'A column holds a value the assistant cannot be given.',
  invalid_customer_name: 'The name is too long or holds characters a name cannot.',
  no_calling_hours: 'The places this number may be in never share a calling hour.',
  unknown_callee_location: 'The number says nothing of where the patient is: add their state or time zone.',
  debt_id_required: 'A collection call needs the debt it is about.',
};

// The campaigns opened, kept open across refreshes.
const opened = new Set();

// Where a campaign stands, in the call badges' colours.
function campaignBadge(campaign, waiting) {
  if (campaign.status === 'active') return statusBadge(waiting ? 'IN_PROGRESS' : 'COMPLETED');
  const [colour, text] = { paused: ['SCHEDULED', 'Paused'], ended: ['COMPLETED', 'Ended'], cancelled: ['CANCELLED', 'Cancelled'] }[campaign.status] || ['CANCELLED', campaign.status];
  return el('span', { class: `status ${colour}`, 'data-campaign-status': campaign.status }, text);
}

function toggle(campaign, counts, button, details) {
  if (opened.has(campaign.id)) {
    opened.delete(campaign.id);
    details.hidden = true;
    button.textContent = 'Open';
    button.setAttribute('aria-expanded', 'false');
    return;
  }
  opened.add(campaign.id);
  details.hidden = false;
  button.textContent = 'Close';
  button.setAttribute('aria-expanded', 'true');
  showDetails(campaign, counts, details);
}

// One campaign: how its calls stand, how many rows were refused when it was made, the calls still waiting.
async function showDetails(campaign, counts, box) {
  const facts = [['Waiting', counts.scheduled], ['Dialing', counts.dialing + counts.inProgress], ['Completed', counts.completed], ['Missed', counts.missed],
    ['Voicemail', counts.voicemail], ['Failed', counts.failed], ['Cancelled', counts.cancelled], ['Rows refused when made', campaign.rejected]];
  const list = el('dl', { class: 'facts campaign-facts' }, ...facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: number.format(v || 0) })]));
  const waitingList = el('ul', { class: 'scheduled-list campaign-waiting' });
  const status = el('p', { class: 'form-status', role: 'status' });
  const open = campaign.status === 'active' || campaign.status === 'paused';
  const cancel = el('button', { type: 'button', class: 'danger', hidden: !open || !counts.scheduled }, 'Cancel the waiting calls');
  cancel.addEventListener('click', () => cancelCampaign(campaign, cancel, status));
  // Pause holds every waiting call (calls under way finish); resume lays them out again from now, every rule asked again.
  const pause = el('button', { type: 'button', 'data-action': 'pause', hidden: campaign.status !== 'active' || !counts.scheduled }, 'Pause');
  pause.addEventListener('click', () => control(campaign, 'pause', pause, status));
  const resume = el('button', { type: 'button', 'data-action': 'resume', hidden: campaign.status !== 'paused' }, 'Resume');
  resume.addEventListener('click', () => control(campaign, 'resume', resume, status));
  // The rows the rules refused when the campaign was made, with why (the row of the practice's own file; no number is kept).
  const refused = (campaign.refusals || []).map((r) => el('li', { 'data-row': r.row, 'data-code': r.code, text: `Row ${r.row}: ${plainError({ code: r.code, message: CODES[r.code] || r.code })}` }));
  box.replaceChildren(list, el('h4', { text: 'Calls waiting' }), waitingList, el('div', { class: 'actions' }, pause, resume, cancel), status,
    ...(refused.length ? [el('h4', { text: 'Rows refused when it was made' }), el('ul', { class: 'history-list campaign-refusals' }, ...refused)] : []));
  try {
    const { calls } = await api(`/api/outbound/scheduled?campaignId=${encodeURIComponent(campaign.id)}&limit=50`);
    waitingList.replaceChildren(...(calls.length ? calls.map((c) => el('li', { 'data-call-id': c.id },
      el('span', { class: 'when', text: when(c.scheduledAt) }), el('span', { class: 'who', text: [c.customerName, c.phoneNumber].filter(Boolean).join(' · ') }))) : [el('li', { class: 'meta', text: 'None: every call of it has been made or cancelled.' })]));
  } catch (err) {
    status.className = 'form-status error';
    status.textContent = plainError(err);
  }
}

// Pause or resume, and what it did.
async function control(campaign, action, button, status) {
  button.disabled = true;
  try {
    const done = await api(`/api/campaigns/${encodeURIComponent(campaign.id)}/${action}`, { method: 'POST' });
    const calls = `${done.calls} ${done.calls === 1 ? 'call' : 'calls'}`;
    const refused = done.refused.length ? `; ${done.refused.length} no longer allowed, closed with why` : '';
    status.className = 'form-status ok';
    status.textContent = action === 'pause' ? `Paused: ${calls} waiting held. Calls under way finish.` : `Resumed: ${calls} planned again from now${refused}.`;
    await loadCampaigns(true);
  } catch (err) {
    status.className = 'form-status error';
    status.textContent = plainError(err);
    button.disabled = false;
  }
}

// Two clicks, as every cancel.
async function cancelCampaign(campaign, button, status) {
  if (!confirmed(button, 'Confirm: cancel every waiting call')) return;
  button.disabled = true;
  try {
    const done = await api(`/api/campaigns/${encodeURIComponent(campaign.id)}`, { method: 'DELETE' });
    status.className = 'form-status ok';
    status.textContent = `Cancelled ${done.cancelled} waiting ${done.cancelled === 1 ? 'call' : 'calls'}.`;
    await loadCampaigns(true);
  } catch (err) {
    status.className = 'form-status error';
    status.textContent = plainError(err);
    button.disabled = false;
  }
}
