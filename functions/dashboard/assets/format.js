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
// The practice's time zone (its settings), where its staff read every time; the browser's until it is known.
let zone;
export const setZone = (tz) => { zone = tz || undefined; };
export const when = (iso) => (iso ? new Date(iso).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZone: zone }) : '—');
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

// A destructive button takes two clicks: the first arms it (saying `confirm`) for a few seconds.
// True on the second click, when the work may go ahead.
export function confirmed(button, confirm) {
  if (button.classList.contains('armed')) return true;
  const rest = button.textContent;
  button.classList.add('armed');
  button.textContent = confirm;
  setTimeout(() => { button.classList.remove('armed'); button.textContent = rest; }, 4000);
  return false;
}

// Hands a file the page made to the browser to save.
export function save(url, name) {
  const link = el('a', { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// An API error in the words of the person using the page: what happened and what to do, never a route or a code.
export function plainError(err) {
  const d = err?.details || {};
  const next = d.nextAllowedAt ? ` The first time every rule allows is ${when(d.nextAllowedAt)}.` : '';
  const words = {
    no_consent: `No consent on record covers this kind of call${d.acceptedBases ? ` (it needs ${d.acceptedBases.map((b) => BASES[b] || b).join(' or ')})` : ''}. Record the patient's consent under Look up a number, then try again.`,
    on_do_not_call_list: 'This number is on the do-not-call list, so it cannot be called.',
    duplicate_call: `A call like this to the same number already waits${d.existingScheduledAt ? ` for ${when(d.existingScheduledAt)}` : ''}. Change or cancel that one instead.`,
    outside_calling_hours: `That time is outside the patient's calling hours.${next}`,
    closed_day: `No calls go out that day where the patient is (a holiday or a closed day).${next}`,
    inconvenient_time: `The patient said this time is inconvenient for them.${next}`,
    frequency_limit: `This number has been called as often as the rules allow for now.${next}`,
    regf_7_in_7: `This debt has had as many calls this week as the law allows.${next}`,
    regf_after_conversation: `The patient spoke with the practice about this debt in the last week.${next}`,
    no_valid_contacts: 'None of the rows can be called; each row below says why.',
    forbidden: 'Your role does not allow this. Ask a practice admin.',
    unauthorized: 'Your sign-in has ended. Sign in again.',
    internal_error: 'Something went wrong on our side. Try again in a minute.',
    not_cancellable: 'This call has already been dialed, so it can no longer be cancelled.',
    invalid_concurrency: 'Keep at least one line for outbound calls: the lines kept for patients calling in must be fewer than the account has.',
    practice_identity_required: 'Set the practice’s name and callback number in Setup first: a voicemail must say both.',
    campaign_cancelled: 'This campaign is cancelled.',
    campaign_ended: 'This campaign has ended.',
  };
  if (words[err?.code]) return words[err.code];
  if (err?.status >= 500) return words.internal_error;
  // Other refusals: the API's own sentence, with any route it names left out.
  return (err?.message || 'Something went wrong.').replace(/\s*(with|use|see)?\s*(GET|POST|PUT|PATCH|DELETE) \/api\/\S+/g, '').trim();
}

const BASES = { prior_express: 'prior express consent', prior_express_written: 'prior express written consent', healthcare_relationship: 'a healthcare relationship' };
