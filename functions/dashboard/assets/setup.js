// The practice's setup (admins): its voice agents (number, zone, weekly
// hours, how many calls at once) and its settings (holidays, the consent
// each call type needs within the law's floor, how long content is kept,
// recording, the name and number callees hear). Everything goes through
// the API, which refuses what a role may not do and what the law forbids.
import { api } from './api.js';
import { $, el, plainError, setZone } from './format.js';
import { basisLabel, callTypeLabel, legalBases } from './labels.js';
import { state } from './state.js';

const DAYS = [['mon', 'Monday'], ['tue', 'Tuesday'], ['wed', 'Wednesday'], ['thu', 'Thursday'], ['fri', 'Friday'], ['sat', 'Saturday'], ['sun', 'Sunday']];
const ZONES = ['America/New_York', 'America/Chicago', 'America/Denver', 'America/Phoenix', 'America/Los_Angeles', 'America/Anchorage', 'Pacific/Honolulu', 'America/Puerto_Rico'];

// Agents: the list with an Edit button each, and the form that creates or changes one.
export function setupAgents(reloadAgents) {
  const days = $('agent-days');
  days.replaceChildren(...DAYS.map(([code, name]) => el('div', { class: 'day-row', 'data-day': code },
    el('label', { class: 'check' }, el('input', { type: 'checkbox', name: `open-${code}`, checked: true }), ` ${name}`),
    el('label', {}, el('span', { class: 'visually-hidden', text: `${name} opens` }), el('input', { type: 'time', name: `start-${code}`, value: '08:00' })),
    el('label', {}, el('span', { class: 'visually-hidden', text: `${name} closes` }), el('input', { type: 'time', name: `end-${code}`, value: '18:00' })))));
  $('agent-zone').replaceChildren(...ZONES.map((z) => el('option', { value: z }, z.replace('_', ' '))));
  $('agent-form').addEventListener('submit', (e) => saveAgent(e, reloadAgents));
  $('agent-new').addEventListener('click', () => editAgent(null));
}

export function renderAgentList() {
  $('agent-list').replaceChildren(...state.agents.map((a) => el('li', { 'data-agent-id': a.id },
    el('span', { class: 'who', text: `${a.name} · ${a.timeZone.replace('_', ' ')} · ${hoursText(a)} · ${a.maxConcurrentCalls} at once` }),
    a.importedFrom ? el('span', { class: 'meta', text: 'imported' }) : el('button', { type: 'button', onclick: () => editAgent(a) }, 'Edit'))));
}

// "Mon–Fri 08:00–18:00" style: each run of days with the same hours.
function hoursText(agent) {
  const parts = [];
  for (const [code, name] of DAYS) {
    const hours = dayHours(agent, code);
    const text = hours ? `${hours.start}–${hours.end}` : 'closed';
    const last = parts[parts.length - 1];
    if (last && last.text === text) last.to = name.slice(0, 3); else parts.push({ from: name.slice(0, 3), to: null, text });
  }
  return parts.map((p) => `${p.from}${p.to ? `–${p.to}` : ''} ${p.text}`).join(', ');
}

const dayHours = (agent, code) => ((agent.closedDays || []).includes(code) ? null : (agent.hoursByDay || {})[code] || agent.callingHours);

function editAgent(agent) {
  const form = $('agent-form');
  form.reset();
  form.dataset.editing = agent ? agent.id : '';
  form.elements.id.disabled = Boolean(agent);
  $('agent-form-title').textContent = agent ? `Edit ${agent.name}` : 'New agent';
  $('agent-status').textContent = '';
  if (!agent) return;
  form.elements.id.value = agent.id;
  form.elements.name.value = agent.name;
  form.elements.vapiAssistantId.value = agent.vapiAssistantId || '';
  form.elements.vapiPhoneNumberId.value = agent.vapiPhoneNumberId || '';
  if (![...form.elements.timeZone.options].some((o) => o.value === agent.timeZone)) form.elements.timeZone.append(el('option', { value: agent.timeZone }, agent.timeZone));
  form.elements.timeZone.value = agent.timeZone;
  form.elements.maxConcurrentCalls.value = agent.maxConcurrentCalls;
  for (const [code] of DAYS) {
    const hours = dayHours(agent, code);
    form.elements[`open-${code}`].checked = Boolean(hours);
    if (hours) { form.elements[`start-${code}`].value = hours.start; form.elements[`end-${code}`].value = hours.end; }
  }
  form.scrollIntoView({ block: 'nearest' });
}

