// CallOps dashboard: reads the /api routes with the signed-in user's bearer
// token and keeps the figures fresh while the page is open. No framework,
// no build step: this file is served as written.
'use strict';
(() => {
  // One colour per outcome, the same in every chart, badge and legend.
  const OUTCOMES = [
    ['BOOKED', 'Booked', '#15803d'],
    ['TRANSFERRED', 'Transferred', '#7c3aed'],
    ['INSURANCE_INQUIRY', 'Insurance inquiry', '#2563eb'],
    ['PAYMENT_PLAN', 'Payment plan', '#ca8a04'],
    ['INFORMATION', 'Information', '#0891b2'],
    ['VOICEMAIL', 'Voicemail', '#db2777'],
    ['NO_ANSWER', 'No answer', '#64748b'],
    ['BUSY', 'Busy', '#ea580c'],
    ['FAILED', 'Failed', '#dc2626'],
    ['OTHER', 'Other', '#a8a29e'],
    [null, 'Unknown', '#cbd5e1'],
  ];
  const outcomeInfo = (code) => OUTCOMES.find(([c]) => c === (code ?? null)) || OUTCOMES[OUTCOMES.length - 1];
  const CALL_TYPES = {
    INBOUND: 'Inbound', OUTBOUND_LEAD: 'Lead follow-up', OUTBOUND_DEBT: 'Collection',
    OUTBOUND_FOLLOWUP: 'Follow-up', OUTBOUND_CAMPAIGN: 'Campaign', OUTBOUND_OTHER: 'Outbound',
  };
  const STATUSES = {
    SCHEDULED: 'Scheduled', DIALING: 'Dialing', IN_PROGRESS: 'In progress', COMPLETED: 'Completed',
    MISSED: 'Missed', VOICEMAIL: 'Voicemail', FAILED: 'Failed', CANCELLED: 'Cancelled',
  };
  const PAGE_SIZE = 10;

  const $ = (id) => document.getElementById(id);
  const state = {
    token: null,
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
    tz: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC',
    cursors: [null], // the cursor of each recent-calls page seen so far
    page: 0,
    charts: {},
    generation: 0, // bumps when the filters change, so late answers are dropped
  };

  // ---------- formatting ----------
  const number = new Intl.NumberFormat();
  const money = new Intl.NumberFormat(undefined, { style: 'currency', currency: 'USD' });
  const cents = (c) => (c == null ? '—' : money.format(c / 100));
  const percent = (p) => (p == null ? '—' : `${p.toFixed(1)}%`);
  const duration = (s) => {
    if (s == null) return '—';
    const total = Math.round(s);
    const m = Math.floor(total / 60);
    return m > 0 ? `${m}m ${String(total % 60).padStart(2, '0')}s` : `${total}s`;
  };
  const when = (iso) => (iso ? new Date(iso).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' }) : '—');
  const dayLabel = (ymd) => new Date(`${ymd}T12:00:00`).toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  const yes = (v) => (v == null ? '—' : v ? 'Yes' : 'No');
  const localDate = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  const agentName = (id) => state.agents.find((a) => a.id === id)?.name || id;

  function el(tag, attrs = {}, ...children) {
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
  const httpsUrl = (text) => {
    try {
      const url = new URL(text);
      return url.protocol === 'https:' && url.hostname ? url.href : null;
    } catch {
      return null;
    }
  };
  const swatch = (colour) => { const s = el('span', { class: 'swatch', 'aria-hidden': 'true' }); s.style.background = colour; return s; };
  const outcomeBadge = (code) => { const [, label, colour] = outcomeInfo(code); return el('span', { class: 'badge' }, swatch(colour), label); };
  const statusBadge = (status) => el('span', { class: `status ${status}` }, STATUSES[status] || status);

  // ---------- the API ----------
  class ApiError extends Error {
    constructor(status, code, message) { super(message); this.status = status; this.code = code; }
  }
  async function api(path, options = {}) {
    const headers = { Authorization: `Bearer ${state.token}`, Accept: 'application/json' };
    if (options.body) headers['Content-Type'] = 'application/json';
    const res = await fetch(path, { ...options, headers });
    const text = await res.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch { body = null; }
    if (!res.ok) {
      if (res.status === 401 && signIn.mode === 'oidc') return signIn.restart();
      throw new ApiError(res.status, body?.error?.code || `http_${res.status}`, body?.error?.message || `The server answered ${res.status}.`);
    }
    return body;
  }

  // ---------- sign-in ----------
  // Deployed: OpenID Connect, authorization code with PKCE. The token lives in
  // this closure only; the PKCE verifier waits in sessionStorage (this origin,
  // this tab) for the one redirect and is removed when it comes back.
  const signIn = {
    mode: 'token',
    async token(config) {
      this.mode = config.mode;
      this.config = config;
      if (config.mode === 'token') return config.token;
      const issuer = config.issuer.replace(/\/$/, '');
      const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
      this.discovery = discovery;
      const params = new URLSearchParams(location.search);
      const redirectUri = location.origin + location.pathname;
      if (params.has('code')) {
        const pending = JSON.parse(sessionStorage.getItem('callops.signin') || 'null');
        sessionStorage.removeItem('callops.signin');
        history.replaceState(null, '', redirectUri);
        if (!pending || pending.state !== params.get('state')) throw new Error('The sign-in answer did not match this page; reload to sign in again.');
        const res = await fetch(discovery.token_endpoint, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'authorization_code', code: params.get('code'), redirect_uri: redirectUri, client_id: config.clientId, code_verifier: pending.verifier }),
        });
        if (!res.ok) throw new Error('The identity provider did not give a token; reload to sign in again.');
        const tokens = await res.json();
        return tokens.access_token || tokens.id_token;
      }
      await this.restart();
      return new Promise(() => {}); // the browser is leaving for the sign-in page
    },
    async restart() {
      const random = (n) => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(n)))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      const verifier = random(48);
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
      const challenge = btoa(String.fromCharCode(...digest)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      const stateValue = random(16);
      sessionStorage.setItem('callops.signin', JSON.stringify({ verifier, state: stateValue }));
      const url = new URL(this.discovery.authorization_endpoint);
      url.search = new URLSearchParams({
        response_type: 'code', client_id: this.config.clientId, redirect_uri: location.origin + location.pathname,
        scope: this.config.scope, state: stateValue, code_challenge: challenge, code_challenge_method: 'S256',
      });
      location.assign(url.toString());
      return new Promise(() => {});
    },
  };

  // ---------- filters ----------
  function windowQuery() {
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

  function describeRange(from, to) {
    const fmt = (ymd) => new Date(`${ymd}T12:00:00`).toLocaleDateString(undefined, { weekday: 'short', month: 'short', day: 'numeric', year: 'numeric' });
    const who = state.agentId ? agentName(state.agentId) : 'all agents';
    const which = state.kind ? $('kind').selectedOptions[0].textContent.toLowerCase() : 'all calls';
    return `${from === to ? fmt(from) : `${fmt(from)} – ${fmt(to)}`} · ${who} · ${which} · times in ${state.tz}`;
  }

  function setPreset(preset) {
    state.preset = preset;
    for (const b of document.querySelectorAll('[data-preset]')) b.setAttribute('aria-pressed', String(b.dataset.preset === preset));
    $('custom-range').hidden = preset !== 'custom';
    if (preset === 'custom' && !state.from) {
      const { from, to } = { from: localDate(new Date(Date.now() - 13 * 864e5)), to: localDate(new Date()) };
      state.from = from; state.to = to; $('from').value = from; $('to').value = to;
    }
    filtersChanged();
  }

  function filtersChanged() {
    state.generation += 1;
    state.cursors = [null];
    state.page = 0;
    state.missedCursor = null;
    loadAll(false);
  }

  // ---------- panels ----------
  function setState(id, value, message) {
    const box = $(id);
    box.dataset.state = value;
    if (message != null) { const note = box.querySelector('.error-note'); if (note) note.textContent = message; }
  }

  // How a figure moved against the window of equal length just before:
  // counts and money by how much (%), rates by how many points.
  function change(now, before, kind) {
    if (now == null || before == null) return { text: 'nothing to compare with', trend: 'flat' };
    const diff = now - before;
    const trend = Math.abs(diff) < 1e-9 ? 'flat' : diff > 0 ? 'up' : 'down';
    const arrow = trend === 'up' ? '▲' : trend === 'down' ? '▼' : '■';
    if (kind === 'points') return { text: `${arrow} ${Math.abs(diff).toFixed(1)} pts vs the period before`, trend };
    if (before === 0) return { text: now === 0 ? '■ same as the period before' : `${arrow} from none the period before`, trend };
    return { text: `${arrow} ${Math.abs((diff / before) * 100).toFixed(0)}% vs the period before`, trend };
  }

  function renderKpis(stats, query) {
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

  // ---------- agents side by side ----------
  const AGENT_COLUMNS = {
    name: (r) => (r.name || 'Unassigned').toLowerCase(),
    totalCalls: (r) => r.totalCalls,
    answered: (r) => r.answered,
    bookingRate: (r) => r.bookingRate ?? -1,
    avgCallTimeSeconds: (r) => r.avgCallTimeSeconds ?? -1,
    insuranceVerified: (r) => r.insuranceVerified,
    collected: (r) => r.collections.totalCollectedCents,
    notReturned: (r) => r.missedCalls.notReturned,
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
      el('td', { class: 'num hide-narrow', text: cents(r.cost.totalCents) }),
    ];
  }

  function renderAgents(result) {
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

  function sortAgents(key) {
    const sort = state.agentSort;
    state.agentSort = { key, descending: sort.key === key ? !sort.descending : key !== 'name' };
    renderAgents();
  }

  // ---------- when patients call ----------
  const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
  const hourLabel = (h) => (h === 0 ? '12a' : h < 12 ? `${h}a` : h === 12 ? '12p' : `${h - 12}p`);

  function renderHourly(result) {
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

  // ---------- how calls felt ----------
  const SENTIMENTS = [['positive', 'Positive', '#15803d'], ['neutral', 'Neutral', '#64748b'], ['negative', 'Negative', '#dc2626'], ['other', 'Other', '#ca8a04'], [null, 'Not rated', '#cbd5e1']];

  function renderQuality(result) {
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

  // ---------- missed calls to win back ----------
  function renderMissed(result, more) {
    const list = $('missed-rows');
    if (!more) list.replaceChildren();
    $('missed-caption').textContent = `${number.format(result.notReturned)} of ${number.format(result.missed)} missed inbound calls in this range wait to be returned (no later call with the number connected).`;
    state.missedCursor = result.nextCursor;
    $('missed-more').hidden = !result.nextCursor;
    for (const call of result.calls) {
      const status = el('span', { class: 'form-status', role: 'status' });
      // A withheld caller's label or an erased number's token cannot be dialed: nothing to call back.
      const dialable = /^\+[1-9][0-9]{6,14}$/.test(call.phoneNumber);
      const back = dialable
        ? el('button', { type: 'button', class: 'primary', 'aria-label': `Call ${call.phoneNumber} back` }, 'Call back')
        : el('span', { class: 'no-callback', text: 'No number to call back' });
      if (dialable) back.addEventListener('click', () => callBack(call, back, status));
      const what = [call.phoneNumber, agentName(call.voiceAgentId), outcomeInfo(call.outcome)[1], call.duration != null ? duration(call.duration) : null].filter(Boolean).join(' · ');
      list.append(el('li', { 'data-call-id': call.id, 'data-phone': call.phoneNumber }, el('span', { class: 'when', text: when(call.callStartedAt) }), el('span', { class: 'who', text: what }), back, status));
    }
    setState('missed', list.children.length ? 'ready' : 'empty');
  }

  // A call back is a scheduled call like any other: every rule of the outbound path applies, and a refusal says which.
  async function callBack(call, button, status) {
    const own = state.agents.find((a) => a.id === call.voiceAgentId && !a.importedFrom);
    const agent = own || state.agents.find((a) => !a.importedFrom);
    button.disabled = true;
    status.className = 'form-status';
    status.textContent = 'Scheduling…';
    try {
      const body = {
        phoneNumber: call.phoneNumber, callType: 'OUTBOUND_FOLLOWUP', scheduledAt: new Date(Date.now() + 2 * 60 * 1000).toISOString(),
        voiceAgentId: agent?.id, purpose: 'Returning a missed call', moveToCallingHours: true,
      };
      const placed = await api('/api/outbound/schedule', { method: 'POST', body: JSON.stringify(body) });
      status.className = 'form-status ok';
      status.textContent = `Call back scheduled for ${when(placed.scheduledAt)}.`;
      await loadScheduled(true);
    } catch (err) {
      status.className = 'form-status error';
      status.textContent = err.message;
      button.disabled = false;
    }
  }

  // ---------- export ----------
  // The calls of the range as one CSV file: the API answers a part at a time (X-Next-Cursor), each part is appended as it comes.
  async function exportCalls() {
    const button = $('export-calls');
    const { query, from, to } = windowQuery();
    const parts = [];
    let cursor = null;
    button.disabled = true;
    try {
      do {
        const q = new URLSearchParams(query);
        q.set('format', 'csv');
        q.set('content', 'false');
        if (cursor) q.set('cursor', cursor);
        button.textContent = `Exporting… ${parts.length ? `part ${parts.length + 1}` : ''}`;
        const res = await fetch(`/api/calls/export?${q}`, { headers: { Authorization: `Bearer ${state.token}` } });
        if (!res.ok) {
          const body = await res.json().catch(() => null);
          throw new ApiError(res.status, body?.error?.code || `http_${res.status}`, body?.error?.message || `The server answered ${res.status}.`);
        }
        parts.push(await res.blob());
        cursor = res.headers.get('X-Next-Cursor');
      } while (cursor);
      const url = URL.createObjectURL(new Blob(parts, { type: 'text/csv' }));
      const link = el('a', { href: url, download: `calls-${from}-to-${to}.csv` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      banner(`Could not export the calls: ${err.message}`);
    } finally {
      button.disabled = false;
      button.textContent = 'Export CSV';
    }
  }

  function chartDefaults() {
    const C = window.Chart;
    C.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
    C.defaults.color = '#475569';
    C.defaults.animation = { duration: 250 };
  }

  function renderDaily(daily) {
    const total = daily.days.reduce((n, d) => n + d.totalCalls, 0);
    if (total === 0) { setState('daily', 'empty'); return; }
    const labels = daily.days.map((d) => dayLabel(d.date));
    const present = OUTCOMES.filter(([code]) => daily.days.some((d) => d.outcomes.some((o) => (o.outcome ?? null) === code && o.count > 0)));
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

  function renderOutcomes(result) {
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

  function renderRecent(result) {
    const rows = $('recent-rows');
    rows.replaceChildren();
    state.cursors[state.page + 1] = result.nextCursor;
    $('newer').disabled = state.page === 0;
    $('older').disabled = !result.nextCursor;
    $('page-label').textContent = `Page ${state.page + 1}`;
    if (result.calls.length === 0) { setState('recent', 'empty'); return; }
    for (const call of result.calls) {
      const open = () => showCall(call.id);
      rows.append(el('tr', { tabindex: '0', 'data-call-id': call.id, onclick: open, onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); } } },
        el('td', { text: when(call.callStartedAt || call.createdAt) }),
        el('td', { class: 'hide-narrow', text: agentName(call.voiceAgentId) }),
        el('td', { text: shownNumber(call.phoneNumber) }),
        el('td', { class: 'hide-narrow', text: CALL_TYPES[call.callType] || call.callType }),
        el('td', { class: 'hide-narrow' }, statusBadge(call.status)),
        el('td', {}, outcomeBadge(call.outcome)),
        el('td', { class: 'num hide-narrow', text: duration(call.duration) }),
        el('td', { class: 'num', text: cents(call.costCents) })));
    }
    setState('recent', 'ready');
  }

  function renderScheduled(result) {
    const list = $('scheduled-rows');
    list.replaceChildren();
    if (result.calls.length === 0) { setState('scheduled', 'empty'); return; }
    for (const call of result.calls) {
      const cancel = el('button', { type: 'button', class: 'danger', 'aria-label': `Cancel the call to ${call.phoneNumber}` }, 'Cancel');
      cancel.addEventListener('click', () => cancelCall(call, cancel));
      const who = [call.customerName, call.phoneNumber, CALL_TYPES[call.callType], agentName(call.voiceAgentId), call.callPurpose].filter(Boolean).join(' · ');
      list.append(el('li', { 'data-call-id': call.id, 'data-phone': call.phoneNumber }, el('span', { class: 'when', text: when(call.scheduledAt) }), el('span', { class: 'who', text: who }), cancel));
    }
    setState('scheduled', 'ready');
  }

  // Two clicks to cancel: the first arms the button for a few seconds.
  async function cancelCall(call, button) {
    if (!button.classList.contains('armed')) {
      button.classList.add('armed');
      button.textContent = 'Confirm cancel';
      setTimeout(() => { button.classList.remove('armed'); button.textContent = 'Cancel'; }, 4000);
      return;
    }
    button.disabled = true;
    try {
      await api(`/api/outbound/scheduled/${encodeURIComponent(call.id)}`, { method: 'DELETE' });
      await loadScheduled();
    } catch (err) {
      banner(`Could not cancel the call to ${call.phoneNumber}: ${err.message}`);
      button.disabled = false;
    }
  }

  function renderCampaigns(views) {
    const list = $('campaign-rows');
    list.replaceChildren();
    if (views.length === 0) { setState('campaigns', 'empty'); return; }
    for (const { campaign, counts } of views) {
      const waiting = counts.scheduled + counts.dialing + counts.inProgress;
      const done = counts.total - waiting;
      const pct = counts.total ? Math.round((done / counts.total) * 100) : 0;
      const bar = el('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': String(counts.total), 'aria-valuenow': String(done), 'aria-label': `${campaign.name}: ${done} of ${counts.total} calls done` });
      for (const [code, , colour] of OUTCOMES) {
        const n = code ? counts.outcomes[code] || 0 : 0;
        if (n > 0 && counts.total) { const seg = el('span', { title: `${outcomeInfo(code)[1]}: ${n}` }); seg.style.width = `${(n / counts.total) * 100}%`; seg.style.background = colour; bar.append(seg); }
      }
      const other = done - Object.values(counts.outcomes).reduce((a, b) => a + b, 0);
      if (other > 0) { const seg = el('span'); seg.style.width = `${(other / counts.total) * 100}%`; seg.style.background = '#94a3b8'; bar.append(seg); }
      const booked = counts.outcomes.BOOKED || 0;
      list.append(el('li', { 'data-campaign-id': campaign.id },
        el('div', { class: 'top' }, el('span', { class: 'name', text: campaign.name }), el('span', {}, statusBadge(campaign.status === 'ACTIVE' ? (waiting ? 'IN_PROGRESS' : 'COMPLETED') : 'CANCELLED'))),
        bar,
        el('div', { class: 'meta', text: `${number.format(done)} of ${number.format(counts.total)} calls done (${pct}%) · ${number.format(booked)} booked · ${number.format(waiting)} waiting · ${agentName(campaign.voiceAgentId)}` })));
    }
    setState('campaigns', 'ready');
  }

  // An erased patient's calls keep a token instead of the number: shown as what it is.
  const erased = (number) => typeof number === 'string' && number.startsWith('erased-');
  const shownNumber = (number) => (erased(number) ? 'Erased' : number);

  const COST_PARTS = [['transportCents', 'Phone'], ['sttCents', 'Transcriber'], ['llmCents', 'Model'], ['ttsCents', 'Voice'], ['vapiCents', 'Vapi'], ['analysisCents', 'Analysis']];

  function costParts(breakdown) {
    if (!breakdown) return null;
    const parts = COST_PARTS.filter(([key]) => breakdown[key] != null).map(([key, label]) => `${label} ${cents(breakdown[key])}`);
    return parts.length ? parts.join(' · ') : null;
  }

  async function showCall(id) {
    const dialog = $('call-detail');
    const body = $('detail-body');
    body.replaceChildren(el('p', { text: 'Loading…' }));
    if (!dialog.open) dialog.showModal();
    try {
      const call = await api(`/api/calls/${encodeURIComponent(id)}`);
      $('detail-title').textContent = `${CALL_TYPES[call.callType] || 'Call'} · ${call.customerName || shownNumber(call.phoneNumber)}`;
      const fact = (label, value) => el('div', {}, el('dt', { text: label }), el('dd', {}, value ?? '—'));
      const facts = el('dl', { class: 'facts' },
        fact('Started', when(call.callStartedAt)), fact('Ended', when(call.callEndedAt)), fact('Duration', duration(call.duration)),
        fact('Status', statusBadge(call.status)), fact('Outcome', outcomeBadge(call.outcome)), fact('Agent', agentName(call.voiceAgentId)),
        fact('Number', shownNumber(call.phoneNumber)), fact('Cost', cents(call.costCents)), fact('Insurance verified', yes(call.insuranceVerified)),
        fact('Insurance provider', call.insuranceProvider), fact('Payment plan', call.paymentPlanDiscussed ? cents(call.paymentPlanAmount) : 'No'),
        fact('Collection', call.collectionAttempt ? `${call.collectionSuccess ? 'Collected' : 'Not collected'} ${cents(call.collectionAmount)}` : 'No'),
        fact('Transferred', call.transferredToStaff ? call.transferredTo || 'Yes' : 'No'), fact('Follow-up', call.followUpRequired ? when(call.followUpDate) : 'No'),
        fact('Call quality', call.callQuality != null ? `${call.callQuality} / 5` : null), fact('Sentiment', call.customerSentiment),
        fact('AI confidence', call.aiConfidence != null ? percent(call.aiConfidence * 100) : null), fact('Ended because', call.endedReason),
        fact('Success evaluation', call.successEvaluation), fact('Response time', call.latency && call.latency.turnMs != null ? `${number.format(call.latency.turnMs)} ms per turn` : null),
        fact('Cost by part', costParts(call.costBreakdown)));
      const parts = [facts];
      const recording = httpsUrl(call.recordingUrl);
      if (recording) parts.push(el('p', {}, el('a', { href: recording, target: '_blank', rel: 'noopener noreferrer' }, 'Open the recording')));
      parts.push(el('section', {}, el('h3', { text: 'Summary' }), el('p', { text: call.summary || 'No summary.' })));
      parts.push(el('section', {}, el('h3', { text: 'Transcript' }), el('pre', { class: 'transcript', text: call.transcript || 'No transcript.' })));
      if (call.transcriptTruncated) parts.push(el('p', { class: 'meta', text: 'The transcript was cut at 200,000 bytes.' }));
      const cut = (call.truncatedFields || []).filter((f) => f !== 'transcript');
      if (cut.length) parts.push(el('p', { class: 'meta', text: `Cut to fit: ${cut.join(', ')}.` }));
      if (call.compliance) {
        const c = call.compliance;
        const where = [c.zones.join(', '), c.states.join(', ')].filter(Boolean).join(' · ');
        const consent = c.consent ? `Rests on ${BASES[c.consent.basis] || c.consent.basis} consent (${c.consent.source}, captured ${when(c.consent.capturedAt)}).` : null;
        const recorded = c.recording ? RECORDING_ASKS[c.recording.asked] : null;
        parts.push(el('section', {}, el('h3', { text: 'Why it was placed' }),
          el('p', { class: 'meta', text: `Decided ${when(c.decidedAt)} for a callee in ${where || 'an unknown place'}.` }),
          consent && el('p', { class: 'consent-relied', text: consent }),
          recorded && el('p', { class: 'meta', text: `Recording: ${recorded}.` }),
          el('ul', { class: 'rules' }, ...c.rules.map((r) => el('li', { text: `${r.ok ? '✓' : '✗'} ${r.rule}: ${r.detail}` })))));
      }
      if (call.recordingWithheld) parts.push(el('p', { class: 'meta', text: `No recording kept: ${call.recordingWithheld}.` }));
      const listed = el('p', { class: 'meta dnc-state', text: 'Checking the do-not-call list…' });
      parts.push(listed);
      if (erased(call.phoneNumber)) listed.textContent = 'The patient\u2019s records were erased: the call keeps no number.';
      else dncState(call.phoneNumber).then((text) => { listed.textContent = text; }).catch(() => { listed.textContent = 'Could not read the do-not-call list.'; });
      if (call.imported) parts.push(el('p', { class: 'meta', text: 'Imported from the legacy call log.' }));
      if (call.contentRemoved) {
        const why = call.contentRemoved.reason === 'erasure' ? "the patient's records were erased" : "it passed the practice's retention";
        parts.push(el('p', { class: 'meta content-removed', text: `Transcript, summary and recording removed ${when(call.contentRemoved.at)}: ${why}.` }));
      }
      body.replaceChildren(...parts);
    } catch (err) {
      body.replaceChildren(el('p', { class: 'form-status error', text: `Could not load the call: ${err.message}` }));
    }
  }

  // ---------- a patient's number: consents, do-not-call state and history ----------
  const BASES = { prior_express: 'prior express', prior_express_written: 'prior express written', healthcare_relationship: 'healthcare relationship' };
  const RECORDING_ASKS = { record: 'recorded (one-party consent where the callee is)', disclose: 'disclosed and asked (everyone\u2019s consent needed)', off: 'switched off (everyone\u2019s consent needed)' };
  const numberPath = (number) => encodeURIComponent(number);

  async function dncHistory(number) {
    return (await api(`/api/dnc/${numberPath(number)}/history`)).history || [];
  }

  async function dncState(number) {
    const history = await dncHistory(number);
    const last = history[history.length - 1];
    if (!last || last.action !== 'added') return 'Not on the do-not-call list.';
    return `On the do-not-call list since ${when(last.at)} (${[last.channel, last.reason].filter(Boolean).join(', ')}).`;
  }

  async function showNumber(number) {
    const box = $('number');
    const body = $('number-body');
    box.dataset.state = 'loading';
    try {
      const [consents, history, recent] = await Promise.all([
        api(`/api/consents?phoneNumber=${encodeURIComponent(number)}`), dncHistory(number), api(`/api/analytics/calls/recent?limit=10&content=false&phoneNumber=${encodeURIComponent(number)}`)]);
      const calls = (recent.calls || []).map((c) => el('li', { 'data-call': c.id },
        el('button', { type: 'button', class: 'link', onclick: () => showCall(c.id) }, `${when(c.callStartedAt || c.createdAt)} · ${CALL_TYPES[c.callType] || c.callType} · ${STATUSES[c.status] || c.status}${c.outcome ? ` · ${outcomeInfo(c.outcome)[1]}` : ''}`)));
      const rows = (consents.consents || []).map((c) => el('li', { 'data-consent': c.id, class: c.revoked ? 'revoked' : 'active' },
        el('span', { text: `${BASES[c.basis] || c.basis} · ${c.source} · captured ${when(c.capturedAt)}${c.scope.length ? ` · ${c.scope.join(', ')}` : ''}` }),
        c.revoked
          ? el('span', { class: 'meta', text: ` — revoked ${when(c.revoked.at)} (${c.revoked.channel}${c.revoked.reason ? `, ${c.revoked.reason}` : ''})` })
          : el('button', { type: 'button', class: 'revoke', onclick: () => revokeConsent(number, c.id) }, 'Revoke')));
      const changes = history.map((h) => el('li', { text: `${when(h.at)} · ${h.action} · ${[h.channel, h.source, h.reason].filter(Boolean).join(' · ')} · by ${h.by.name || h.by.sub}` }));
      const form = el('form', { class: 'consent-form', id: 'consent-form', onsubmit: (e) => recordConsent(e, number) },
        el('label', {}, 'Basis ', el('select', { name: 'basis' }, ...Object.entries(BASES).map(([k, v]) => el('option', { value: k }, v)))),
        el('label', {}, 'Source ', el('input', { name: 'source', type: 'text', required: true, placeholder: 'New-patient intake form' })),
        el('button', { type: 'submit' }, 'Record consent'),
        el('p', { class: 'form-status', id: 'consent-status', role: 'status' }));
      body.replaceChildren(
        el('h3', { text: number }),
        el('p', { class: 'meta dnc-state', text: await dncState(number) }),
        el('h4', { text: 'Consents' }), rows.length ? el('ul', { class: 'consent-list', id: 'consent-rows' }, ...rows) : el('p', { class: 'meta', id: 'consent-rows', text: 'No consent on record: no outbound call can be placed.' }),
        form,
        el('h4', { text: 'Do-not-call history' }), changes.length ? el('ul', { class: 'history-list' }, ...changes) : el('p', { class: 'meta', text: 'Never on the list.' }),
        el('h4', { text: 'Last calls' }), calls.length ? el('ul', { class: 'history-list', id: 'number-calls' }, ...calls) : el('p', { class: 'meta', id: 'number-calls', text: 'No calls yet.' }),
        el('h4', { text: "The patient's records (admins)" }),
        el('div', { class: 'record-actions' },
          el('button', { type: 'button', id: 'export-json', onclick: () => exportRecords(number, 'json') }, 'Export JSON'),
          el('button', { type: 'button', id: 'export-csv', onclick: () => exportRecords(number, 'csv') }, 'Export CSV'),
          el('button', { type: 'button', id: 'erase-records', class: 'danger', onclick: () => eraseRecords(number) }, 'Erase records')),
        el('p', { class: 'form-status', id: 'records-status', role: 'status' }));
      box.dataset.state = 'ready';
    } catch (err) {
      box.dataset.state = 'error';
      box.querySelector('.error-note').textContent = `Could not look this number up: ${err.message}`;
    }
  }

  // A patient's own copy: the file comes with the page's token, then is handed to the browser to save.
  async function exportRecords(number, format) {
    const status = $('records-status');
    try {
      const res = await fetch(`/api/patients/${numberPath(number)}/export?format=${format}`, { headers: { Authorization: `Bearer ${state.token}` } });
      if (!res.ok) {
        const body = await res.json().catch(() => null);
        throw new ApiError(res.status, body?.error?.code || `http_${res.status}`, body?.error?.message || `The server answered ${res.status}.`);
      }
      const url = URL.createObjectURL(await res.blob());
      const link = el('a', { href: url, download: `patient-${number.replace(/\D/g, '')}.${format}` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      status.className = 'form-status';
      status.textContent = `Exported as ${format.toUpperCase()}.`;
    } catch (err) {
      status.className = 'form-status error';
      status.textContent = err.message;
    }
  }

  async function eraseRecords(number) {
    const status = $('records-status');
    if (!window.confirm(`Erase every call of ${number}? Transcripts, summaries and recordings go, and the calls keep no number. Consents and the do-not-call entry stay.`)) return;
    try {
      const done = await api(`/api/patients/${numberPath(number)}`, { method: 'DELETE' });
      await showNumber(number);
      const after = $('records-status');
      after.className = 'form-status';
      after.textContent = `Erased ${done.erasedCalls} calls${done.cancelledCalls ? ` (${done.cancelledCalls} waiting, cancelled)` : ''}.`;
    } catch (err) {
      status.className = 'form-status error';
      status.textContent = err.message;
    }
  }

  // ---------- the audit log (admins): read on demand, as each read is itself an entry ----------
  const ENTITY_TYPES = ['call', 'campaign', 'agent', 'tenant', 'consent', 'number', 'patient'];
  const audit = { cursor: null };

  async function loadAudit(more) {
    const box = $('audit');
    const form = $('audit-form');
    const q = new URLSearchParams({ limit: '25' });
    for (const name of ['entityType', 'entityId', 'actor']) {
      const value = (form.elements[name].value || '').trim();
      if (value) q.set(name, value);
    }
    if (more && audit.cursor) q.set('cursor', audit.cursor);
    if (!more) box.dataset.state = 'loading';
    try {
      const page = await api(`/api/audit?${q}`);
      const rows = page.entries.map((e) => el('tr', { 'data-action': e.action },
        el('td', { text: when(e.at) }), el('td', { text: e.actor.name || e.actor.sub }), el('td', { text: e.action }),
        el('td', { text: `${e.entityType} ${e.entityId}` }), el('td', { text: Object.keys(e.changes || {}).join(', ') }),
        el('td', { text: [e.sourceIp, e.userAgent].filter(Boolean).join(' · ') })));
      const body = $('audit-rows');
      if (more) body.append(...rows); else body.replaceChildren(...rows);
      audit.cursor = page.nextCursor;
      $('audit-more').hidden = !page.nextCursor;
      box.dataset.state = body.children.length ? 'ready' : 'empty';
    } catch (err) {
      box.dataset.state = 'error';
      box.querySelector('.error-note').textContent = err.status === 403 ? 'Only a practice admin may read the audit log.' : `Could not load the audit log: ${err.message}`;
    }
  }

  async function recordConsent(event, number) {
    event.preventDefault();
    const data = new FormData(event.target);
    const status = $('consent-status');
    try {
      await api('/api/consents', { method: 'POST', body: JSON.stringify({ phoneNumber: number, basis: data.get('basis'), source: (data.get('source') || '').toString().trim() }) });
      await showNumber(number);
    } catch (err) {
      status.className = 'form-status error';
      status.textContent = err.message;
    }
  }

  async function revokeConsent(number, id) {
    try {
      await api(`/api/consents/${encodeURIComponent(id)}/revoke`, { method: 'POST', body: JSON.stringify({ channel: 'staff', reason: 'revoked at the front desk' }) });
    } finally {
      await showNumber(number);
    }
  }

  // ---------- loading ----------
  function banner(message) {
    const b = $('banner');
    b.textContent = message || '';
    b.hidden = !message;
  }

  async function panel(id, work, quiet) {
    const generation = state.generation;
    if (!quiet) setState(id, 'loading');
    try {
      await work(generation);
      return true;
    } catch (err) {
      if (generation !== state.generation) return false;
      setState(id, 'error', `Could not load this: ${err.message}`);
      return false;
    }
  }
  const current = (generation) => generation === state.generation;

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
      if (current(generation)) { kpis.dataset.state = 'error'; banner(err.message); }
    }
    return results.every((r) => r.value);
  }

  async function loadRecent(quiet) {
    const { query } = windowQuery();
    const q = new URLSearchParams(query);
    q.set('limit', String(PAGE_SIZE));
    // A list shows facts: it asks for no content, so it reads none and the audit log has nothing to say of it.
    q.set('content', 'false');
    const cursor = state.cursors[state.page];
    if (cursor) q.set('cursor', cursor);
    return panel('recent', async (g) => { const result = await api(`/api/analytics/calls/recent?${q}`); if (current(g)) renderRecent(result); }, quiet);
  }

  async function loadMissed(quiet, more) {
    const { query } = windowQuery();
    const q = new URLSearchParams(query);
    q.set('limit', '10');
    if (more && state.missedCursor) q.set('cursor', state.missedCursor);
    return panel('missed', async (g) => { const result = await api(`/api/analytics/missed?${q}`); if (current(g)) renderMissed(result, more); }, quiet || more);
  }

  async function loadScheduled(quiet) {
    const q = new URLSearchParams({ limit: '20' });
    if (state.agentId) q.set('agentId', state.agentId);
    return panel('scheduled', async (g) => { const result = await api(`/api/outbound/scheduled?${q}`); if (current(g)) renderScheduled(result); }, quiet);
  }

  async function loadCampaigns(quiet) {
    return panel('campaigns', async (g) => {
      const { campaigns } = await api('/api/campaigns');
      const mine = campaigns.filter((c) => !state.agentId || c.voiceAgentId === state.agentId).slice(0, 8);
      const views = await Promise.all(mine.map((c) => api(`/api/campaigns/${encodeURIComponent(c.id)}`)));
      if (current(g)) renderCampaigns(views);
    }, quiet);
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
    const form = $('schedule-agent');
    for (const a of agents) {
      filter.append(el('option', { value: a.id, text: a.name }));
      // An agent imported with legacy history is a filter, never a line to call from.
      if (!a.importedFrom) form.append(el('option', { value: a.id, text: a.name }));
    }
  }

  // ---------- scheduling form ----------
  function defaultScheduleTime() {
    const d = new Date(Date.now() + 60 * 60 * 1000);
    d.setMinutes(d.getMinutes() < 30 ? 30 : 60, 0, 0);
    return `${localDate(d)}T${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  }

  async function submitSchedule(event) {
    event.preventDefault();
    const form = event.target;
    const status = $('schedule-status');
    const data = new FormData(form);
    const text = (name) => (data.get(name) || '').toString().trim() || undefined;
    if (!text('phoneNumber') || !text('scheduledAt')) {
      status.className = 'form-status error';
      status.textContent = 'A phone number and a time are needed.';
      return;
    }
    const body = {
      phoneNumber: text('phoneNumber'), callType: text('callType'), scheduledAt: new Date(text('scheduledAt')).toISOString(),
      voiceAgentId: text('voiceAgentId'), customerName: text('customerName'), purpose: text('purpose'), notes: text('notes'),
      moveToCallingHours: data.get('moveToCallingHours') === 'on',
    };
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    status.className = 'form-status';
    status.textContent = 'Scheduling…';
    try {
      const call = await api('/api/outbound/schedule', { method: 'POST', body: JSON.stringify(body) });
      status.className = 'form-status ok';
      status.textContent = `Scheduled: ${call.phoneNumber} on ${when(call.scheduledAt)}.`;
      form.reset();
      form.elements.scheduledAt.value = defaultScheduleTime();
      if (state.agentId) form.elements.voiceAgentId.value = state.agentId;
      await loadScheduled(true);
    } catch (err) {
      status.className = 'form-status error';
      status.textContent = err.code === 'outside_calling_hours' ? `${err.message} Tick the box to move it to the next opening.` : err.message;
    } finally {
      button.disabled = false;
    }
  }

  // ---------- start ----------
  async function start() {
    chartDefaults();
    const config = await (await fetch('config.json')).json();
    state.refreshSeconds = config.refreshSeconds || 30;
    state.token = await signIn.token(config.signIn);
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
    $('number-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const number = $('number-input').value.trim();
      if (number) showNumber(number);
    });
    try {
      await loadAgents();
    } catch (err) {
      banner(`Could not load the voice agents: ${err.message}`);
    }
    await loadAll(false);
    // Live: refresh the figures in place while the page is visible.
    setInterval(() => { if (document.visibilityState === 'visible') loadAll(true); }, state.refreshSeconds * 1000);
    document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') loadAll(true); });
  }

  document.addEventListener('DOMContentLoaded', () => {
    start().catch((err) => {
      banner(`The dashboard could not start: ${err.message}`);
      $('live').dataset.live = 'off';
      $('live-text').textContent = 'Offline';
    });
  });
})();
