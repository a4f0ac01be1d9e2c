// weblogd dashboard: a client of the public streams, like any other.
//
// It opens /ws (or /events where WebSocket fails) with the filters of the
// page's query string, keeps the newest rows in a table rendered at most
// once per animation frame, and computes its aggregates from the records
// themselves. Every URL is relative, so the page works under any base path.
// Every seq is accounted for once: shown, or counted as missed in a gap; a
// reconnect resumes after the last one (since=SEQ), so nothing is lost and
// nothing repeated. Records that came through NATS carry the node that
// published them: the nodes panel counts hits per node, and node= filters.
// A row opens the record's details: every field it has, fields included.
'use strict';
(function () {
  const MAX_ROWS = 500;        // rows kept in the table
  const BACKLOG = 100;         // history asked for when a view starts
  const CHART_SECONDS = 300;   // the charts' window
  const RATE_SECONDS = 10;     // the window of the req/s and bytes/s figures
  const TOP_MINUTES = 10;      // the top lists' window
  const TOP_N = 8;
  const TOP_KEYS = 5000;       // distinct keys per minute and list, beyond: "(other)"
  const NODE_KEYS = 200;       // nodes told apart, beyond: "(other)"; a fleet has far fewer
  const NODE_ROWS = 12;        // rows of the nodes panel, the busiest first
  const FILTERS = ['source', 'node', 'status', 'method', 'path', 'host', 'vhost', 'min_duration', 'q'];
  // COLUMNS are the table's columns: the record's JSON key each shows, in
  // order, with its heading. The test of package web checks every key
  // against the record's table of fields, and makes each field a person
  // would read either a column here or a field it names as not shown.
  const COLUMNS = [
    ['time', 'time'],
    ['node', 'node'],
    ['source', 'source'],
    ['vhost', 'vhost'],
    ['host', 'client'],
    ['method', 'method'],
    ['path', 'path'],
    ['status', 'status'],
    ['bytes', 'bytes'],
    ['duration', 'took'],
    ['referer', 'referer'],
    ['agent', 'agent'],
  ];
  // CELLS gives, per column, a record's text in the cell and its tooltip.
  const CELLS = {
    time: (r) => [r.time ? r.time.slice(11, 19) : '', r.time],
    node: (r) => [r.node || ''],
    source: (r) => [r.source || ''],
    vhost: (r) => [r.vhost || '', r.vhost],
    host: (r) => [r.host || '', r.user && r.user !== '-' ? r.host + ' (' + r.user + ')' : r.host],
    method: (r) => [r.method || ''],
    path: (r) => {
      const target = r.path !== undefined ? r.path : r.request || '';
      return [target, (r.vhost ? r.vhost + ' ' : '') + target];
    },
    status: (r) => [r.status !== undefined ? String(r.status) : ''],
    bytes: (r) => [r.bytes !== undefined ? human(r.bytes) : '', r.bytes !== undefined ? r.bytes + ' bytes' : ''],
    duration: (r) => [r.duration !== undefined ? took(r.duration) : '', r.duration !== undefined ? r.duration + ' s' +
      (r.upstream_duration !== undefined ? ', ' + r.upstream_duration + ' s upstream' : '') : ''],
    referer: (r) => [r.referer && r.referer !== '-' ? r.referer : '', r.referer],
    agent: (r) => [r.agent && r.agent !== '-' ? r.agent : '', r.agent],
  };

  const $ = (id) => document.getElementById(id);
  const pageQuery = new URLSearchParams(location.search);

  const st = {
    filters: readFilters(pageQuery),
    forceSSE: pageQuery.get('transport') === 'sse',
    wsFails: 0,          // WebSocket attempts in a row that never opened
    conn: null,          // the stream now open or opening
    gen: 0,              // bumped to orphan the callbacks of older streams
    attempt: 0,          // reconnect attempts since the last good stream
    timer: 0, retryAt: 0, retryWhy: '',
    lastSeq: 0,          // every seq up to here is shown or counted missed
    floor: 0,            // the server's last seq when this view started
    started: false,      // a stream of this view has opened
    serverStarted: '',   // when the server we follow started (api/status)
    lastRec: null,       // the record of lastSeq
    paused: false, pausedNew: 0,
    items: [],           // newest last; at most 2*MAX_ROWS
    pending: [],         // items not rendered yet
    full: true,          // the table must be rebuilt from items
    raf: 0, aggDirty: true, aggAt: 0,
    total: 0, missed: 0,
    secs: new Map(),     // unix second -> {n, b, c: [other,_,2xx,3xx,4xx,5xx], nd: Map node -> count}
    mins: new Map(),     // unix minute -> {path, host, referer: Map key -> count}
    maxSec: 0,
    sources: [],
    nodes: new Set(),    // every node seen since the page loaded, kept across views
    vhosts: false,       // a record with a vhost was seen since the page loaded
    durations: false,    // a record with a duration was seen since the page loaded
  };

  // ---- query strings -------------------------------------------------

  function readFilters(q) {
    const f = {};
    for (const k of FILTERS) {
      const v = k === 'q' ? (q.get(k) || '') : q.getAll(k).filter(Boolean).join(',');
      if (v) f[k] = v;
    }
    return f;
  }

  function filterQuery(extra) {
    const p = new URLSearchParams();
    for (const k of FILTERS) if (st.filters[k]) p.set(k, st.filters[k]);
    for (const k in extra) p.set(k, String(extra[k]));
    const s = p.toString();
    return s ? '?' + s : '';
  }

  function pageURL() {
    const p = new URLSearchParams();
    for (const k of FILTERS) if (st.filters[k]) p.set(k, st.filters[k]);
    if (st.forceSSE) p.set('transport', 'sse');
    const s = p.toString();
    return s ? '?' + s : location.pathname;
  }

  const filtered = () => FILTERS.some((k) => st.filters[k]);

  // ---- connection ----------------------------------------------------

  function setConn(state, text) {
    const c = $('conn');
    c.dataset.state = state;
    c.dataset.transport = st.conn && st.conn.opened ? st.conn.kind : '';
    $('conn-text').textContent = text;
    document.title = (state === 'connected' ? '' : '⚠ ') + 'weblogd';
  }

  function stop() {
    st.gen++;
    clearTimeout(st.timer);
    st.retryAt = 0;
    if (st.conn) st.conn.close();
    st.conn = null;
  }

  // loggedOut is called when the server answers 401: the session from the
  // login page expired, or the server restarted (sessions are signed with
  // a key each process draws). Reloading the page shows the login form,
  // which brings the browser back here, with the same filters.
  function loggedOut() {
    stop();
    setConn('disconnected', 'logged out: log in again');
    location.reload();
  }

  async function getJSON(url) {
    const r = await fetch(url, { cache: 'no-store', credentials: 'same-origin' });
    if (r.status === 401) {
      loggedOut();
      throw new Error('HTTP 401');
    }
    if (!r.ok) throw new Error('HTTP ' + r.status);
    return r.json();
  }

  // connect checks the server (api/status) and the filters (api/hits, which
  // takes the same parameters and answers 400 with the reason a WebSocket
  // handshake cannot show), then opens the stream where the view left off.
  async function connect() {
    stop();
    const gen = st.gen;
    if (!st.attempt) setConn('connecting', 'connecting…');
    let status;
    try {
      status = await getJSON('api/status');
    } catch (e) {
      if (gen === st.gen) retry('server unreachable');
      return;
    }
    if (gen !== st.gen) return;
    gotStatus(status);
    if (filtered()) {
      let r;
      try {
        r = await fetch('api/hits' + filterQuery({ limit: 1 }), { cache: 'no-store', credentials: 'same-origin' });
      } catch (e) {
        if (gen === st.gen) retry('server unreachable');
        return;
      }
      if (gen !== st.gen) return;
      if (r.status === 401) {
        loggedOut();
        return;
      }
      if (r.status === 400) {
        const why = (await r.text()).trim().split('\n')[0];
        if (gen !== st.gen) return;
        showError(why);
        setConn('disconnected', 'not streaming: the filter was refused');
        return;
      }
      if (!r.ok) {
        retry('HTTP ' + r.status);
        return;
      }
    }
    showError('');
    const last = (status.ring && status.ring.last_seq) || 0;
    const resumeAt = Math.max(st.lastSeq, st.floor);
    let renumbered = st.started && last < resumeAt;
    if (st.started && !renumbered && status.started !== st.serverStarted &&
        st.lastRec && st.lastRec.seq === st.lastSeq && (status.ring.first_seq || Infinity) <= st.lastSeq) {
      // Another process, whose ring holds a record of the last seq shown:
      // if it is another record, the server restarted without --state and
      // numbers from 1 again. (With --state its ring starts after it.)
      try {
        const recs = await getJSON('api/hits?since=' + (st.lastSeq - 1) + '&limit=1');
        if (gen !== st.gen) return;
        const r = recs.find((x) => x.seq === st.lastSeq);
        renumbered = !!r && JSON.stringify(r) !== JSON.stringify(st.lastRec);
      } catch (e) {
        if (gen === st.gen) retry('server unreachable');
        return;
      }
    }
    st.serverStarted = status.started;
    let start;
    if (!st.started) {
      st.floor = last;
      start = { backlog: BACKLOG };
    } else if (renumbered) {
      note('weblogd restarted without --state and numbers records from 1 again: ' +
        'showing what arrives from now on (seq ' + (last + 1) + ' on)');
      st.lastSeq = st.floor = last;
      st.lastRec = null;
      start = { since: last };
    } else {
      start = { since: resumeAt };
    }
    open(start, gen);
  }

  function open(start, gen) {
    const useWS = !st.forceSSE && st.wsFails < 2 && 'WebSocket' in window;
    const conn = { kind: useWS ? 'WebSocket' : 'SSE', opened: false, at: 0, close() {} };
    st.conn = conn;
    const qs = filterQuery(start);
    const opened = () => {
      if (gen !== st.gen) return;
      conn.opened = true;
      conn.at = Date.now();
      st.started = true;
      if (useWS) st.wsFails = 0;
      st.retryAt = 0;
      setConn('connected', 'live · ' + conn.kind);
    };
    const failed = (why) => {
      if (gen !== st.gen) return;
      conn.close();
      st.conn = null;
      if (!conn.opened && useWS && ++st.wsFails === 2) {
        note('WebSocket failed twice: streaming with Server-Sent Events instead');
      }
      if (conn.opened && Date.now() - conn.at > 10000) st.attempt = 0;
      retry(why);
    };
    if (useWS) {
      const u = new URL('ws' + qs, location.href);
      u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
      let ws;
      try {
        ws = new WebSocket(u.href);
      } catch (e) { // refused by the page's environment: never again
        st.wsFails = 1;
        failed('WebSocket unavailable');
        return;
      }
      conn.close = () => {
        ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
        if (ws.readyState <= 1) ws.close();
      };
      ws.onopen = opened;
      ws.onmessage = (e) => {
        if (gen !== st.gen) return;
        const m = JSON.parse(e.data);
        if (m.type === 'hits') m.hits.forEach(ingest);
        else if (m.type === 'gap') ingestGap(m);
      };
      ws.onclose = (e) => failed(
        e.code === 1001 ? 'the server went away' :
        e.code === 1008 ? 'disconnected: ' + (e.reason || 'policy') :
        conn.opened ? 'connection lost' : 'WebSocket failed');
    } else {
      const es = new EventSource('events' + qs);
      conn.close = () => es.close();
      es.onopen = opened;
      es.addEventListener('hit', (e) => { if (gen === st.gen) ingest(JSON.parse(e.data)); });
      es.addEventListener('gap', (e) => { if (gen === st.gen) ingestGap(JSON.parse(e.data)); });
      // EventSource would reconnect by itself with Last-Event-ID; doing it
      // here with since= (the same thing) keeps one backoff and one state
      // for both transports, and survives the errors it gives up on.
      es.onerror = () => failed(conn.opened ? 'connection lost' : 'event stream failed');
    }
  }

  function retry(why) {
    clearTimeout(st.timer);
    const n = st.attempt++;
    const delay = Math.min(15000, 250 * 2 ** n) * (0.8 + 0.4 * Math.random());
    st.retryAt = Date.now() + delay;
    st.retryWhy = why;
    showRetry();
    st.timer = setTimeout(connect, delay);
  }

  function showRetry() {
    if (!st.retryAt) return;
    const s = Math.max(0, Math.ceil((st.retryAt - Date.now()) / 1000));
    const state = st.attempt > 3 || !navigator.onLine ? 'disconnected' : 'reconnecting';
    setConn(state, (state === 'disconnected' ? 'disconnected' : 'reconnecting') +
      ' (' + st.retryWhy + ') · retry ' + (s ? 'in ' + s + ' s' : 'now'));
  }

  function gotStatus(s) {
    $('version').textContent = 'weblogd ' + (s.version || '');
    const names = (s.sources || []).map((x) => x.name);
    if (names.join('\n') !== st.sources.join('\n')) {
      st.sources = names;
      renderSources();
    }
    renderWaiting((s.sources || []).filter((x) => x.state !== 'following'));
    renderMisfits((s.sources || []).filter((x) => x.warning));
  }

  // renderMisfits lists the logs whose lines stopped fitting their format
  // (a wrong --format, a new log_format): how many, and where the first
  // one stopped matching, the whole line in its tooltip. Otherwise they
  // would only show as raw lines.
  function renderMisfits(list) {
    $('misfits-list').replaceChildren(...list.map((x) => {
      const w = x.warning;
      const li = document.createElement('li');
      li.textContent = x.name + ': ' + w.misfits + ' of ' + w.lines + ' lines do not fit ' + x.format +
        '; the first stops at byte ' + w.at + ' ';
      const near = document.createElement('code');
      near.textContent = w.near ? w.near : '(the end of the line)';
      li.append(near);
      li.title = w.line;
      return li;
    }));
    $('misfits').hidden = list.length === 0;
  }

  // renderWaiting lists the logs the server is not following (a path that
  // does not exist yet, a file it cannot open), each with the reason
  // /readyz gives: a mistyped --log would otherwise look like a quiet log.
  function renderWaiting(list) {
    $('waiting-list').replaceChildren(...list.map((x) => {
      const li = document.createElement('li');
      li.textContent = x.name + ': ' + (x.reason || x.state);
      return li;
    }));
    $('waiting').hidden = list.length === 0;
  }

  // ---- records -------------------------------------------------------

  function ingest(rec) {
    if (!(rec.seq > st.lastSeq)) return; // seen already: a resume repeats nothing
    st.lastSeq = rec.seq;
    st.lastRec = rec;
    st.total++;
    count(rec);
    push({ k: 'hit', r: rec });
  }

  function ingestGap(g) {
    if (!(g.to > st.lastSeq)) return;
    const from = Math.max(g.from, st.lastSeq + 1);
    const n = g.to - from + 1;
    st.lastSeq = g.to;
    st.missed += n;
    st.aggDirty = true;
    push({ k: 'gap', from: from, to: g.to, n: n });
  }

  function note(text) { push({ k: 'note', text: text }); }

  function push(it) {
    st.items.push(it);
    if (st.items.length > 2 * MAX_ROWS) st.items.splice(0, st.items.length - MAX_ROWS);
    if (st.paused) st.pausedNew++;
    if (!st.full) {
      st.pending.push(it);
      if (st.pending.length >= MAX_ROWS) { st.full = true; st.pending = []; }
    }
    schedule();
  }

  function nowSec() { return Math.max(Math.floor(Date.now() / 1000), st.maxSec); }

  function statusClass(r) {
    const c = Math.floor((r.status || 0) / 100);
    return c >= 2 && c <= 5 ? c : 0;
  }

  // count adds a record to the aggregates, by the time the log gives it
  // (records filled in after a reconnect land where they belong).
  function count(r) {
    const node = r.node ? nodeKey(r.node) : '';
    if (r.vhost && !st.vhosts) {
      // The vhost column shows once a record has one.
      st.vhosts = true;
      $('tail').classList.add('by-vhost');
      respan();
    }
    if (r.duration !== undefined && !st.durations) {
      // So does the duration column, once a record has a duration.
      st.durations = true;
      $('tail').classList.add('by-duration');
      respan();
    }
    const real = Math.floor(Date.now() / 1000);
    let sec = r.time ? Math.floor(Date.parse(r.time) / 1000) : NaN;
    if (!Number.isFinite(sec)) sec = nowSec();
    else if (sec > st.maxSec && sec <= real + 300) st.maxSec = sec;
    const now = nowSec();
    if (sec > now - CHART_SECONDS - 2 && sec <= now) {
      let b = st.secs.get(sec);
      if (!b) st.secs.set(sec, b = { n: 0, b: 0, c: [0, 0, 0, 0, 0, 0] });
      b.n++;
      b.b += r.bytes || 0;
      b.c[statusClass(r)]++;
      if (node) {
        if (!b.nd) b.nd = new Map();
        b.nd.set(node, (b.nd.get(node) || 0) + 1);
      }
    }
    const min = Math.floor(sec / 60);
    if (r.raw === undefined && min > Math.floor(now / 60) - TOP_MINUTES && sec <= now) {
      let m = st.mins.get(min);
      if (!m) st.mins.set(min, m = { path: new Map(), host: new Map(), referer: new Map() });
      if (r.path) bump(m.path, r.path.split('?')[0]);
      if (r.host) bump(m.host, r.host);
      if (r.referer && r.referer !== '-') bump(m.referer, r.referer);
    }
    st.aggDirty = true;
  }

  function bump(m, k) {
    if (!m.has(k) && m.size >= TOP_KEYS) k = '(other)';
    m.set(k, (m.get(k) || 0) + 1);
  }

  // nodeKey notes a node the first time it is seen (the table gets its
  // column, the filters its selector) and returns the name it is counted
  // under.
  function nodeKey(node) {
    if (st.nodes.has(node)) return node;
    if (st.nodes.size >= NODE_KEYS) return '(other)';
    st.nodes.add(node);
    renderNodeOptions();
    return node;
  }

  function resetData() {
    st.items = [];
    st.pending = [];
    st.full = false;
    $('rows').replaceChildren();
    $('empty').hidden = false;
    st.total = st.missed = st.pausedNew = 0;
    st.secs.clear();
    st.mins.clear();
    st.maxSec = 0;
    st.aggDirty = true;
    schedule();
  }

  // ---- rendering -----------------------------------------------------

  function schedule() {
    if (!st.raf) st.raf = requestAnimationFrame(render);
  }

  function render() {
    st.raf = 0;
    if (!st.paused) renderTable();
    renderPause();
    if (st.aggDirty && performance.now() - st.aggAt >= 250) renderAggregates();
  }

  function renderTable() {
    const tb = $('rows');
    const box = tb.closest('.tail');
    if (st.full) {
      st.full = false;
      st.pending = [];
      const frag = document.createDocumentFragment();
      for (let i = st.items.length - 1; i >= Math.max(0, st.items.length - MAX_ROWS); i--) {
        frag.appendChild(rowFor(st.items[i], false));
      }
      tb.replaceChildren(frag);
    } else if (st.pending.length) {
      const frag = document.createDocumentFragment();
      const flash = st.pending.length <= 50;
      for (let i = st.pending.length - 1; i >= 0; i--) frag.appendChild(rowFor(st.pending[i], flash));
      st.pending = [];
      const h = box.scrollHeight;
      tb.insertBefore(frag, tb.firstChild);
      while (tb.rows.length > MAX_ROWS) tb.lastChild.remove();
      // A reader scrolled down keeps their place as rows arrive above.
      if (box.scrollTop > 0) box.scrollTop += box.scrollHeight - h;
    }
    $('empty').hidden = tb.rows.length > 0;
    rovingRow();
  }

  // rovingRow keeps one record row in the tab order, the first unless
  // another was chosen: Tab reaches the table once, not once per row.
  function rovingRow(tr) {
    const tb = $('rows');
    const cur = tb.querySelector('tr[tabindex="0"]');
    if (!tr) tr = cur || tb.querySelector('tr[data-seq]');
    if (cur && cur !== tr) cur.tabIndex = -1;
    if (tr) tr.tabIndex = 0;
  }

  // span is the number of columns shown (media queries hide some): a row
  // spanning more would add empty columns to the fixed table layout.
  let spanCache = 0;
  function span() {
    if (!spanCache) {
      spanCache = [...document.querySelectorAll('#tail thead th')].filter((th) => getComputedStyle(th).display !== 'none').length || 1;
    }
    return spanCache;
  }
  function respan() {
    spanCache = 0;
    const n = span();
    for (const c of document.querySelectorAll('#rows td[colspan]')) c.colSpan = n;
  }
  window.addEventListener('resize', respan);

  function td(tr, cls, text, title) {
    const c = document.createElement('td');
    c.className = cls;
    c.textContent = text;
    if (title) c.title = title;
    tr.appendChild(c);
    return c;
  }

  function rowFor(it, fresh) {
    const tr = document.createElement('tr');
    if (it.k === 'gap') {
      tr.className = 'gap';
      td(tr, '', it.n + (it.n === 1 ? ' record' : ' records') + ' missed (seq ' + it.from +
        (it.to > it.from ? '–' + it.to : '') + ')' +
        (filtered() ? '; some may not have matched the filter' : '')).colSpan = span();
      tr.dataset.missed = it.n;
      return tr;
    }
    if (it.k === 'note') {
      tr.className = 'note';
      td(tr, '', it.text).colSpan = span();
      return tr;
    }
    const r = it.r;
    tr.dataset.seq = r.seq;
    // The row opens the record's details, by click or by keyboard. One row
    // at a time is in the tab order (see rovingRow); arrows move along.
    tr.tabIndex = -1;
    tr.setAttribute('aria-haspopup', 'dialog');
    tr.record = r;
    if (fresh) tr.classList.add('fresh');
    if (r.raw !== undefined && r.host === undefined) {
      tr.classList.add('raw');
      td(tr, 'raw', r.raw, 'seq ' + r.seq + ' from ' + (r.node ? r.node + ':' : '') + r.source +
        ': a line that did not parse').colSpan = span();
      return tr;
    }
    tr.classList.add('s' + statusClass(r));
    for (const [k] of COLUMNS) {
      const [text, title] = CELLS[k](r);
      td(tr, 'c-' + k, text, title);
    }
    return tr;
  }

  function human(n) {
    if (n < 1000) return String(Math.round(n));
    const u = ['k', 'M', 'G', 'T'];
    let i = -1;
    do { n /= 1000; i++; } while (n >= 1000 && i < u.length - 1);
    return (n < 10 ? n.toFixed(1) : Math.round(n)) + ' ' + u[i];
  }

  // took writes seconds as a person reads them: 450 µs, 2.3 ms, 23 ms,
  // 1.50 s, 12.3 s, 2 m 05 s.
  function took(s) {
    if (s < 0.001) return Math.round(s * 1e6) + ' µs';
    if (s < 0.01) return (s * 1000).toFixed(1) + ' ms';
    if (s < 1) return Math.round(s * 1000) + ' ms';
    if (s < 10) return s.toFixed(2) + ' s';
    if (s < 60) return s.toFixed(1) + ' s';
    const m = Math.floor(s / 60);
    return m + ' m ' + String(Math.floor(s - 60 * m)).padStart(2, '0') + ' s';
  }

  // ---- details of a record --------------------------------------------

  // showDetails lists every field the record has, in the order the server
  // wrote them (its JSON keys), and each of its fields; durations both
  // as read and exactly.
  function showDetails(r) {
    const dl = $('details-list');
    const rows = [];
    const add = (name, value, cls) => {
      const dt = document.createElement('dt');
      dt.textContent = name;
      const dd = document.createElement('dd');
      dd.textContent = value;
      if (cls) dt.className = dd.className = cls;
      rows.push(dt, dd);
    };
    for (const [k, v] of Object.entries(r)) {
      if (k === 'fields' && v && typeof v === 'object') {
        const pairs = Object.entries(v);
        add('fields', pairs.length + (pairs.length === 1 ? ' value' : ' values') + ' the log format names', 'group');
        for (const [name, value] of pairs) add(name, String(value), 'field');
      } else if ((k === 'duration' || k === 'upstream_duration') && typeof v === 'number') {
        add(k, took(v) + ' (' + v + ' s)');
      } else {
        add(k, String(v));
      }
    }
    dl.replaceChildren(...rows);
    $('details-title').textContent = 'Record ' + r.seq;
    $('details').showModal();
  }

  function rowRecord(e) {
    const tr = e.target.closest('#rows tr[data-seq]');
    return tr && tr.record;
  }
  $('rows').addEventListener('click', (e) => {
    const r = rowRecord(e);
    // Selecting text in a row is not asking for its details.
    if (r && !String(window.getSelection() || '')) {
      rovingRow(e.target.closest('tr'));
      showDetails(r);
    }
  });
  $('rows').addEventListener('keydown', (e) => {
    const r = rowRecord(e);
    if (!r) return;
    const tr = e.target.closest('tr');
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      showDetails(r);
    } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      let next = tr;
      do next = e.key === 'ArrowDown' ? next.nextElementSibling : next.previousElementSibling;
      while (next && !next.dataset.seq);
      if (next) {
        e.preventDefault();
        rovingRow(next);
        next.focus();
      }
    }
  });
  $('rows').addEventListener('focusin', (e) => {
    const tr = e.target.closest('#rows tr[data-seq]');
    if (tr) rovingRow(tr);
  });
  $('details-close').addEventListener('click', () => $('details').close());
  // A click on the backdrop (outside the dialog's box) closes it too.
  $('details').addEventListener('click', (e) => { if (e.target === $('details')) $('details').close(); });

  function fmtRate(x) { return x >= 100 ? String(Math.round(x)) : x.toFixed(1); }

  function renderPause() {
    const b = $('pause');
    b.setAttribute('aria-pressed', String(st.paused));
    b.textContent = st.paused ? 'Resume' + (st.pausedNew ? ' (' + st.pausedNew + ' new)' : '') : 'Pause';
  }

  function renderAggregates() {
    st.aggDirty = false;
    st.aggAt = performance.now();
    const now = nowSec();
    for (const s of st.secs.keys()) if (s <= now - CHART_SECONDS - 2) st.secs.delete(s);
    for (const m of st.mins.keys()) if (m <= Math.floor(now / 60) - TOP_MINUTES) st.mins.delete(m);

    let n = 0, bytes = 0;
    const cls = [0, 0, 0, 0, 0, 0];
    for (const [s, b] of st.secs) {
      if (s > now - CHART_SECONDS) for (let i = 0; i < 6; i++) cls[i] += b.c[i];
      // The current second is still filling: the rate is of the ones before.
      if (s >= now - RATE_SECONDS && s < now) { n += b.n; bytes += b.b; }
    }
    $('stat-rate').textContent = fmtRate(n / RATE_SECONDS);
    $('stat-bytes').textContent = human(bytes / RATE_SECONDS) + (bytes / RATE_SECONDS < 1000 ? ' B' : 'B');
    $('stat-total').textContent = st.total.toLocaleString('en-US');
    const missed = $('stat-missed');
    missed.textContent = st.missed.toLocaleString('en-US');
    missed.classList.toggle('some', st.missed > 0);
    const all = cls.reduce((a, b) => a + b, 0);
    for (const i of [0, 2, 3, 4, 5]) {
      $('cls-' + i).textContent = cls[i] + (all ? ' (' + Math.round(100 * cls[i] / all) + '%)' : '');
    }
    drawRate(now);
    drawBytes(now);
    renderNodes(now);
    renderTop('top-path', 'path', now);
    renderTop('top-host', 'host', now);
    renderTop('top-referer', 'referer', now);
  }

  function renderTop(id, key, now) {
    const sum = new Map();
    for (const [m, maps] of st.mins) {
      if (m <= Math.floor(now / 60) - TOP_MINUTES) continue;
      for (const [k, v] of maps[key]) sum.set(k, (sum.get(k) || 0) + v);
    }
    const top = [...sum].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, TOP_N);
    const ol = $(id);
    const lis = top.map(([k, v]) => {
      const li = document.createElement('li');
      li.style.setProperty('--w', (100 * v / top[0][1]).toFixed(1) + '%');
      li.dataset.value = k;
      const s = document.createElement('span');
      s.textContent = k;
      s.title = k;
      const b = document.createElement('b');
      b.textContent = v.toLocaleString('en-US');
      li.append(s, b);
      return li;
    });
    if (!lis.length) {
      const li = document.createElement('li');
      li.className = 'none';
      li.textContent = 'nothing yet';
      lis.push(li);
    }
    ol.replaceChildren(...lis);
  }

  // renderNodes fills the nodes panel: per node, the hits of the last
  // RATE_SECONDS (as a rate, like the header's), of the last minute and of
  // the chart's window. A node seen earlier that went quiet stays, at 0:
  // a publisher that stopped is worth seeing.
  function renderNodes(now) {
    $('nodes-panel').hidden = st.nodes.size === 0;
    if (!st.nodes.size) return;
    const sum = new Map();
    for (const k of st.nodes) sum.set(k, [0, 0, 0]);
    for (const [s, b] of st.secs) {
      if (!b.nd || s <= now - CHART_SECONDS || s > now) continue;
      for (const [k, v] of b.nd) {
        let c = sum.get(k);
        if (!c) sum.set(k, c = [0, 0, 0]); // "(other)"
        if (s >= now - RATE_SECONDS && s < now) c[0] += v;
        if (s > now - 60) c[1] += v;
        c[2] += v;
      }
    }
    const rows = [...sum].sort((a, b) => b[1][2] - a[1][2] || (a[0] < b[0] ? -1 : 1));
    const top = Math.max(1, rows.length ? rows[0][1][2] : 1);
    const trs = rows.slice(0, NODE_ROWS).map(([k, c]) => {
      const tr = document.createElement('tr');
      tr.dataset.node = k;
      tr.style.setProperty('--w', (100 * c[2] / top).toFixed(1) + '%');
      tr.classList.toggle('quiet', c[2] === 0);
      const name = td(tr, 'n-name', k, k);
      if (k === '(other)') name.title = 'nodes beyond the first ' + NODE_KEYS;
      td(tr, 'n-rate', fmtRate(c[0] / RATE_SECONDS));
      td(tr, 'n-min', c[1].toLocaleString('en-US'));
      td(tr, 'n-all', c[2].toLocaleString('en-US'));
      return tr;
    });
    if (rows.length > NODE_ROWS) {
      const tr = document.createElement('tr');
      tr.className = 'more';
      td(tr, '', '+ ' + (rows.length - NODE_ROWS) + ' more').colSpan = 4;
      trs.push(tr);
    }
    $('node-rows').replaceChildren(...trs);
  }

  // ---- charts (canvas, drawn here) -----------------------------------

  let colors = null;
  function color(name) {
    if (!colors) colors = getComputedStyle(document.documentElement);
    return colors.getPropertyValue(name).trim();
  }
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    colors = null;
    st.aggDirty = true;
    schedule();
  });

  function canvas(id) {
    const cv = $(id);
    const dpr = window.devicePixelRatio || 1;
    const w = cv.clientWidth || 300;
    const h = Number(cv.dataset.h || 100);
    if (cv.width !== Math.round(w * dpr) || cv.height !== Math.round(h * dpr)) {
      cv.width = Math.round(w * dpr);
      cv.height = Math.round(h * dpr);
      cv.style.height = h + 'px';
    }
    const ctx = cv.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    return { ctx, w, h };
  }

  // niceMax rounds up to 1, 2 or 5 times a power of ten.
  function niceMax(x) {
    if (x <= 1) return 1;
    const p = 10 ** Math.floor(Math.log10(x));
    for (const m of [1, 2, 5, 10]) if (x <= m * p) return m * p;
    return 10 * p;
  }

  const PAD_L = 34, PAD_B = 14;

  function axes(ctx, w, h, max, label) {
    ctx.font = '10px system-ui, sans-serif';
    ctx.fillStyle = color('--muted');
    ctx.strokeStyle = color('--line');
    ctx.lineWidth = 1;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    for (const f of [0, 0.5, 1]) {
      const y = Math.round((h - PAD_B) - f * (h - PAD_B - 6)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(PAD_L, y);
      ctx.lineTo(w, y);
      ctx.stroke();
      ctx.fillText(label(max * f), PAD_L - 4, y);
    }
    ctx.textBaseline = 'alphabetic';
    const mins = CHART_SECONDS / 60;
    for (let i = 0; i <= mins; i++) {
      const x = PAD_L + (w - PAD_L) * i / mins;
      ctx.textAlign = i === 0 ? 'left' : i === mins ? 'right' : 'center';
      ctx.fillText(i === mins ? 'now' : '−' + (mins - i) + 'm', x, h - 2);
    }
  }

  const ORDER = [2, 3, 4, 5, 0];
  const BIN = 5; // seconds per bar
  const NBINS = CHART_SECONDS / BIN;

  // bins sums the seconds of the chart's window into NBINS bars aligned on
  // multiples of BIN seconds (so bars do not shift as time passes), each as
  // a per-second average; the last bar, still filling, over its seconds
  // so far.
  function bins(now) {
    const last = Math.floor(now / BIN) * BIN;
    const first = last - (NBINS - 1) * BIN;
    const out = [];
    for (let i = 0; i < NBINS; i++) out.push({ n: 0, b: 0, c: [0, 0, 0, 0, 0, 0] });
    for (const [s, b] of st.secs) {
      if (s < first || s > now) continue;
      const o = out[Math.floor((s - first) / BIN)];
      o.n += b.n;
      o.b += b.b;
      for (let i = 0; i < 6; i++) o.c[i] += b.c[i];
    }
    out.forEach((o, i) => {
      const d = i === NBINS - 1 ? now - last + 1 : BIN;
      o.n /= d;
      o.b /= d;
      for (let j = 0; j < 6; j++) o.c[j] /= d;
    });
    // x of bar i's left edge, as a fraction of the plot: "now" is the
    // right edge, the window starts CHART_SECONDS before it.
    const x0 = (first - (now + 1 - CHART_SECONDS)) / CHART_SECONDS;
    return { bars: out, x0 };
  }

  function drawRate(now) {
    const { ctx, w, h } = canvas('chart-rate');
    const { bars, x0 } = bins(now);
    const max = niceMax(Math.max(...bars.map((b) => b.n)));
    axes(ctx, w, h, max, (v) => v >= 10 || v === 0 ? String(Math.round(v)) : v.toFixed(1));
    const pw = w - PAD_L, bw = pw * BIN / CHART_SECONDS;
    const ph = h - PAD_B - 6;
    const fills = ORDER.map((c) => color('--s' + c));
    bars.forEach((b, i) => {
      const x = PAD_L + pw * x0 + i * bw;
      const left = Math.max(x, PAD_L);
      let y = h - PAD_B;
      ORDER.forEach((c, j) => {
        if (!b.c[c]) return;
        const bh = b.c[c] / max * ph;
        ctx.fillStyle = fills[j];
        ctx.fillRect(left, y - bh, Math.max(x + bw - left - (bw > 3 ? 1 : 0), 0.5), bh);
        y -= bh;
      });
    });
  }

  function drawBytes(now) {
    const { ctx, w, h } = canvas('chart-bytes');
    const { bars, x0 } = bins(now);
    const max = niceMax(Math.max(...bars.map((b) => b.b)));
    axes(ctx, w, h, max, (v) => v ? human(v) : '0');
    const pw = w - PAD_L, bw = pw * BIN / CHART_SECONDS;
    const ph = h - PAD_B - 6;
    const y0 = h - PAD_B;
    const pts = bars.map((b, i) => [Math.max(PAD_L, PAD_L + pw * x0 + (i + 0.5) * bw), y0 - b.b / max * ph]);
    ctx.beginPath();
    ctx.moveTo(pts[0][0], y0);
    for (const [x, y] of pts) ctx.lineTo(x, y);
    ctx.lineTo(pts[pts.length - 1][0], y0);
    ctx.closePath();
    ctx.globalAlpha = 0.3;
    ctx.fillStyle = color('--accent');
    ctx.fill();
    ctx.globalAlpha = 1;
    ctx.strokeStyle = color('--accent');
    ctx.lineWidth = 1.5;
    ctx.lineJoin = 'round';
    ctx.beginPath();
    pts.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.stroke();
  }

  // ---- controls ------------------------------------------------------

  function fillForm() {
    for (const k of FILTERS) {
      const el = $('f-' + k);
      if ((k === 'source' || k === 'node') && st.filters[k] && ![...el.options].some((o) => o.value === st.filters[k])) {
        el.add(new Option(st.filters[k], st.filters[k]));
      }
      el.value = st.filters[k] || '';
      el.classList.toggle('active', !!st.filters[k]);
    }
    $('source-wrap').hidden = st.sources.length < 2 && !st.filters.source;
    $('node-wrap').hidden = st.nodes.size === 0 && !st.filters.node;
    const n = FILTERS.filter((k) => st.filters[k]).length;
    const tg = $('filters-toggle');
    tg.textContent = 'Filters' + (n ? ' (' + n + ')' : '');
    tg.classList.toggle('some', n > 0);
  }

  function renderSources() {
    const sel = $('f-source');
    const opts = [new Option('all sources', '')];
    for (const n of st.sources) opts.push(new Option(n, n));
    sel.replaceChildren(...opts);
    $('tail').classList.toggle('multi', st.sources.length > 1);
    respan();
    fillForm();
  }

  // renderNodeOptions lists the nodes seen in the node selector, and shows
  // the table's node column once there is one. It leaves the rest of the
  // form alone: a new node may turn up while someone is typing a filter.
  function renderNodeOptions() {
    const sel = $('f-node');
    const opts = [new Option('all nodes', '')];
    for (const n of [...st.nodes].sort()) opts.push(new Option(n, n));
    const f = st.filters.node;
    if (f && !st.nodes.has(f)) opts.push(new Option(f, f)); // a comma list, or not seen yet
    sel.replaceChildren(...opts);
    sel.value = f || '';
    $('node-wrap').hidden = false;
    $('tail').classList.add('by-node');
    respan();
  }

  function showError(text) {
    const e = $('error');
    e.textContent = text;
    e.hidden = !text;
  }

  // applyFilters starts a new view: the stream is reopened with the new
  // parameters and the page URL keeps them, for bookmarks and Back.
  function applyFilters(f, push) {
    st.filters = f;
    if (push) history.pushState(null, '', pageURL());
    fillForm();
    stop();
    st.lastSeq = st.floor = 0;
    st.lastRec = null;
    st.started = false;
    st.attempt = 0;
    resetData();
    connect();
  }

  $('filters').addEventListener('submit', (e) => {
    e.preventDefault();
    const f = {};
    for (const k of FILTERS) {
      const v = $('f-' + k).value.trim();
      if (v) f[k] = v;
    }
    const same = FILTERS.every((k) => (f[k] || '') === (st.filters[k] || ''));
    if (!same || $('conn').dataset.state === 'disconnected') applyFilters(f, !same);
  });
  $('f-source').addEventListener('change', () => $('filters').requestSubmit());
  $('f-node').addEventListener('change', () => $('filters').requestSubmit());
  $('reset').addEventListener('click', () => {
    for (const k of FILTERS) $('f-' + k).value = '';
    $('filters').requestSubmit();
  });
  for (const id of ['top-path', 'top-host']) {
    $(id).addEventListener('click', (e) => {
      const li = e.target.closest('li[data-value]');
      if (!li || li.dataset.value === '(other)') return;
      $('f-' + $(id).dataset.filter).value = li.dataset.value;
      $('filters').requestSubmit();
    });
  }
  // A click on a node of the panel shows only its records.
  $('node-rows').addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-node]');
    if (!tr || tr.dataset.node === '(other)') return;
    $('f-node').value = tr.dataset.node;
    $('filters').requestSubmit();
  });
  window.addEventListener('popstate', () => applyFilters(readFilters(new URLSearchParams(location.search)), false));

  $('pause').addEventListener('click', () => {
    st.paused = !st.paused;
    st.pausedNew = 0;
    schedule();
  });
  $('clear').addEventListener('click', () => resetData());
  $('filters-toggle').addEventListener('click', () => {
    const open = $('filters').classList.toggle('open');
    $('filters-toggle').setAttribute('aria-expanded', String(open));
  });

  window.addEventListener('online', () => {
    if (!st.conn || !st.conn.opened) { st.attempt = 0; connect(); }
  });
  window.addEventListener('offline', showRetry);

  setInterval(() => {
    showRetry();
    st.aggDirty = true;
    schedule();
  }, 1000);
  setInterval(() => {
    if (st.conn && st.conn.opened) getJSON('api/status').then(gotStatus, () => {});
  }, 15000);
  // While some log is not followed, or its lines do not fit, look more
  // often, so that the notice goes once that is over.
  setInterval(() => {
    if ((!$('waiting').hidden || !$('misfits').hidden) && st.conn && st.conn.opened) getJSON('api/status').then(gotStatus, () => {});
  }, 2000);

  $('tail').tHead.rows[0].replaceChildren(...COLUMNS.map(([k, label]) => {
    const th = document.createElement('th');
    th.className = 'c-' + k;
    th.textContent = label;
    return th;
  }));
  history.replaceState(null, '', pageURL());
  fillForm();
  connect();
})();
