// A campaign from the practice's own list: a CSV file with a `number`
// column (and, if it has them, name, state, timeZone and debtId; any other
// column becomes a variable the assistant can say). The answer shows every
// row the rules refused, with why, so the list can be fixed and sent again.
import { api } from './api.js';
import { loadCampaigns } from './campaigns.js';
import { $, el, plainError, when } from './format.js';
import { state } from './state.js';

export function setupCampaignForm() {
  $('campaign-form').addEventListener('submit', submitCampaign);
}

// The agents a campaign may run on (an imported agent keeps its history only).
export function fillCampaignAgents() {
  const select = $('campaign-agent');
  select.replaceChildren(...state.agents.filter((a) => !a.importedFrom).map((a) => el('option', { value: a.id }, a.name)));
}

async function submitCampaign(event) {
  event.preventDefault();
  const form = event.target;
  const status = $('campaign-status');
  const data = new FormData(form);
  const text = (name) => (data.get(name) || '').toString().trim();
  const file = form.elements.contacts.files[0];
  $('campaign-result').replaceChildren();
  if (!text('name') || !file) {
    status.className = 'form-status error';
    status.textContent = 'A name and the CSV file of contacts are needed.';
    return;
  }
  const q = new URLSearchParams({ name: text('name'), voiceAgentId: text('voiceAgentId') });
  if (text('purpose')) q.set('purpose', text('purpose'));
  if (text('startAt')) q.set('startAt', new Date(text('startAt')).toISOString());
  if (text('callsPerMinute')) q.set('callsPerMinute', text('callsPerMinute'));
  if (text('callType')) q.set('callType', text('callType'));
  if (text('voicemailMessage')) q.set('voicemailMessage', text('voicemailMessage'));
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  status.className = 'form-status';
  status.textContent = 'Creating the campaign…';
  try {
    const created = await api(`/api/campaigns?${q}`, { method: 'POST', body: await file.text(), contentType: 'text/csv' });
    status.className = 'form-status ok';
    const refused = created.rejected.length;
    status.textContent = `“${created.campaign.name}” created: ${created.accepted} ${created.accepted === 1 ? 'call' : 'calls'} scheduled${refused ? `, ${refused} ${refused === 1 ? 'row' : 'rows'} refused (below)` : ''}.`;
    showRows(created.rejected, created.deferred || []);
    form.reset();
    fillCampaignAgents();
    await loadCampaigns(true);
  } catch (err) {
    status.className = 'form-status error';
    status.textContent = plainError(err);
    if (err.details?.rejected) showRows(err.details.rejected, []);
  } finally {
    button.disabled = false;
  }
}

// Each refused row with its reason in plain words; each row that waits for a frequency limit with when it is called.
function showRows(rejected, deferred) {
  const rows = [
    ...rejected.map((r) => el('tr', { 'data-row': r.row, 'data-code': r.code }, el('td', { text: String(r.row) }), el('td', { text: r.number }), el('td', { text: plainError({ code: r.code, message: r.message, details: r }) }))),
    ...deferred.map((d) => el('tr', { 'data-row': d.row, 'data-code': d.code, class: 'deferred' }, el('td', { text: String(d.row) }), el('td', { text: d.number }), el('td', { text: `Called ${when(d.scheduledAt)}: the number was called recently.` }))),
  ];
  if (!rows.length) return;
  $('campaign-result').replaceChildren(el('table', { class: 'rows-table', id: 'campaign-rows-table' },
    el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'Row' }), el('th', { scope: 'col', text: 'Number' }), el('th', { scope: 'col', text: 'Why' }))),
    el('tbody', {}, ...rows)));
}
