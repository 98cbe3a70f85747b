// The Courier dashboard: charts fed by polling /metrics, and the dead-letter tools of the admin
// API (/api/...). Everything read from the server is put on the page as text (textContent),
// never as markup: dead-letter messages, keys and payloads are untrusted input.
(function () {
  'use strict';

  const Prom = window.CourierProm;
  const WINDOW_SECONDS = 15 * 60; // what the charts keep
  const LATENCY_WINDOW_SECONDS = 60; // quantiles over the last minute, like rate(...[1m])
  const TOKEN_KEY = 'courier.adminToken';
  const OPERATOR_KEY = 'courier.operator';
  const PAGE_SIZE = 20;
  const STATUS_MEANING = {
    DEAD: 'waiting for an operator: replay or discard it',
    PARKED: 'ordered mode: waits behind an earlier dead letter of its key, and is released in order when that one is replayed',
    REPLAYED: 'enqueued again for its consumer',
    DISCARDED: 'discarded by an operator, with a reason',
  };

  const $ = id => document.getElementById(id);

  // ---------- small helpers ----------

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k.startsWith('data-')) e.setAttribute(k, v);
      else if (k === 'onclick') e.addEventListener('click', v);
      else e[k] = v;
    }
    for (const c of children) {
      if (c === undefined || c === null) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  function count(n) {
    return n === null || n === undefined || Number.isNaN(n) ? '–' : numberFormat.format(n);
  }

  function perSecond(n) {
    if (n === null || n === undefined || Number.isNaN(n)) return '–';
    return (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)) + '/s';
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '–';
    if (seconds < 1) return Math.round(seconds * 1000) + ' ms';
    if (seconds < 60) return seconds.toFixed(seconds < 10 ? 1 : 0) + ' s';
    const s = Math.round(seconds);
    if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
    return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
  }

  function timestamp(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    const pad = n => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  function notice(text) {
    const n = el('div', { class: 'notice' }, text);
    $('notices').append(n);
    setTimeout(() => n.remove(), 8000);
  }

  // A message that stays until dismissed or replaced: refusals and unreachable endpoints.
  function alertBox(key, text) {
    let box = document.querySelector('#alerts [data-key="' + key + '"]');
    if (!text) {
      if (box) box.remove();
      return;
    }
    if (!box) {
      box = el('div', { class: 'alert', 'data-key': key });
      $('alerts').append(box);
    }
    box.replaceChildren(
      el('span', {}, text),
      el('button', { type: 'button', class: 'secondary', onclick: () => box.remove() }, 'dismiss'));
  }

  // ---------- the admin API ----------

  const token = {
    get: () => sessionStorage.getItem(TOKEN_KEY) || '',
    set: t => t ? sessionStorage.setItem(TOKEN_KEY, t) : sessionStorage.removeItem(TOKEN_KEY),
  };

  // Who acts, for the audit trail; not a secret, so it outlives the tab.
  const operator = {
    get: () => localStorage.getItem(OPERATOR_KEY) || '',
    set: name => name ? localStorage.setItem(OPERATOR_KEY, name) : localStorage.removeItem(OPERATOR_KEY),
  };

  function showTokenState() {
    $('token-button').textContent = token.get() ? 'Token set' : 'Set token';
  }

  class ApiError extends Error {
    constructor(status, message, reason, method) {
      super(message);
      this.status = status;
      this.reason = reason;
      this.method = method;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    const t = token.get();
    if (t) headers.Authorization = 'Bearer ' + t;
    if (method !== 'GET') headers['X-Courier-Operator'] = operator.get() || 'dashboard';
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let r;
    try {
      r = await fetch(path, {
        method: method,
        headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch (e) {
      throw new ApiError(0, 'the server did not answer (' + e.message + ')');
    }
    let data = null;
    const text = await r.text();
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = null; }
    }
    if (!r.ok) {
      const reason = data && (data.error || data.message) ? String(data.error || data.message) : '';
      throw new ApiError(r.status,
        method + ' ' + path.split('?')[0] + ' answered ' + r.status + (reason ? ': ' + reason : ''), reason, method);
    }
    return data;
  }

  // 401 and 403 get their own words, with the server's reason: the operator has to act on them.
  // Either way the stored token is of no use, so it is forgotten and the page asks again.
  function refusal(e) {
    if (e.status !== 401 && e.status !== 403) return null;
    token.set('');
    showTokenState();
    const said = e.reason ? ' The server says: ' + e.reason + '.' : '';
    return e.status === 401
      ? (e.method === 'GET'
        ? 'Refused (401 Unauthorized): reading this needs the admin bearer token; enter it with "Set token".' + said
        : 'Refused (401 Unauthorized): this change needs the admin bearer token.' + said)
      : 'Refused (403 Forbidden): the server did not accept this token.' + said +
        ' Enter the token the server was started with (courier.admin.token).';
  }

  // ---------- charts ----------

  const palette = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2'];
  const charts = {};

  function makeChart(id, series, axes) {
    const host = $(id);
    const opts = {
      width: Math.max(280, host.clientWidth),
      height: 190,
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      series: [{}].concat(series.map((s, i) => Object.assign({
        stroke: palette[i % palette.length],
        width: 1.75,
        spanGaps: false,
        points: { show: false },
      }, s))),
      axes: axes || [{}, { size: 60 }],
    };
    const data = [[]].concat(series.map(() => []));
    const chart = new uPlot(opts, data, host);
    charts[id] = { chart: chart, data: data };
    new ResizeObserver(() => chart.setSize({ width: Math.max(280, host.clientWidth), height: 190 }))
      .observe(host);
  }

  function push(id, t, values) {
    const c = charts[id];
    c.data[0].push(t);
    values.forEach((v, i) => c.data[i + 1].push(v === undefined ? null : v));
    while (c.data[0].length > 0 && c.data[0][0] < t - WINDOW_SECONDS) {
      c.data.forEach(a => a.shift());
    }
    // the time axis spans at least ten polls, so that the first points do not stretch it over
    // days; setting it re-ranges the value axes too
    const minSpan = 10 * (Number($('interval').value) || 5000) / 1000;
    c.chart.setData(c.data, false);
    c.chart.setScale('x', { min: Math.min(c.data[0][0], t - minSpan), max: t });
  }

  const valueAxis = fmt => ({ size: 70, values: (u, ticks) => ticks.map(fmt) });
  // counts of events have no halves: ticks between whole numbers stay unlabelled
  const countTick = v => Number.isInteger(v) ? count(v) : '';
  const perMinute = v => (Math.abs(v) >= 10 ? v.toFixed(0) : v.toFixed(1)) + '/min';

  function setUpCharts() {
    makeChart('chart-outbox',
      [{ label: 'backlog', value: (u, v) => count(v) },
       { label: 'oldest age', scale: 'seconds', value: (u, v) => duration(v) }],
      [{}, valueAxis(countTick),
       Object.assign(valueAxis(v => duration(v)), { scale: 'seconds', side: 1, grid: { show: false } })]);
    makeChart('chart-rates',
      [{ label: 'published', value: (u, v) => perSecond(v) },
       { label: 'consumed', value: (u, v) => perSecond(v) }],
      [{}, valueAxis(v => perSecond(v))]);
    makeChart('chart-retries',
      [{ label: 'publish retries', value: (u, v) => perSecond(v) },
       { label: 'publish failures', value: (u, v) => perSecond(v) },
       { label: 'consumer retries', value: (u, v) => perSecond(v) }],
      [{}, valueAxis(v => perSecond(v))]);
    makeChart('chart-dedupe',
      [{ label: 'consumer ledger', value: (u, v) => perSecond(v) },
       { label: 'broker (JetStream)', value: (u, v) => perSecond(v) }],
      [{}, valueAxis(v => perSecond(v))]);
    makeChart('chart-dead',
      [{ label: 'parked', value: (u, v) => count(v) },
       { label: 'outbox dead rows', value: (u, v) => count(v) },
       { label: 'new per minute', scale: 'rate', value: (u, v) => v === null ? '–' : v.toFixed(1) }],
      [{}, valueAxis(countTick),
       Object.assign(valueAxis(perMinute), { scale: 'rate', side: 1, grid: { show: false } })]);
    makeChart('chart-latency',
      [{ label: 'p50', value: (u, v) => duration(v) },
       { label: 'p95', value: (u, v) => duration(v) },
       { label: 'p99', value: (u, v) => duration(v) }],
      [{}, valueAxis(v => duration(v))]);
  }

  // ---------- polling /metrics ----------

  const history = []; // recent scrapes, oldest first
  let previous = null;

  function scrapeAgo(seconds, now) {
    for (const s of history) {
      if (s.t >= now.t - seconds && s !== now) return s;
    }
    return previous;
  }

  async function pollMetrics() {
    let text;
    try {
      const r = await fetch('metrics', { cache: 'no-store', credentials: 'omit' });
      if (!r.ok) throw new Error('/metrics answered ' + r.status);
      text = await r.text();
    } catch (e) {
      $('live').textContent = 'metrics unreachable';
      $('live').className = 'pill pill-bad';
      alertBox('metrics', 'Cannot read /metrics: ' + e.message + '. Is the process still running?');
      return;
    }
    alertBox('metrics', null);
    const now = new Prom.Scrape(text, Date.now() / 1000);
    $('live').textContent = 'live';
    $('live').className = 'pill pill-ok';
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();

    const backlog = now.max('courier_outbox_backlog_events');
    const oldest = now.max('courier_outbox_oldest_age_seconds');
    const outboxDead = now.max('courier_outbox_dead_events');
    const parked = now.sum('courier_consumer_dead_letters_backlog_events');
    const relays = now.sum('courier_relay_running_relays');
    const p = previous;
    const published = Prom.rate(p, now, 'courier_relay_published_events_total');
    const consumed = Prom.rate(p, now, 'courier_consumer_processed_events_total');

    $('tile-backlog').textContent = count(backlog);
    $('tile-oldest').textContent = duration(oldest);
    $('tile-outbox-dead').textContent = count(outboxDead);
    $('tile-dead').textContent = count(parked);
    $('tile-publish').textContent = perSecond(published);
    $('tile-consume').textContent = perSecond(consumed);
    $('tile-relays').textContent = count(relays);
    $('tile-dead').parentElement.classList.toggle('tile-warn', parked > 0);
    $('tile-outbox-dead').parentElement.classList.toggle('tile-warn', outboxDead > 0);

    const t = now.t;
    if (p) {
      push('chart-outbox', t, [backlog, oldest]);
      push('chart-rates', t, [published, consumed]);
      push('chart-retries', t, [
        Prom.rate(p, now, 'courier_relay_retries_events_total'),
        Prom.rate(p, now, 'courier_relay_failures_events_total'),
        Prom.rate(p, now, 'courier_consumer_retries_attempts_total'),
      ]);
      push('chart-dedupe', t, [
        Prom.rate(p, now, 'courier_consumer_dedupe_hits_events_total'),
        Prom.rate(p, now, 'courier_relay_broker_dedupe_hits_events_total'),
      ]);
      const newDead = Prom.rate(p, now, 'courier_consumer_dead_letters_events_total');
      push('chart-dead', t, [parked, outboxDead, newDead === null ? null : newDead * 60]);
      const base = scrapeAgo(LATENCY_WINDOW_SECONDS, now);
      const latency = 'courier_consumer_end_to_end_latency_seconds';
      push('chart-latency', t, [0.5, 0.95, 0.99].map(q => Prom.quantile(q, base, now, latency)));
    }
    history.push(now);
    while (history.length > 0 && history[0].t < t - 2 * LATENCY_WINDOW_SECONDS) history.shift();
    previous = now;
  }

  // ---------- outbox status ----------

  let adminAvailable = true;

  async function loadOutbox() {
    let s;
    try {
      s = await api('GET', 'api/outbox/status');
    } catch (e) {
      if (e.status === 404) {
        adminUnavailable();
        return;
      }
      const why = refusal(e);
      alertBox('outbox', why || 'Outbox status: ' + e.message);
      return;
    }
    alertBox('outbox', null);
    const host = $('outbox-status');
    const summary = s.backlog > 0
      ? el('p', {}, el('strong', {}, count(s.backlog)), ' pending, the oldest waiting for ',
        el('strong', {}, duration(s.oldestAgeSeconds)), '; ', el('strong', {}, count(s.dead)), ' parked as dead.')
      : el('p', {}, 'Nothing pending; ', el('strong', {}, count(s.dead)), ' parked as dead.');
    const dests = Array.isArray(s.destinations) ? s.destinations : [];
    if (dests.length === 0) {
      host.replaceChildren(summary);
      return;
    }
    // Destinations may be names or objects; show whatever fields they carry.
    const rows = dests.map(d => (d !== null && typeof d === 'object') ? d : { destination: d });
    const cols = Array.from(new Set(rows.flatMap(r => Object.keys(r))));
    const table = el('table', { class: 'compact' },
      el('thead', {}, el('tr', {}, ...cols.map(c => el('th', {}, words(c))))),
      el('tbody', {}, ...rows.map(r => el('tr', {}, ...cols.map(c => el('td', {},
        /age/i.test(c) && typeof r[c] === 'number' ? duration(r[c])
          : typeof r[c] === 'number' ? count(r[c]) : (r[c] === undefined ? '' : String(r[c]))))))));
    host.replaceChildren(summary, el('div', { class: 'table-wrap' }, table));
  }

  // oldestAgeSeconds -> "oldest age"
  function words(field) {
    return field.replace(/Seconds$/, '').replace(/([A-Z])/g, ' $1').toLowerCase();
  }

  function adminUnavailable() {
    adminAvailable = false;
    $('admin-off').hidden = false;
    $('admin-off').textContent = 'This process serves metrics and health only, no admin API at /api/' +
      ' (courier relay, for example). Outbox status, dead letters and failure groups are on the' +
      ' dashboard of courier serve.';
    $('dlq').hidden = true;
    $('groups').hidden = true;
  }

  // ---------- dead letters ----------

  const dlq = {
    page: 0,
    total: 0,
    items: new Map(),        // id -> item on the current page
    selected: new Set(),     // ids
    processed: new Map(),    // eventId -> consumers that have committed it
    watching: new Set(),     // eventIds being checked after a replay
    asked: new Map(),        // eventId -> when the ledger was last asked
    signature: null,         // the page as last drawn
  };

  function filters() {
    const f = new FormData($('dlq-filter'));
    const q = new URLSearchParams();
    for (const name of ['consumer', 'type', 'key', 'fingerprint', 'status']) {
      const v = (f.get(name) || '').trim();
      if (v) q.set(name, v);
    }
    for (const name of ['from', 'to']) {
      const v = f.get(name);
      if (v) {
        const d = new Date(v);
        if (!Number.isNaN(d.getTime())) q.set(name, d.toISOString());
      }
    }
    return q;
  }

  async function loadDeadLetters() {
    if (!adminAvailable) return;
    const q = filters();
    q.set('page', String(dlq.page));
    q.set('size', String(PAGE_SIZE));
    let r;
    try {
      r = await api('GET', 'api/dlq?' + q.toString());
    } catch (e) {
      if (e.status === 404) return adminUnavailable();
      alertBox('dlq', refusal(e) || 'Dead letters: ' + e.message);
      return;
    }
    alertBox('dlq', null);
    // an unchanged page is not redrawn, so that polling does not disturb a reader
    const signature = JSON.stringify([r.total, r.items]);
    if (signature !== dlq.signature) {
      dlq.signature = signature;
      dlq.total = r.total || 0;
      dlq.items = new Map((r.items || []).map(i => [String(i.id), i]));
      for (const id of Array.from(dlq.selected)) {
        if (!dlq.items.has(id)) dlq.selected.delete(id);
      }
      renderDeadLetters();
    }
    // replays made elsewhere (the CLI, another operator): ask the ledger now and then
    const now = Date.now();
    for (const item of dlq.items.values()) {
      if (item.status !== 'REPLAYED' || !item.eventId || dlq.watching.has(item.eventId)) continue;
      const consumers = dlq.processed.get(item.eventId);
      if (consumers && consumers.includes(item.consumer)) continue;
      if (now - (dlq.asked.get(item.eventId) || 0) < 10000) continue;
      dlq.asked.set(item.eventId, now);
      checkProcessed(item.eventId);
    }
  }

  function statusCell(item) {
    const cell = el('td', { class: 'status' },
      el('span', {
        class: 'badge badge-' + String(item.status).toLowerCase(),
        title: STATUS_MEANING[item.status] || '',
      }, item.status));
    const consumers = dlq.processed.get(item.eventId);
    if (item.status !== 'DEAD' && consumers && consumers.includes(item.consumer)) {
      cell.append(' ', el('span', {
        class: 'badge badge-processed',
        title: 'the processed-events ledger has (' + item.consumer + ', ' + item.eventId + ')',
      }, 'processed'));
    } else if (dlq.watching.has(item.eventId)) {
      cell.append(' ', el('span', { class: 'badge badge-wait' }, 'waiting for the consumer…'));
    }
    return cell;
  }

  function renderDeadLetters() {
    const body = $('dlq-table').tBodies[0];
    const rows = [];
    for (const item of dlq.items.values()) {
      const id = String(item.id);
      const dead = item.status === 'DEAD';
      rows.push(el('tr', { 'data-id': id, 'data-event-id': item.eventId },
        el('td', {}, el('input', {
          type: 'checkbox', checked: dlq.selected.has(id), disabled: !dead,
          'aria-label': 'select ' + item.eventId,
          onclick: ev => { ev.target.checked ? dlq.selected.add(id) : dlq.selected.delete(id); updateBulk(); },
        })),
        el('td', { class: 'nowrap' }, timestamp(item.deadAt)),
        el('td', {}, item.consumer),
        el('td', {}, item.type),
        el('td', { class: 'mono' }, item.key),
        el('td', {}, item.reason),
        el('td', { class: 'error-text', title: item.errorMessage || '' }, item.errorMessage || ''),
        el('td', { class: 'num' }, count(item.attempts)),
        statusCell(item),
        el('td', { class: 'actions nowrap' },
          el('button', { type: 'button', class: 'secondary', 'data-action': 'show', onclick: () => showDetail(id) }, 'Show'),
          el('button', { type: 'button', 'data-action': 'replay', disabled: !dead, onclick: () => askAction('replay', [id]) }, 'Replay'),
          el('button', { type: 'button', class: 'danger', 'data-action': 'discard', disabled: !dead, onclick: () => askAction('discard', [id]) }, 'Discard'))));
    }
    if (rows.length === 0) {
      rows.push(el('tr', {}, el('td', { colSpan: 10, class: 'muted empty' }, 'No dead letters match.')));
    }
    body.replaceChildren(...rows);
    const pages = Math.max(1, Math.ceil(dlq.total / PAGE_SIZE));
    $('page-info').textContent = 'page ' + (dlq.page + 1) + ' of ' + pages;
    $('page-prev').disabled = dlq.page === 0;
    $('page-next').disabled = dlq.page + 1 >= pages;
    $('dlq-count').textContent = count(dlq.total) + ' matching';
    updateBulk();
  }

  function updateBulk() {
    const n = dlq.selected.size;
    $('replay-selected').disabled = n === 0;
    $('discard-selected').disabled = n === 0;
    $('replay-selected').textContent = n ? 'Replay ' + n + ' selected' : 'Replay selected';
    $('discard-selected').textContent = n ? 'Discard ' + n + ' selected' : 'Discard selected';
    const selectable = Array.from(dlq.items.values()).filter(i => i.status === 'DEAD');
    $('select-all').checked = selectable.length > 0 && selectable.every(i => dlq.selected.has(String(i.id)));
  }

  async function showDetail(id) {
    let d;
    try {
      d = await api('GET', 'api/dlq/' + encodeURIComponent(id));
    } catch (e) {
      alertBox('detail', refusal(e) || 'Dead letter ' + id + ': ' + e.message);
      return;
    }
    alertBox('detail', null);
    const fields = [
      ['id', d.id], ['event id', d.eventId], ['consumer', d.consumer], ['type', d.type], ['key', d.key],
      ['reason', d.reason], ['fingerprint', d.fingerprint], ['attempts', d.attempts],
      ['dead at', timestamp(d.deadAt)], ['status', d.status], ['error', d.errorMessage],
    ];
    // whatever else the server tells about it (destination, replay id, who resolved it...)
    const shown = new Set(['id', 'eventId', 'consumer', 'type', 'key', 'reason', 'fingerprint', 'attempts',
      'deadAt', 'status', 'errorMessage', 'payload', 'payloadEncoding', 'headers', 'stackTrace']);
    for (const [k, v] of Object.entries(d)) {
      if (shown.has(k) || v === null || v === undefined || typeof v === 'object') continue;
      const label = words(k);
      fields.push([label, /At$/.test(k) ? timestamp(v) : v]);
    }
    $('detail-title').textContent = 'Dead letter ' + d.id;
    $('detail-fields').replaceChildren(...fields.flatMap(([k, v]) =>
      [el('dt', {}, k), el('dd', {}, v === undefined || v === null ? '' : String(v))]));
    $('detail-encoding').textContent = d.payloadEncoding ? '(' + d.payloadEncoding + ')' : '';
    $('detail-payload').textContent = payloadText(d.payload, d.payloadEncoding);
    const headers = d.headers && typeof d.headers === 'object' ? Object.entries(d.headers) : [];
    $('detail-headers').replaceChildren(...(headers.length ? headers.flatMap(([k, v]) =>
      [el('dt', {}, k), el('dd', {}, typeof v === 'string' ? v : JSON.stringify(v))])
      : [el('dd', { class: 'muted' }, 'none')]));
    $('detail-stack').textContent = d.stackTrace || '';
    const dead = d.status === 'DEAD';
    $('detail-replay').disabled = !dead;
    $('detail-discard').disabled = !dead;
    $('detail-replay').onclick = () => { $('detail-dialog').close(); askAction('replay', [String(d.id)]); };
    $('detail-discard').onclick = () => { $('detail-dialog').close(); askAction('discard', [String(d.id)]); };
    $('detail-dialog').showModal();
  }

  // Base64 payloads that are UTF-8 text (JSON, mostly) are shown decoded; others as they came.
  function payloadText(payload, encoding) {
    if (payload === undefined || payload === null) return '';
    if (typeof payload !== 'string') return JSON.stringify(payload, null, 2);
    let text = payload;
    if (encoding && /base64/i.test(encoding)) {
      try {
        const bytes = Uint8Array.from(atob(payload), c => c.charCodeAt(0));
        text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch (e) {
        return payload;
      }
    }
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
  }

  // ---------- replay and discard ----------

  let pending = null; // {action, ids}

  // A replay id made once per dialog: pressing the button again after a lost answer, or a
  // second click, submits the same replay, which the server enqueues only once.
  function newReplayId() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return 'dashboard-' + Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('');
  }

  function askAction(action, ids) {
    const n = ids.length;
    const what = n === 1 ? 'dead letter ' + ids[0] : n + ' dead letters';
    openActionDialog(
      { action: action, ids: ids, replayId: newReplayId() },
      action === 'replay' ? 'Replay ' + what : 'Discard ' + what,
      action === 'replay'
        ? 'The events go back to their consumers with their original event ids, so a consumer that' +
          ' already applied one skips it. Submitting the same replay twice enqueues it once.'
        : 'The dead letters are marked discarded and will not be delivered. The reason is audited.',
      action === 'replay' ? 'Replay' : 'Discard',
      action !== 'replay');
  }

  function askResume(consumer) {
    openActionDialog(
      { action: 'resume', consumer: consumer },
      'Resume consumer ' + consumer,
      'Its processors take deliveries again within a second, the ones that waited at the broker' +
        ' first. The reason is audited.',
      'Resume',
      false);
  }

  // The one dialog of every audited change: asks for the token (unless kept), a reason and a name.
  function openActionDialog(what, title, summary, confirm, danger) {
    pending = what;
    $('action-title').textContent = title;
    $('action-summary').textContent = summary;
    $('action-confirm').textContent = confirm;
    $('action-confirm').className = danger ? 'danger' : '';
    $('action-token-row').hidden = !!token.get();
    $('action-token').value = '';
    $('action-reason').value = '';
    $('action-operator').value = operator.get();
    $('action-error').hidden = true;
    $('action-dialog').showModal();
    (token.get() ? $('action-reason') : $('action-token')).focus();
  }

  async function submitAction(ev) {
    ev.preventDefault();
    if (!pending) return;
    const typed = $('action-token').value.trim();
    if (!token.get() && !typed) return actionError('Enter the bearer token first.');
    const reason = $('action-reason').value.trim();
    if (!reason) return actionError('Give a reason: every replay, discard and resume is audited.');
    const who = $('action-operator').value.trim();
    if (who && !/^[\p{L}\p{N} ._@:+-]{1,255}$/u.test(who)) {
      return actionError('Your name may hold letters, digits, spaces and . _ @ : + - only.');
    }
    operator.set(who);
    if (typed) {
      token.set(typed);
      showTokenState();
    }
    if (pending.action === 'resume') return submitResume(reason);
    const { action, ids, replayId } = pending;
    const body = { ids: ids.map(idValue), reason: reason };
    if (action === 'replay') body.replayId = replayId;
    $('action-confirm').disabled = true;
    try {
      const r = await api('POST', 'api/dlq/' + action, body);
      $('action-dialog').close();
      pending = null;
      alertBox('action', null);
      if (action === 'replay') replayed(ids, r || {});
      else notice('Discarded ' + count(r && r.discarded) + ' dead letter(s).');
      dlq.selected.clear();
      dlq.signature = null;
      await loadDeadLetters();
      loadGroups();
    } catch (e) {
      actionFailed(e);
    } finally {
      $('action-confirm').disabled = false;
    }
  }

  async function submitResume(reason) {
    const consumer = pending.consumer;
    $('action-confirm').disabled = true;
    try {
      const r = await api('POST', 'api/consumers/resume', { consumer: consumer, reason: reason });
      $('action-dialog').close();
      pending = null;
      alertBox('action', null);
      notice(r && r.resumed ? 'Consumer ' + consumer + ' resumed.' : 'Consumer ' + consumer + ' was not paused.');
      await loadPauses();
    } catch (e) {
      actionFailed(e);
    } finally {
      $('action-confirm').disabled = false;
    }
  }

  // Ids go back as the server sent them: numbers stay numbers.
  function idValue(id) {
    const item = dlq.items.get(id);
    return item ? item.id : id;
  }

  // A refused change asks for the token again; any other failure is shown in the dialog.
  function actionFailed(e) {
    const why = refusal(e);
    if (why) {
      $('action-token-row').hidden = false;
      actionError(why);
      alertBox('action', why);
    } else {
      actionError(e.message);
    }
  }

  function actionError(text) {
    $('action-error').textContent = text;
    $('action-error').hidden = false;
  }

  function replayed(ids, r) {
    const said = r.alreadySubmitted
      ? 'Replay ' + (r.replayId || '') + ' had been submitted before; nothing was enqueued again'
      : 'Replay ' + (r.replayId || '') + ': ' + count(r.replayed) + ' replayed';
    notice(said + '. Watching the processed-events ledger…');
    const skipped = Array.isArray(r.skipped) ? r.skipped : [];
    alertBox('skipped', skipped.length === 0 ? null : 'Not replayed: ' +
      skipped.map(x => 'dead letter ' + x.id + ' (' + x.why + ')').join('; '));
    // the server's answer says which rows it replayed: show them so until the list is reloaded
    const done = new Set([].concat(r.items || [], r.alreadyProcessed || []).map(String));
    for (const id of ids) {
      const item = dlq.items.get(id);
      if (!item || !done.has(id)) continue;
      item.status = 'REPLAYED';
      if (item.eventId) watchProcessed(item.eventId);
    }
    dlq.signature = null;
    renderDeadLetters();
  }

  // After a replay, asks the ledger until the consumer has committed the event (or gives up
  // after two minutes: the row then keeps its REPLAYED status without the processed badge).
  function watchProcessed(eventId) {
    dlq.watching.add(eventId);
    const started = Date.now();
    const tick = async () => {
      const done = await checkProcessed(eventId);
      if (done || Date.now() - started > 120000) {
        dlq.watching.delete(eventId);
        renderDeadLetters();
        return;
      }
      setTimeout(tick, 1000);
    };
    tick();
  }

  async function checkProcessed(eventId) {
    let r;
    try {
      r = await api('GET', 'api/processed?eventId=' + encodeURIComponent(eventId));
    } catch (e) {
      return false;
    }
    const consumers = (r && Array.isArray(r.consumers) ? r.consumers : [])
      .map(c => (c !== null && typeof c === 'object') ? c.consumer : c);
    dlq.processed.set(eventId, consumers);
    const done = Array.from(dlq.items.values())
      .filter(i => i.eventId === eventId)
      .every(i => consumers.includes(i.consumer));
    renderDeadLetters();
    return done && consumers.length > 0;
  }

  // ---------- failure groups ----------

  // what each polled table last showed, so that a table is redrawn only when its data changed
  const shown = {};

  function changed(table, data) {
    const signature = JSON.stringify(data);
    if (shown[table] === signature) return false;
    shown[table] = signature;
    return true;
  }

  async function loadGroups() {
    if (!adminAvailable) return;
    let r;
    try {
      r = await api('GET', 'api/dlq/groups');
    } catch (e) {
      if (e.status === 404) return adminUnavailable();
      alertBox('groups', refusal(e) || 'Failure groups: ' + e.message);
      return;
    }
    alertBox('groups', null);
    const groups = (r && r.groups) || [];
    // unchanged groups are not redrawn: a redraw between a press and its release loses the click
    if (!changed('groups', groups)) return;
    const rows = groups.map(g => el('tr', { 'data-fingerprint': g.fingerprint },
      el('td', { class: 'num' }, count(g.count)),
      el('td', { class: 'mono' }, g.exceptionType),
      el('td', { class: 'mono' }, g.topFrame),
      el('td', { class: 'error-text', title: g.messageShape || '' }, g.messageShape),
      el('td', {}, Array.isArray(g.consumers) ? g.consumers.join(', ') : g.consumers),
      el('td', { class: 'nowrap' }, timestamp(g.firstSeen)),
      el('td', { class: 'nowrap' }, timestamp(g.lastSeen)),
      el('td', {}, el('button', {
        type: 'button', class: 'secondary', onclick: () => filterByFingerprint(g.fingerprint),
      }, 'List'))));
    if (rows.length === 0) {
      rows.push(el('tr', {}, el('td', { colSpan: 8, class: 'muted empty' }, 'No dead letters.')));
    }
    $('groups-table').tBodies[0].replaceChildren(...rows);
  }

  // ---------- paused consumers ----------

  async function loadPauses() {
    if (!adminAvailable) return;
    let r;
    try {
      r = await api('GET', 'api/consumers/paused');
    } catch (e) {
      if (e.status === 404) return adminUnavailable();
      alertBox('pauses', refusal(e) || 'Paused consumers: ' + e.message);
      return;
    }
    alertBox('pauses', null);
    const paused = (r && r.paused) || [];
    if (!changed('pauses', paused)) return;
    const rows = paused.map(p => el('tr', { 'data-consumer': p.consumer },
      el('td', { class: 'mono' }, p.consumer),
      el('td', { class: 'nowrap' }, timestamp(p.pausedAt)),
      el('td', {}, p.automatic ? 'itself (auto-pause)' : p.pausedBy),
      el('td', { class: 'error-text' }, p.reason || ''),
      el('td', {}, el('button', { type: 'button', onclick: () => askResume(p.consumer) }, 'Resume'))));
    if (rows.length === 0) {
      rows.push(el('tr', {}, el('td', { colSpan: 5, class: 'muted empty' }, 'No consumer is paused.')));
    }
    $('pauses-table').tBodies[0].replaceChildren(...rows);
  }

  function filterByFingerprint(fingerprint) {
    const form = $('dlq-filter');
    form.reset();
    form.elements.fingerprint.value = fingerprint;
    dlq.page = 0;
    loadDeadLetters();
    $('dlq').scrollIntoView({ behavior: 'smooth' });
  }

  // ---------- wiring ----------

  function wire() {
    $('dlq-filter').addEventListener('submit', ev => {
      ev.preventDefault();
      dlq.page = 0;
      loadDeadLetters();
    });
    $('dlq-filter').addEventListener('reset', () => setTimeout(() => { dlq.page = 0; loadDeadLetters(); }));
    $('page-prev').addEventListener('click', () => { dlq.page = Math.max(0, dlq.page - 1); loadDeadLetters(); });
    $('page-next').addEventListener('click', () => { dlq.page += 1; loadDeadLetters(); });
    $('select-all').addEventListener('change', ev => {
      for (const i of dlq.items.values()) {
        if (i.status !== 'DEAD') continue;
        ev.target.checked ? dlq.selected.add(String(i.id)) : dlq.selected.delete(String(i.id));
      }
      renderDeadLetters();
    });
    $('replay-selected').addEventListener('click', () => askAction('replay', Array.from(dlq.selected)));
    $('discard-selected').addEventListener('click', () => askAction('discard', Array.from(dlq.selected)));
    $('action-form').addEventListener('submit', submitAction);
    $('action-cancel').addEventListener('click', () => { pending = null; $('action-dialog').close(); });

    $('token-button').addEventListener('click', () => {
      $('token-input').value = '';
      $('token-dialog').showModal();
      $('token-input').focus();
    });
    $('token-form').addEventListener('submit', ev => {
      ev.preventDefault();
      const t = $('token-input').value.trim();
      if (t) token.set(t);
      showTokenState();
      alertBox('action', null);
      $('token-dialog').close();
      refresh();
    });
    $('token-forget').addEventListener('click', () => {
      token.set('');
      showTokenState();
      $('token-dialog').close();
      notice('Token forgotten.');
    });
    $('token-cancel').addEventListener('click', () => $('token-dialog').close());
  }

  let timer = null;

  function schedule() {
    if (timer) clearInterval(timer);
    const every = Number($('interval').value) || 5000;
    timer = setInterval(refresh, every);
  }

  let refreshing = false;

  async function refresh() {
    if (refreshing) return;
    refreshing = true;
    try {
      const work = [pollMetrics()];
      if (adminAvailable) work.push(loadOutbox(), loadPauses(), loadGroups());
      // the table is not reloaded under an open dialog or while rows are selected
      if (adminAvailable && dlq.selected.size === 0 && !$('action-dialog').open && !$('detail-dialog').open) {
        work.push(loadDeadLetters());
      }
      await Promise.all(work);
    } finally {
      refreshing = false;
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    setUpCharts();
    wire();
    showTokenState();
    // ?refresh=2 (seconds) for wall screens that want another pace than the menu offers
    const asked = Number(new URLSearchParams(location.search).get('refresh'));
    if (asked >= 1 && asked <= 3600) {
      const ms = String(Math.round(asked * 1000));
      if (!Array.from($('interval').options).some(o => o.value === ms)) {
        $('interval').append(el('option', { value: ms }, asked + ' s'));
      }
      $('interval').value = ms;
    }
    $('interval').addEventListener('change', schedule);
    refresh();
    schedule();
  });
})();
