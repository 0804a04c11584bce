// The agents side by side: the API's rows and total, sorted by any column.
import { $, cents, duration, el, number, percent } from './format.js';
import { setState } from './panel.js';
import { state } from './state.js';

const AGENT_COLUMNS = {
  name: (r) => (r.name || 'Unassigned').toLowerCase(),
  totalCalls: (r) => r.totalCalls,
  answered: (r) => r.answered,
  bookingRate: (r) => r.bookingRate ?? -1,
  avgCallTimeSeconds: (r) => r.avgCallTimeSeconds ?? -1,
  insuranceVerified: (r) => r.insuranceVerified,
  collected: (r) => r.collections.totalCollectedCents,
  notReturned: (r) => r.missedCalls.notReturned,
  disclosuresMissed: (r) => r.disclosures.missed,
  cost: (r) => r.cost.totalCents,
};

function agentCells(r, name) {
  return [
    el('th', { scope: 'row', text: name }),
    el('td', { class: 'num', text: number.format(r.totalCalls) }),
    el('td', { class: 'num hide-narrow', text: number.format(r.answered) }),
    el('td', { class: 'num', text: percent(r.bookingRate) }),
    el('td', { class: 'num hide-narrow', text: duration(r.avgCallTimeSeconds) }),
    el('td', { class: 'num hide-narrow', text: number.format(r.insuranceVerified) }),
    el('td', { class: 'num hide-narrow', text: cents(r.collections.totalCollectedCents) }),
    el('td', { class: 'num', text: `${number.format(r.missedCalls.notReturned)} / ${number.format(r.missedCalls.missed)}` }),
    el('td', { class: r.disclosures.missed ? 'num hide-narrow disclosure missed' : 'num hide-narrow',
      text: `${number.format(r.disclosures.missed)} / ${number.format(r.disclosures.checked)}` }),
    el('td', { class: 'num hide-narrow', text: cents(r.cost.totalCents) }),
  ];
}

// Renders the API's answer, or (without one) the last answer in the current order.
export function renderAgents(result) {
  if (result) state.agentRows = result;
  const data = state.agentRows;
  if (!data) return;
  const { key, descending } = state.agentSort;
  for (const th of document.querySelectorAll('#agents-table th[data-sort]')) th.setAttribute('aria-sort', th.dataset.sort === key ? (descending ? 'descending' : 'ascending') : 'none');
  const value = AGENT_COLUMNS[key];
  const rows = [...data.agents].sort((a, b) => {
    const [x, y] = [value(a), value(b)];
    const order = x < y ? -1 : x > y ? 1 : 0;
    return (descending ? -order : order) || (a.name || '').localeCompare(b.name || '');
  });
  $('agents-rows').replaceChildren(...rows.map((r) => el('tr', { 'data-agent-id': r.agentId }, ...agentCells(r, r.name || 'Unassigned'))));
  $('agents-total').replaceChildren(el('tr', {}, ...agentCells(data.total, 'All agents')));
  setState('agents', data.agents.length ? 'ready' : 'empty');
}

export function sortAgents(key) {
  const sort = state.agentSort;
  state.agentSort = { key, descending: sort.key === key ? !sort.descending : key !== 'name' };
  renderAgents();
}
