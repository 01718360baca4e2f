// Dashboard of uts-aggregator: counters and topics from GET /stats, the
// newest events from GET /events/stream. Everything comes from this origin.
'use strict';

(function () {
  const KEY = 'uts-aggregator.read-key';
  const KEEP_EVENTS = 500;   // events kept for the table and its filter
  const SHOW_EVENTS = 100;   // rows shown
  const BACKFILL = 100;      // stored events shown when the page opens
  const WINDOW_S = 300;      // span of the rate chart
  const POLL_MS = 2000;
  const MAX_TOPIC_ROWS = 500;

  const $ = (id) => document.getElementById(id);
  const fmt = new Intl.NumberFormat();

  let gen = 0;               // bumped on every (re)start; stale loops stop
  let lastSeq = null;        // seq of the newest event received
  let events = [];           // oldest first
  let samples = [];          // {t, received, unique} from /stats
  let topicNames = '';
  let renderQueued = false;

  class AuthError extends Error {
    constructor(status) { super('unauthorized'); this.status = status; }
  }

  function authHeaders() {
    const k = sessionStorage.getItem(KEY);
    return k ? { Authorization: 'Bearer ' + k } : {};
  }

  async function api(path, opts) {
    opts = opts || {};
    const resp = await fetch(path, {
      cache: 'no-store',
      signal: opts.signal,
      headers: Object.assign({ Accept: opts.accept || 'application/json' }, authHeaders()),
    });
    if (resp.status === 401 || resp.status === 403) throw new AuthError(resp.status);
    if (!resp.ok) throw new Error(path + ' answered ' + resp.status);
    return resp;
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function setStatus(text) { $('status').textContent = text; }

  function setLive(on) {
    const b = $('live');
    b.textContent = on ? 'live' : 'reconnecting';
    b.className = 'badge ' + (on ? 'on' : 'off');
    document.body.dataset.live = on ? '1' : '0';
  }

  // --- API key ------------------------------------------------------------

  function askKey(status) {
    gen++;
    $('key-reason').textContent = status === 403
      ? 'This key does not have the read scope. Enter a key with the read scope.'
      : (sessionStorage.getItem(KEY) ? 'The key was refused. ' : '') +
        'This service needs an API key with the read scope.';
    sessionStorage.removeItem(KEY);
    $('key-form').hidden = false;
    $('main').hidden = true;
    $('key').focus();
  }

  $('key-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $('key').value.trim());
    $('key').value = '';
    $('key-form').hidden = true;
    $('main').hidden = false;
    start();
  });

  // --- counters, topics, rate ---------------------------------------------

  function uptime(sec) {
    sec = Math.floor(sec);
    const d = Math.floor(sec / 86400), h = Math.floor(sec % 86400 / 3600),
      m = Math.floor(sec % 3600 / 60), s = sec % 60;
    return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + (d || h || m ? m + 'm ' : '') + s + 's';
  }

  function onStats(st) {
    for (const td of document.querySelectorAll('#counters td[data-c]')) {
      const src = td.dataset.s === 'now' ? st : st.lifetime;
      td.textContent = fmt.format(src[td.dataset.c] || 0);
    }
    $('stored').textContent = fmt.format(st.stored_events || 0);
    $('uptime').textContent = uptime(st.uptime_seconds);
    $('started').textContent = new Date(st.started_at).toLocaleString();

    const names = Object.keys(st.per_topic || {}).sort();
    const body = $('topics').tBodies[0];
    body.replaceChildren(...names.slice(0, MAX_TOPIC_ROWS).map((name) => {
      const t = st.per_topic[name];
      return row([name, fmt.format(t.received), fmt.format(t.unique_processed),
        fmt.format(t.duplicate_dropped), fmt.format(t.duplicate_conflicts), fmt.format(t.stored_events)]);
    }));
    if (names.join('\n') !== topicNames) {
      topicNames = names.join('\n');
      const sel = $('filter'), keep = sel.value;
      sel.replaceChildren(new Option('all topics', ''), ...names.map((n) => new Option(n, n)));
      sel.value = names.includes(keep) ? keep : '';
    }

    const now = performance.now() / 1000;
    const last = samples[samples.length - 1];
    if (last && st.received < last.received) samples = []; // the server restarted
    samples.push({ t: now, received: st.received, unique: st.unique_processed });
    while (samples.length > 2 && samples[0].t < now - WINDOW_S - POLL_MS / 1000) samples.shift();
    drawRate();
    document.body.dataset.ready = '1';
  }

  function rates() {
    const out = [];
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1], b = samples[i], dt = b.t - a.t;
      if (dt <= 0) continue;
      out.push({ t: b.t, received: (b.received - a.received) / dt, unique: (b.unique - a.unique) / dt });
    }
    return out;
  }

  function drawRate() {
    const c = $('rate');
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth, h = c.clientHeight;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const css = getComputedStyle(document.documentElement);
    const pts = rates();
    const top = Math.max(1, ...pts.map((p) => p.received));
    const scale = niceCeil(top);
    const left = 4, right = w - 4, y0 = h - 18, y1 = 14;
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = css.getPropertyValue('--muted');
    g.strokeStyle = css.getPropertyValue('--line');
    g.lineWidth = 1;
    for (const f of [0, 0.5, 1]) {
      const y = y0 - (y0 - y1) * f;
      g.beginPath(); g.moveTo(left, y); g.lineTo(right, y); g.stroke();
      g.fillText(fmt.format(scale * f) + '/s', left + 2, y - 2);
    }
    // The chart spans the samples there are, from 1 to 5 minutes.
    const now = performance.now() / 1000;
    const span = Math.min(WINDOW_S, Math.max(60, samples.length ? now - samples[0].t : 0));
    g.fillText(Math.round(span / 60) + ' min ago', left + 2, h - 4);
    g.textAlign = 'right';
    g.fillText('now', right, h - 4);
    g.textAlign = 'left';
    const x = (t) => right - (now - t) / span * (right - left);
    const y = (v) => y0 - v / scale * (y0 - y1);
    for (const [key, color] of [['received', '--accent'], ['unique', '--accent2']]) {
      g.strokeStyle = css.getPropertyValue(color);
      g.lineWidth = 2;
      g.beginPath();
      pts.forEach((p, i) => (i ? g.lineTo(x(p.t), y(p[key])) : g.moveTo(x(p.t), y(p[key]))));
      g.stroke();
    }
    const lastRate = pts[pts.length - 1];
    $('rate-received').textContent = lastRate ? fmt.format(Math.round(lastRate.received)) : '–';
    $('rate-unique').textContent = lastRate ? fmt.format(Math.round(lastRate.unique)) : '–';
  }

  function niceCeil(v) {
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  async function pollStats(g) {
    for (;;) {
      await sleep(POLL_MS);
      if (g !== gen) return;
      try {
        onStats(await (await api('/stats')).json());
        if ($('status').dataset.from === 'stats') setStatus('');
      } catch (e) {
        if (e instanceof AuthError) { if (g === gen) askKey(e.status); return; }
        setStatus('Cannot read /stats: ' + e.message);
        $('status').dataset.from = 'stats';
      }
    }
  }

  // --- events ---------------------------------------------------------------

  function row(cells) {
    const tr = document.createElement('tr');
    for (const v of cells) {
      const td = document.createElement('td');
      td.textContent = v;
      td.title = v;
      tr.appendChild(td);
    }
    return tr;
  }

  function renderEvents() {
    renderQueued = false;
    const topic = $('filter').value;
    const shown = [];
    for (let i = events.length - 1; i >= 0 && shown.length < SHOW_EVENTS; i--) {
      if (!topic || events[i].topic === topic) shown.push(events[i]);
    }
    $('events').tBodies[0].replaceChildren(...shown.map((e) => {
      const tr = row([String(e.seq), e.topic, e.event_id, new Date(e.received_at).toLocaleTimeString([], { hour12: false })]);
      tr.dataset.seq = e.seq;
      return tr;
    }));
    $('events-empty').hidden = shown.length > 0;
  }

  function queueRender() {
    if (!renderQueued) {
      renderQueued = true;
      requestAnimationFrame(renderEvents);
    }
  }

  $('filter').addEventListener('change', renderEvents);

  function onEvent(e) {
    if (lastSeq !== null && e.seq <= lastSeq) return;
    lastSeq = e.seq;
    events.push(e);
    if (events.length > KEEP_EVENTS * 1.5) events = events.slice(-KEEP_EVENTS);
    queueRender();
  }

  // streamEvents follows GET /events/stream. fetch, not EventSource, so that
  // it can send the API key.
  async function streamEvents(g, after) {
    while (g === gen) {
      const ctrl = new AbortController();
      let resume = true;
      try {
        const url = '/events/stream' + (after === null ? '' : '?after=' + after);
        const resp = await api(url, { signal: ctrl.signal, accept: 'text/event-stream' });
        setLive(true);
        const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done || g !== gen) break;
          buf += value;
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const msg = parseMessage(buf.slice(0, i));
            buf = buf.slice(i + 2);
            if (msg.event === 'end') {
              // Too slow to follow every event: start again from now.
              if (JSON.parse(msg.data).reason === 'behind') resume = false;
            } else if (msg.data) {
              onEvent(JSON.parse(msg.data));
            }
          }
        }
        ctrl.abort();
      } catch (e) {
        if (e instanceof AuthError) { if (g === gen) askKey(e.status); return; }
      }
      if (g !== gen) return;
      setLive(false);
      after = resume ? lastSeq : null;
      await sleep(resume ? 2000 : 200);
    }
  }

  function parseMessage(block) {
    const msg = { event: '', data: '' };
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const at = line.indexOf(':');
      const field = at < 0 ? line : line.slice(0, at);
      const value = at < 0 ? '' : line.slice(at + 1).replace(/^ /, '');
      if (field === 'event') msg.event = value;
      else if (field === 'data') msg.data += (msg.data ? '\n' : '') + value;
    }
    return msg;
  }

  // --- start ----------------------------------------------------------------

  async function start() {
    const g = ++gen;
    for (;;) {
      try {
        const st = await (await api('/stats')).json();
        onStats(st);
        // Seqs count up with every stored event, so the newest ones are
        // about this far back: show them, then follow live.
        const after = lastSeq !== null ? lastSeq : Math.max(0, st.lifetime.unique_processed - BACKFILL);
        setStatus('');
        streamEvents(g, after);
        pollStats(g);
        return;
      } catch (e) {
        if (e instanceof AuthError) { askKey(e.status); return; }
        setStatus('Cannot reach the service: ' + e.message + '; retrying');
        await sleep(2000);
        if (g !== gen) return;
      }
    }
  }

  window.addEventListener('resize', drawRate);
  start();
})();
