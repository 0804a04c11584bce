// The campaigns (up to eight, following the agent filter), each with its
// progress by outcome.
import { api } from './api.js';
import { $, el, number } from './format.js';
import { outcomeInfo, outcomes, statusBadge } from './labels.js';
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
    list.append(el('li', { 'data-campaign-id': campaign.id },
      el('div', { class: 'top' }, el('span', { class: 'name', text: campaign.name }), el('span', {}, statusBadge(campaign.status === 'ACTIVE' ? (waiting ? 'IN_PROGRESS' : 'COMPLETED') : 'CANCELLED'))),
      bar,
      el('div', { class: 'meta', text: `${number.format(done)} of ${number.format(counts.total)} calls done (${pct}%) · ${number.format(booked)} booked · ${number.format(waiting)} waiting · ${agentName(campaign.voiceAgentId)}` })));
  }
  setState('campaigns', 'ready');
}
