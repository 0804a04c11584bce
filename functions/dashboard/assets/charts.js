// The charts (Chart.js, loaded before the modules as `window.Chart`): calls
// per day stacked by outcome, and the outcome doughnut with its legend.
import { $, dayLabel, el, number, percent, swatch } from './format.js';
import { outcomeInfo, outcomes } from './labels.js';
import { setState } from './panel.js';
import { state } from './state.js';

export function chartDefaults() {
  const C = window.Chart;
  C.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
  C.defaults.color = '#475569';
  C.defaults.animation = { duration: 250 };
}

export function renderDaily(daily) {
  const total = daily.days.reduce((n, d) => n + d.totalCalls, 0);
  if (total === 0) { setState('daily', 'empty'); return; }
  const labels = daily.days.map((d) => dayLabel(d.date));
  const present = outcomes().filter(([code]) => daily.days.some((d) => d.outcomes.some((o) => (o.outcome ?? null) === code && o.count > 0)));
  const datasets = present.map(([code, label, colour]) => ({
    label, backgroundColor: colour, borderRadius: 3, maxBarThickness: 42,
    data: daily.days.map((d) => d.outcomes.find((o) => (o.outcome ?? null) === code)?.count || 0),
  }));
  setState('daily', 'ready');
  const chart = state.charts.daily;
  if (chart) { chart.data.labels = labels; chart.data.datasets = datasets; chart.update(); return; }
  state.charts.daily = new window.Chart($('daily-chart'), {
    type: 'bar',
    data: { labels, datasets },
    options: {
      maintainAspectRatio: false,
      scales: { x: { stacked: true, grid: { display: false } }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
      plugins: { legend: { position: 'bottom', labels: { boxWidth: 12, boxHeight: 12 } }, tooltip: { mode: 'index', intersect: false } },
    },
  });
}

export function renderOutcomes(result) {
  const legend = $('outcome-legend');
  legend.replaceChildren();
  if (result.totalCalls === 0) { setState('outcomes', 'empty'); return; }
  const rows = result.outcomes.filter((o) => o.count > 0);
  for (const o of rows) {
    const [code, label, colour] = outcomeInfo(o.outcome);
    legend.append(el('li', { 'data-outcome': code ?? 'null' }, swatch(colour), el('span', { text: label }), el('span', { class: 'count', text: number.format(o.count) }), el('span', { class: 'pct', text: percent(o.percentage) })));
  }
  setState('outcomes', 'ready');
  const data = { labels: rows.map((o) => outcomeInfo(o.outcome)[1]), datasets: [{ data: rows.map((o) => o.count), backgroundColor: rows.map((o) => outcomeInfo(o.outcome)[2]), borderWidth: 2, borderColor: '#fff' }] };
  const chart = state.charts.outcomes;
  if (chart) { chart.data = data; chart.update(); return; }
  state.charts.outcomes = new window.Chart($('outcome-chart'), { type: 'doughnut', data, options: { maintainAspectRatio: false, cutout: '62%', plugins: { legend: { display: false } } } });
}