async function saveAgent(event, reloadAgents) {
  event.preventDefault();
  const form = event.target;
  const status = $('agent-status');
  const editing = form.dataset.editing;
  const value = (name) => form.elements[name].value.trim();
  const open = DAYS.filter(([code]) => form.elements[`open-${code}`].checked).map(([code]) => code);
  const hoursByDay = Object.fromEntries(open.map((code) => [code, { start: value(`start-${code}`), end: value(`end-${code}`) }]));
  const body = {
    name: value('name'), vapiAssistantId: value('vapiAssistantId'), vapiPhoneNumberId: value('vapiPhoneNumberId') || undefined, timeZone: value('timeZone'),
    maxConcurrentCalls: Number(value('maxConcurrentCalls')) || undefined, closedDays: DAYS.map(([c]) => c).filter((c) => !open.includes(c)), hoursByDay,
  };
  if (open.length) body.callingHours = hoursByDay[open[0]];
  if (!editing) body.id = value('id');
  status.className = 'form-status';
  status.textContent = 'Saving…';
  try {
    const saved = await api(editing ? `/api/agents/${encodeURIComponent(editing)}` : '/api/agents', { method: editing ? 'PATCH' : 'POST', body: JSON.stringify(body) });
    await reloadAgents();
    editAgent(null);
    status.className = 'form-status ok';
    status.textContent = `${saved.name} saved.`;
  } catch (err) {
    status.className = 'form-status error';
    status.textContent = plainError(err);
  }
}

// Settings: read, shown in the form, written back whole.
export async function loadSettings() {
  const box = $('settings');
  try {
    const settings = await api('/api/settings');
    usePracticeZone(settings);
    fillSettings(settings);
    box.dataset.state = 'ready';
  } catch (err) {
    box.dataset.state = 'error';
    box.querySelector('.error-note').textContent = `Could not load the settings: ${plainError(err)}`;
  }
}

// Times read in the practice's zone, and its local days the analytics count by.
function usePracticeZone(settings) {
  if (!settings.timeZone) return;
  setZone(settings.timeZone);
  state.tz = settings.timeZone;
}

function fillSettings(settings) {
  const form = $('settings-form');
  const zones = form.elements.timeZone;
  zones.replaceChildren(el('option', { value: '' }, 'This browser\'s'), ...ZONES.map((z) => el('option', { value: z }, z.replace('_', ' '))));
  if (settings.timeZone && !ZONES.includes(settings.timeZone)) zones.append(el('option', { value: settings.timeZone }, settings.timeZone));
  zones.value = settings.timeZone || '';
  form.elements.practiceName.value = settings.practiceName || '';
  form.elements.callbackNumber.value = settings.callbackNumber || '';
  form.elements.holidays.value = (settings.holidays || []).join('\n');
  form.elements.maxAttemptsPerNumberPerDay.value = settings.maxAttemptsPerNumberPerDay;
  form.elements.contentDays.value = settings.retention?.contentDays ?? '';
  form.elements.recordingPolicy.value = settings.recordingPolicy;
  form.elements.rndOutage.value = settings.rndOutage || 'wait';
  form.elements.vapiConcurrencyLimit.value = settings.vapiConcurrencyLimit;
  form.elements.reservedInboundSlots.value = settings.reservedInboundSlots;
  renderRegistries(settings.registries || []);
  // Each outbound call type: the bases the law allows it, ticked where the practice accepts them.
  $('consent-policy').replaceChildren(...legalBases().map(([type, allowed]) => el('fieldset', { 'data-call-type': type },
    el('legend', { text: callTypeLabel(type) || type }),
    ...allowed.map((basis) => el('label', { class: 'check' },
      el('input', { type: 'checkbox', name: `basis-${type}`, value: basis, checked: (settings.consentPolicy?.[type] || allowed).includes(basis) }), ` ${basisLabel(basis) || basis}`)))));
}

