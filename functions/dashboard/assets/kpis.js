// The key figures: one card each, with how it moved against the window of
// equal length just before.
import { $, cents, duration, number, percent } from './format.js';

// How a figure moved: counts and money by how much (%), rates by how many points.
function change(now, before, kind) {
  if (now == null || before == null) return { text: 'nothing to compare with', trend: 'flat' };
  const diff = now - before;
  const trend = Math.abs(diff) < 1e-9 ? 'flat' : diff > 0 ? 'up' : 'down';
  const arrow = trend === 'up' ? '▲' : trend === 'down' ? '▼' : '■';
  if (kind === 'points') return { text: `${arrow} ${Math.abs(diff).toFixed(1)} pts vs the period before`, trend };
  if (before === 0) return { text: now === 0 ? '■ same as the period before' : `${arrow} from none the period before`, trend };
  return { text: `${arrow} ${Math.abs((diff / before) * 100).toFixed(0)}% vs the period before`, trend };
}

// Which way is good, by what the figure means: more missed calls left unreturned or more cost is bad,
// more bookings or money collected is good; how busy the lines were, or how long calls ran, is neither.
const BETTER = { answered: 'up', notReturned: 'down', bookingRate: 'up', insuranceVerified: 'up', paymentPlans: 'up', collections: 'up', cost: 'down' };
const meaning = (kpi, trend) => (trend === 'flat' || !BETTER[kpi] ? 'neutral' : trend === BETTER[kpi] ? 'good' : 'bad');

export function renderKpis(stats, query) {
  const box = $('kpis');
  box.dataset.query = query;
  const before = stats.previous;
  const set = (kpi, raw, value, sub, was, kind) => {
    const card = box.querySelector(`[data-kpi="${kpi}"]`);
    card.dataset.value = raw == null ? '' : String(raw);
    card.querySelector('.value').textContent = value;
    card.querySelector('.sub').textContent = sub || '\u00a0';
    const moved = change(raw, was, kind);
    const line = card.querySelector('.change');
    line.textContent = moved.text;
    line.dataset.trend = moved.trend;
    line.dataset.meaning = meaning(kpi, moved.trend);
  };
  set('totalCalls', stats.totalCalls, number.format(stats.totalCalls), stats.totalCalls === 1 ? 'call started' : 'calls started', before.totalCalls);
  set('answered', stats.answered, number.format(stats.answered), stats.totalCalls ? `${percent((stats.answered * 100) / stats.totalCalls)} of calls connected` : 'no calls yet', before.answered);
  const m = stats.missedCalls;
  set('notReturned', m.notReturned, number.format(m.notReturned), `of ${number.format(m.missed)} missed inbound calls`, before.missedCalls.notReturned);
  set('bookingRate', stats.bookingRate, percent(stats.bookingRate), stats.bookingRate == null ? 'no calls yet' : 'of calls booked', before.bookingRate, 'points');
  set('avgCallTimeSeconds', stats.avgCallTimeSeconds, duration(stats.avgCallTimeSeconds), 'per call with a duration', before.avgCallTimeSeconds);
  set('insuranceVerified', stats.insuranceVerified, number.format(stats.insuranceVerified), 'calls verified insurance', before.insuranceVerified);
  set('paymentPlans', stats.paymentPlans.count, number.format(stats.paymentPlans.count), `${cents(stats.paymentPlans.totalAmountCents)} in plans`, before.paymentPlans.count);
  const c = stats.collections;
  set('collections', c.totalCollectedCents, cents(c.totalCollectedCents), `${number.format(c.successes)} of ${number.format(c.attempts)} attempts · ${percent(c.collectionRate)} · ${cents(c.collectedOnSuccessCents)} on success`, before.collections.totalCollectedCents);
  set('cost', stats.cost.totalCents, cents(stats.cost.totalCents), stats.cost.avgPerCallCents == null ? 'no costs yet' : `${cents(stats.cost.avgPerCallCents)} per call`, before.cost.totalCents);
  box.dataset.state = 'ready';
}
