// Formatting and the page's small DOM helpers: numbers, money, times and
// durations as the browser's locale writes them, `el` to build an element,
// and the one helper that decides whether a stored address may be linked.

export const $ = (id) => document.getElementById(id);

export const number = new Intl.NumberFormat();
const money = new Intl.NumberFormat(undefined, { style: 'currency', currency: 'USD' });
export const cents = (c) => (c == null ? '—' : money.format(c / 100));
export const percent = (p) => (p == null ? '—' : `${p.toFixed(1)}%`);
export const duration = (s) => {
  if (s == null) return '—';
  const total = Math.round(s);
  const m = Math.floor(total / 60);
  return m > 0 ? `${m}m ${String(total % 60).padStart(2, '0')}s` : `${total}s`;
};
export const when = (iso) => (iso ? new Date(iso).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' }) : '—');
export const dayLabel = (ymd) => new Date(`${ymd}T12:00:00`).toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
export const yes = (v) => (v == null ? '—' : v ? 'Yes' : 'No');
export const localDate = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;

// An erased patient's calls keep a token instead of the number: shown as what it is.
export const erased = (number) => typeof number === 'string' && number.startsWith('erased-');
export const shownNumber = (number) => (erased(number) ? 'Erased' : number);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const child of children.flat()) if (child != null) node.append(child);
  return node;
}

// Only an https: address is ever linked: a stored value is data, not a place to send someone.
export const httpsUrl = (text) => {
  try {
    const url = new URL(text);
    return url.protocol === 'https:' && url.hostname ? url.href : null;
  } catch {
    return null;
  }
};

export const swatch = (colour) => { const s = el('span', { class: 'swatch', 'aria-hidden': 'true' }); s.style.background = colour; return s; };

// Hands a file the page made to the browser to save.
export function save(url, name) {
  const link = el('a', { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
