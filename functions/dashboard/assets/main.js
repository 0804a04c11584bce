// CallOps dashboard: reads the /api routes with the signed-in user's bearer
// token and keeps the figures fresh while the page is open. No framework,
// no build step: these modules are served as written. This one starts the
// page (settings, labels, sign-in, the controls), loads every panel and
// refreshes them.
import { api } from './api.js';
import { renderAgents, sortAgents } from './agents.js';
import { ENTITY_TYPES, loadAudit } from './audit.js';
import { exportCalls, loadRecent, loadScheduled } from './calls.js';
import { fillCampaignAgents, setupCampaignForm } from './campaign_form.js';
import { loadCampaigns } from './campaigns.js';
import { chartDefaults, renderDaily, renderOutcomes } from './charts.js';
import { $, el, plainError } from './format.js';
import { renderHourly } from './hourly.js';
import { renderKpis } from './kpis.js';
import { setLabels } from './labels.js';
import { loadMissed } from './missed.js';
import { importConsents, showNumber } from './number.js';
import { banner, current, panel } from './panel.js';
import { renderQuality } from './quality.js';
import { defaultScheduleTime, submitSchedule } from './schedule.js';
import { importRegistry, loadSettings, renderAgentList, saveSettings, setupAgents } from './setup.js';
import { signIn } from './signin.js';
import { describeRange, filtersChanged, onFiltersChange, setPreset, state, windowQuery } from './state.js';

async function loadFigures(quiet) {
  const { query, from, to } = windowQuery();
  $('range-caption').textContent = describeRange(from, to);
  const kpis = $('kpis');
  if (!quiet) kpis.dataset.state = 'loading';
  const generation = state.generation;
  const figures = Promise.all([api(`/api/analytics/calls?${query}`), api(`/api/analytics/calls/outcomes?${query}`), api(`/api/analytics/calls/daily?${query}`)]);
  const results = await Promise.allSettled([
    panel('daily', async (g) => { const [, , daily] = await figures; if (current(g)) renderDaily(daily); }, quiet),
    panel('outcomes', async (g) => { const [, outcomes] = await figures; if (current(g)) renderOutcomes(outcomes); }, quiet),
    panel('agents', async (g) => { const result = await api(`/api/analytics/agents?${query}`); if (current(g)) renderAgents(result); }, quiet),
    panel('hourly', async (g) => { const result = await api(`/api/analytics/calls/hourly?${query}`); if (current(g)) renderHourly(result); }, quiet),
    panel('quality', async (g) => { const result = await api(`/api/analytics/quality?${query}`); if (current(g)) renderQuality(result); }, quiet),
  ]);
  try {
    const [stats] = await figures;
    if (current(generation)) { renderKpis(stats, query); banner(''); }
  } catch (err) {
    if (current(generation)) { kpis.dataset.state = 'error'; banner(plainError(err)); }
  }
  return results.every((r) => r.value);
}

async function loadAll(quiet) {
  // A refresh keeps the worklist the user is working through; a change of filters reads it afresh.
  const missed = !quiet || !state.missedCursor ? loadMissed(quiet) : true;
  const ok = await Promise.all([loadFigures(quiet), state.page === 0 || !quiet ? loadRecent(quiet) : true, missed, loadScheduled(quiet), loadCampaigns(quiet)]);
  const live = $('live');
  const fine = ok.every(Boolean);
  live.dataset.live = fine ? 'on' : 'off';
  $('live-text').textContent = fine ? `Live · updated ${new Date().toLocaleTimeString()}` : 'Some figures could not be loaded';
}

async function loadAgents() {
  const { agents } = await api('/api/agents');
  state.agents = agents;
  const filter = $('agent');
  const chosen = filter.value;
  filter.replaceChildren(el('option', { value: '' }, 'All agents'), ...agents.map((a) => el('option', { value: a.id, text: a.name })));
  filter.value = agents.some((a) => a.id === chosen) ? chosen : '';
  // An agent imported with legacy history is a filter, never a line to call from.
  $('schedule-agent').replaceChildren(...agents.filter((a) => !a.importedFrom).map((a) => el('option', { value: a.id, text: a.name })));
  fillCampaignAgents();
  renderAgentList();
}

async function start() {
  chartDefaults();
  const config = await (await fetch('config.json')).json();
  state.refreshSeconds = config.refreshSeconds || 30;
  setLabels(config.labels);
  await signIn(config.signIn);
  onFiltersChange(() => loadAll(false));
  for (const b of document.querySelectorAll('[data-preset]')) b.addEventListener('click', () => setPreset(b.dataset.preset));
  for (const id of ['from', 'to']) {
    $(id).addEventListener('change', () => {
      state.from = $('from').value; state.to = $('to').value;
      if (state.from && state.to) filtersChanged();
    });
  }
  $('kind').addEventListener('change', (e) => { state.kind = e.target.value; filtersChanged(); });
  for (const th of document.querySelectorAll('#agents-table th[data-sort]')) th.querySelector('button').addEventListener('click', () => sortAgents(th.dataset.sort));
  $('missed-more').addEventListener('click', () => loadMissed(true, true));
  $('export-calls').addEventListener('click', exportCalls);
  $('agent').addEventListener('change', (e) => {
    state.agentId = e.target.value;
    if (state.agentId) $('schedule-agent').value = state.agentId;
    filtersChanged();
  });
  $('newer').addEventListener('click', () => { if (state.page > 0) { state.page -= 1; loadRecent(false); } });
  $('older').addEventListener('click', () => { if (state.cursors[state.page + 1]) { state.page += 1; loadRecent(false); } });
  $('detail-close').addEventListener('click', () => $('call-detail').close());
  $('call-detail').addEventListener('click', (e) => { if (e.target === e.currentTarget) e.currentTarget.close(); });
  const form = $('schedule-form');
  form.elements.scheduledAt.value = defaultScheduleTime();
  form.addEventListener('submit', submitSchedule);
  const auditForm = $('audit-form');
  auditForm.elements.entityType.append(...ENTITY_TYPES.map((t) => el('option', { value: t, text: t })));
  auditForm.addEventListener('submit', (event) => { event.preventDefault(); loadAudit(false); });
  $('audit-more').addEventListener('click', () => loadAudit(true));
  setupCampaignForm();
  $('import-form').addEventListener('submit', importConsents);
  setupAgents(loadAgents);
  $('settings-form').addEventListener('submit', saveSettings);
  $('registry-form').addEventListener('submit', importRegistry);
  $('registry-form').elements.asOf.value = new Date().toISOString().slice(0, 10);
  $('number-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const number = $('number-input').value.trim();
    if (number) showNumber(number);
  });
  try {
    await loadAgents();
  } catch (err) {
    banner(`Could not load the voice agents: ${plainError(err)}`);
  }
  // The settings first: the practice's zone decides how every time and local day reads.
  await loadSettings();
  await loadAll(false);
  // Live: refresh the figures in place while the page is visible.
  setInterval(() => { if (document.visibilityState === 'visible') loadAll(true); }, state.refreshSeconds * 1000);
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') loadAll(true); });
}

document.addEventListener('DOMContentLoaded', () => {
  start().catch((err) => {
    banner(`The dashboard could not start: ${plainError(err)}`);
    $('live').dataset.live = 'off';
    $('live-text').textContent = 'Offline';
  });
});
