// When patients call: a week of local hours shaded by calls, hours where
// under half were answered ringed, and the split in and after the agents' hours.
import { $, el, number, percent } from './format.js';
import { setState } from './panel.js';

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const hourLabel = (h) => (h === 0 ? '12a' : h < 12 ? `${h}a` : h === 12 ? '12p' : `${h - 12}p`);

export function renderHourly(result) {
  const heat = $('heat');
  const busiest = Math.max(0, ...result.cells.map((c) => c.calls));
  const { inHours, afterHours } = result;
  const split = inHours.calls + afterHours.calls;
  $('hourly-split').textContent = split
    ? `${number.format(inHours.calls)} calls in the agents' hours (${percent((inHours.calls * 100) / split)}), ${number.format(afterHours.calls)} after hours, ${number.format(afterHours.answered)} of them answered · ${result.tz}`
    : `No calls · ${result.tz}`;
  const cells = [el('span', { class: 'corner', 'aria-hidden': 'true' })];
  for (let h = 0; h < 24; h += 1) cells.push(el('span', { class: 'hour-label', 'aria-hidden': 'true', text: h % 3 === 0 ? hourLabel(h) : '' }));
  for (let d = 1; d <= 7; d += 1) {
    cells.push(el('span', { class: 'day-label', text: WEEKDAYS[d - 1] }));
    for (let h = 0; h < 24; h += 1) {
      const c = result.cells.find((x) => x.weekday === d && x.hour === h) || { calls: 0, answered: 0, booked: 0 };
      const level = busiest ? Math.ceil((c.calls / busiest) * 5) : 0;
      const label = `${WEEKDAYS[d - 1]} ${hourLabel(h)}: ${c.calls} calls, ${c.answered} answered, ${c.booked} booked`;
      cells.push(el('span', { class: `cell l${level}${c.calls && c.answered * 2 < c.calls ? ' unanswered' : ''}`, role: 'gridcell', title: label, 'aria-label': label, 'data-weekday': d, 'data-hour': h, 'data-calls': c.calls }));
    }
  }
  heat.replaceChildren(...cells);
  setState('hourly', busiest ? 'ready' : 'empty');
}
