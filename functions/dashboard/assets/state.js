// The page's shared state and its filters: the date range, agent and calls
// filter, the query every panel of the range reads with, and the generation
// that drops answers to filters no longer shown.
import { $, localDate } from './format.js';

export const PAGE_SIZE = 10;

export const state = {
  refreshSeconds: 30,
  preset: '7d',
  from: null,
  to: null,
  agentId: '',
  kind: '', // a direction or call type: `direction=inbound`, `callType=OUTBOUND_DEBT`
  agents: [],
  agentRows: null,
  agentSort: { key: 'totalCalls', descending: true },
  missedCursor: null,
  callBacks: new Map(), // number -> the call back scheduled for it (or pending), kept across refreshes
  tz: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC',
  cursors: [null], // the cursor of each recent-calls page seen so far
  page: 0,
  charts: {},
  generation: 0, // bumps when the filters change, so late answers are dropped
};

export const agentName = (id) => state.agents.find((a) => a.id === id)?.name || id;

// What the page does when the filters change (main.js: read everything afresh).
let reload = () => {};
export function onFiltersChange(work) {
  reload = work;
}

export function windowQuery() {
  const today = new Date();
  let from; let to = localDate(today);
  if (state.preset === 'today') from = to;
  else if (state.preset === '7d') from = localDate(new Date(today.getFullYear(), today.getMonth(), today.getDate() - 6));
  else if (state.preset === '30d') from = localDate(new Date(today.getFullYear(), today.getMonth(), today.getDate() - 29));
  else { from = state.from; to = state.to; }
  const q = new URLSearchParams({ startDate: from, endDate: to, tz: state.tz });
  if (state.agentId) q.set('agentId', state.agentId);
  if (state.kind) { const [name, value] = state.kind.split('='); q.set(name, value); }
  return { query: q.toString(), from, to };
}

export function describeRange(from, to) {
  const fmt = (ymd) => new Date(`${ymd}T12:00:00`).toLocaleDateString(undefined, { weekday: 'short', month: 'short', day: 'numeric', year: 'numeric' });
  const who = state.agentId ? agentName(state.agentId) : 'all agents';
  const which = state.kind ? $('kind').selectedOptions[0].textContent.toLowerCase() : 'all calls';
  return `${from === to ? fmt(from) : `${fmt(from)} – ${fmt(to)}`} · ${who} · ${which} · times in ${state.tz}`;
}

export function setPreset(preset) {
  state.preset = preset;
  for (const b of document.querySelectorAll('[data-preset]')) b.setAttribute('aria-pressed', String(b.dataset.preset === preset));
  $('custom-range').hidden = preset !== 'custom';
  if (preset === 'custom' && !state.from) {
    const { from, to } = { from: localDate(new Date(Date.now() - 13 * 864e5)), to: localDate(new Date()) };
    state.from = from; state.to = to; $('from').value = from; $('to').value = to;
  }
  filtersChanged();
}

export function filtersChanged() {
  state.generation += 1;
  state.cursors = [null];
  state.page = 0;
  state.missedCursor = null;
  reload();
}