export async function saveSettings(event) {
  event.preventDefault();
  const form = event.target;
  const status = $('settings-status');
  const consentPolicy = Object.fromEntries(legalBases().map(([type]) => [type, [...form.querySelectorAll(`input[name="basis-${type}"]:checked`)].map((i) => i.value)]));
  const empty = Object.entries(consentPolicy).find(([, bases]) => !bases.length);
  if (empty) {
    status.className = 'form-status error';
    status.textContent = `${callTypeLabel(empty[0]) || empty[0]} calls need at least one kind of consent: the law never allows none.`;
    return;
  }
  const body = {
    practiceName: form.elements.practiceName.value.trim(), callbackNumber: form.elements.callbackNumber.value.trim(), timeZone: form.elements.timeZone.value,
    holidays: form.elements.holidays.value.split(/[\s,]+/).filter(Boolean).sort().filter((d, i, all) => all.indexOf(d) === i),
    maxAttemptsPerNumberPerDay: Number(form.elements.maxAttemptsPerNumberPerDay.value), retention: { contentDays: Number(form.elements.contentDays.value) },
    recordingPolicy: form.elements.recordingPolicy.value, rndOutage: form.elements.rndOutage.value, consentPolicy,
    vapiConcurrencyLimit: Number(form.elements.vapiConcurrencyLimit.value), reservedInboundSlots: Number(form.elements.reservedInboundSlots.value),
  };
  status.className = 'form-status';
  status.textContent = 'Saving…';
  try {
    const saved = await api('/api/settings', { method: 'PUT', body: JSON.stringify(body) });
    fillSettings(saved);
    usePracticeZone(saved);
    status.className = 'form-status ok';
    status.textContent = 'Settings saved.';
  } catch (err) {
    status.className = 'form-status error';
    status.textContent = plainError(err);
  }
}

// The registry copies the practice keeps: each one's date, and the last day it lets marketing calls go (31 days on).
const DAY = 86400000;
function renderRegistries(copies) {
  const today = new Date(new Date().toISOString().slice(0, 10));
  $('registry-list').replaceChildren(...(copies.length ? copies.map((c) => {
    const through = new Date(new Date(c.asOf).getTime() + 31 * DAY);
    const stale = through < today;
    const name = c.name === 'national' ? 'National Do Not Call Registry' : `${c.name} state list`;
    return el('li', { 'data-registry': c.name, class: stale ? 'stale' : '', text: `${name}: ${c.numbers.toLocaleString()} numbers, copy of ${c.asOf} — ${stale ? 'too old: marketing calls are stopped until a fresh copy is imported' : `good for marketing calls through ${through.toISOString().slice(0, 10)}`}` });
  }) : [el('li', { class: 'meta', text: 'No registry copy imported: marketing calls rest on written consent alone.' })]));
}

// A registry file: the FTC's full or change list (one number a line), or a state's CSV with a phoneNumber column.
export async function importRegistry(event) {
  event.preventDefault();
  const form = event.target;
  const status = $('registry-status');
  const file = form.elements.file.files[0];
  const registry = form.elements.registry.value.trim() || 'national';
  if (!file || !form.elements.asOf.value) {
    status.className = 'form-status error';
    status.textContent = 'Choose the file and the date the registry produced it.';
    return;
  }
  status.className = 'form-status';
  status.textContent = 'Importing…';
  try {
    const done = await api(`/api/registries/${encodeURIComponent(registry)}/import?asOf=${form.elements.asOf.value}`, { method: 'POST', body: await file.text(), contentType: 'text/plain' });
    status.className = 'form-status ok';
    const count = (n, one) => `${n.toLocaleString()} ${one}${n === 1 ? '' : 's'}`;
    status.textContent = `${count(done.added, 'number')} added${done.deleted ? `, ${count(done.deleted, 'number')} removed` : ''}${done.rejectedCount ? `, ${count(done.rejectedCount, 'line')} skipped (first: line ${done.rejected[0].line})` : ''}; the copy is as of ${done.registry.asOf}.`;
    form.elements.file.value = '';
    await loadSettings();
  } catch (err) {
    status.className = 'form-status error';
    status.textContent = plainError(err);
  }
}
