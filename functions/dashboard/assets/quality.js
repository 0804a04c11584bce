// How calls felt: the customers' sentiment, call quality, AI confidence and
// success evaluation.
import { $, el, number, percent, swatch } from './format.js';
import { setState } from './panel.js';

const SENTIMENTS = [['positive', 'Positive', '#15803d'], ['neutral', 'Neutral', '#64748b'], ['negative', 'Negative', '#dc2626'], ['other', 'Other', '#ca8a04'], [null, 'Not rated', '#cbd5e1']];

export function renderQuality(result) {
  if (!result.totalCalls) { setState('quality', 'empty'); return; }
  const bar = $('sentiment-bar');
  const legend = $('sentiment-legend');
  bar.replaceChildren();
  legend.replaceChildren();
  for (const share of result.sentiment) {
    const [code, label, colour] = SENTIMENTS.find(([c]) => c === share.sentiment) || SENTIMENTS[4];
    if (share.count > 0) { const seg = el('span', { title: `${label}: ${share.count}` }); seg.style.width = `${share.percentage}%`; seg.style.background = colour; bar.append(seg); }
    legend.append(el('li', { 'data-sentiment': code ?? 'null' }, swatch(colour), el('span', { text: label }), el('span', { class: 'count', text: number.format(share.count) }), el('span', { class: 'pct', text: percent(share.percentage) })));
  }
  const fact = (label, value) => el('div', {}, el('dt', { text: label }), el('dd', { text: value }));
  $('ratings').replaceChildren(
    fact('Call quality', result.avgCallQuality == null ? '—' : `${result.avgCallQuality.toFixed(2)} / 5 (${number.format(result.callsWithQuality)} calls)`),
    fact('AI confidence', result.avgAiConfidence == null ? '—' : `${percent(result.avgAiConfidence * 100)} (${number.format(result.callsWithConfidence)} calls)`),
    fact('Success evaluation', result.successEvaluation.successRate == null ? '—' : `${percent(result.successEvaluation.successRate)} of ${number.format(result.successEvaluation.evaluated)}`));
  setState('quality', 'ready');
}
