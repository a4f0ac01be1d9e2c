// weblogd dashboard: the server's statistics, and a live tail beside them.
//
// The cards, the chart and the panels show GET api/stats for the window
// picked (5 min, 1 h, 24 h) with the page's filters, asked again about
// once a second: the server counts every record, so the page shows the
// same numbers whenever it was opened. The tail is a client of the public
// streams like any other: /ws (or /events where WebSocket fails) with the
// same filters, the newest rows rendered at most once per animation frame.
// Every URL is relative, so the page works under any base path. Every seq
// is accounted for once in the tail: shown, or counted as missed in a gap;
// a reconnect resumes after the last one (since=SEQ). A row opens the
// record's details: every field it has, fields included. The page runs
// under a strict Content-Security-Policy: no inline script or style.
'use strict';
(function () {
  const MAX_ROWS = 60;         // rows of the tail: the page scrolls, the tail is bounded
  const BACKLOG = 100;         // history asked for when a view starts
  const STATS_EVERY = 1000;    // ms between two questions to api/stats
  const FAST = 10;             // records a second above which new rows are not flashed
  const FAST_FRAME = 250;      // ms between two updates of the tail above that rate
  const TOP_N = 10;            // values per panel
  const WINDOWS = ['5m', '1h', '24h'];
  const DEFAULT_WINDOW = '1h';
  const WINDOW_WORDS = { '5m': 'the last 5 minutes', '1h': 'the last hour', '24h': 'the last 24 hours' };
  const FILTERS = ['source', 'node', 'status', 'method', 'path', 'host', 'vhost', 'min_duration', 'q'];
  const FILTER_WORDS = { source: 'source', node: 'node', status: 'status', method: 'method', path: 'path',
    host: 'client', vhost: 'vhost', min_duration: 'took at least', q: 'text' };
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
  // CELLS gives, per column, a record's text in the cell and its tooltip
  // (the whole value, where the cell may cut it short).
  const CELLS = {
    time: (r) => [r.time ? r.time.slice(11, 19) : '', r.time],
    node: (r) => [r.node || '', r.node],
    source: (r) => [r.source || '', r.source],
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
  // PANELS are the top lists of api/stats shown, in order: the list's key
  // in its "top", and the filter a click on a value sets. A list without
  // a filter (browser and OS families, countries: the streams cannot
  // select by them) shows its values unclickable rather than filter by
  // something else. A panel with nothing in the window is hidden, except
  // those marked always.
  const PANELS = [
    { id: 'status', title: 'Status codes', always: true, filter: (v) => ({ status: v }) },
    { id: 'path', title: 'Paths', always: true, filter: (v) => v.startsWith('/') && { path: v } },
    { id: 'not_found', title: 'Not found (404)', filter: (v) => v.startsWith('/') && { path: v, status: '404' } },
    { id: 'slowest', title: 'Slowest paths', filter: (v) => v.startsWith('/') && { path: v } },
    { id: 'host', title: 'Clients', filter: (v) => ({ host: v }) },
    { id: 'site', title: 'Referring sites', filter: (v) => ({ q: v }),
      hint: 'the lines that name it anywhere (the streams have no referer filter)' },
    { id: 'browser', title: 'Browsers' },
    { id: 'os', title: 'Operating systems' },
    { id: 'country', title: 'Countries' },
    { id: 'vhost', title: 'Virtual hosts', filter: (v) => ({ vhost: v }) },
    { id: 'method', title: 'Methods', filter: (v) => /^[A-Za-z]+$/.test(v) && { method: v } },
    { id: 'source', title: 'Sources', filter: (v) => ({ source: v }) },
  ];

  const $ = (id) => document.getElementById(id);
  const pageQuery = new URLSearchParams(location.search);

  const st = {
    filters: readFilters(pageQuery),
    window: readWindow(pageQuery),
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
    full: false,         // the table must be rebuilt from items
    raf: 0, later: 0, tailAt: 0,
    total: 0, missed: 0,
    sec: 0, secN: 0, prevN: 0, // records that arrived this second and the one before
    sources: [],
    nodes: new Set(),    // every node seen since the page loaded, kept across views
    vhosts: false,       // a record with a vhost was seen since the page loaded
    durations: false,    // a record with a duration was seen since the page loaded
  };
  // sx is the state of the statistics: the answer shown, and the question
  // in flight (an answer to an older question is dropped).
  const sx = { gen: 0, busy: false, again: false, res: null, minute: null };

  // ---- query strings -------------------------------------------------

  function readFilters(q) {
    const f = {};
    for (const k of FILTERS) {
      const v = k === 'q' ? (q.get(k) || '') : q.getAll(k).filter(Boolean).join(',');
      if (v) f[k] = v;
    }
    return f;
  }

  function readWindow(q) {
    const w = q.get('window');
    return WINDOWS.includes(w) ? w : DEFAULT_WINDOW;
  }

  function filterQuery(extra) {
    const p = new URLSearchParams();
    for (const k of FILTERS) if (st.filters[k]) p.set(k, st.filters[k]);
    for (const k in extra) p.set(k, String(extra[k]));
    const s = p.toString();
    return s ? '?' + s : '';
  }

  // pageURL is the view's URL: the filters, the window unless the
  // default, the transport when forced; paths, addresses and lists kept
  // readable (/, : and , need no escaping in a query).
  function pageURL() {
    const p = [];
    const add = (k, v) => p.push(k + '=' + encodeURIComponent(v).replace(/%2F/g, '/').replace(/%3A/g, ':').replace(/%2C/g, ','));
    for (const k of FILTERS) if (st.filters[k]) add(k, st.filters[k]);
    if (st.window !== DEFAULT_WINDOW) add('window', st.window);
    if (st.forceSSE) add('transport', 'sse');
    return p.length ? '?' + p.join('&') : location.pathname;
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
    arrived();
    look(rec);
    push({ k: 'hit', r: rec });
  }

  function ingestGap(g) {
    if (!(g.to > st.lastSeq)) return;
    const from = Math.max(g.from, st.lastSeq + 1);
    const n = g.to - from + 1;
    st.lastSeq = g.to;
    st.missed += n;
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

  // arrived counts the records of this second and the one before: the
  // rate that decides how new rows are marked.
  function arrived() {
    const s = Math.floor(Date.now() / 1000);
    if (s !== st.sec) {
      st.prevN = s === st.sec + 1 ? st.secN : 0;
      st.sec = s;
      st.secN = 0;
    }
    st.secN++;
  }

  function rate() {
    const s = Math.floor(Date.now() / 1000);
    if (s === st.sec) return Math.max(st.secN, st.prevN);
    return s === st.sec + 1 ? st.secN : 0;
  }

  function statusClass(r) {
    const c = Math.floor((r.status || 0) / 100);
    return c >= 2 && c <= 5 ? c : 0;
  }

  // look shows the columns a record needs: vhost, duration and node
  // appear with the first record that has one.
  function look(r) {
    if (r.node && !st.nodes.has(r.node)) {
      st.nodes.add(r.node);
      renderNodeOptions();
    }
    if (r.vhost && !st.vhosts) {
      st.vhosts = true;
      $('tail').classList.add('by-vhost');
      respan();
    }
    if (r.duration !== undefined && !st.durations) {
      st.durations = true;
      $('tail').classList.add('by-duration');
      respan();
    }
  }

  function resetData() {
    st.items = [];
    st.pending = [];
    st.full = false;
    $('rows').replaceChildren();
    $('empty').hidden = false;
    st.total = st.missed = st.pausedNew = 0;
    schedule();
  }

  // ---- the tail ------------------------------------------------------

  function schedule() {
    if (!st.raf) st.raf = requestAnimationFrame(render);
  }

  function render() {
    st.raf = 0;
    if (!st.paused && (st.full || st.pending.length)) {
      // Above FAST records a second the table changes four times a second,
      // not sixty: rows that stay put a moment can be read.
      const wait = rate() > FAST ? st.tailAt + FAST_FRAME - performance.now() : 0;
      if (wait > 0) {
        if (!st.later) st.later = setTimeout(() => { st.later = 0; schedule(); }, wait);
      } else {
        renderTable();
      }
    }
    renderPause();
    renderCounts();
  }

  function renderCounts() {
    $('stat-total').textContent = fmtInt(st.total);
    const missed = $('stat-missed');
    missed.textContent = fmtInt(st.missed);
    missed.classList.toggle('some', st.missed > 0);
  }

  // renderTable puts the new rows at the top. How they are marked depends
  // on the rate: a few rows a second flash one by one; faster, a line under
  // the newest batch says where the rows since the last update end, as a
  // table where every row flashes says nothing.
  function renderTable() {
    st.tailAt = performance.now();
    const tb = $('rows');
    const old = tb.querySelector('tr.edge');
    if (old) old.classList.remove('edge');
    if (st.full) {
      st.full = false;
      st.pending = [];
      const frag = document.createDocumentFragment();
      for (let i = st.items.length - 1; i >= Math.max(0, st.items.length - MAX_ROWS); i--) {
        frag.appendChild(rowFor(st.items[i], false));
      }
      tb.replaceChildren(frag);
    } else if (st.pending.length) {
      const n = st.pending.length;
      const flash = n <= 5 && rate() <= FAST;
      const frag = document.createDocumentFragment();
      // History (the backlog of a new view) is not new.
      for (let i = n - 1; i >= 0; i--) {
        const it = st.pending[i];
        frag.appendChild(rowFor(it, flash && !(it.r && it.r.seq <= st.floor)));
      }
      st.pending = [];
      const edge = frag.lastChild;
      const had = tb.rows.length;
      tb.insertBefore(frag, tb.firstChild);
      while (tb.rows.length > MAX_ROWS) tb.lastChild.remove();
      if (!flash && had && n < MAX_ROWS && edge) edge.classList.add('edge');
    }
    $('empty').hidden = tb.rows.length > 0;
    const more = st.total - tb.querySelectorAll('tr[data-seq]').length;
    $('more').hidden = more <= 0 || tb.rows.length < MAX_ROWS;
    $('more').textContent = 'The newest ' + MAX_ROWS + ' rows; Pause holds them still.';
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

  function fmtInt(n) { return Number(n || 0).toLocaleString('en-US'); }
  function fmtRate(x) { return x >= 100 ? fmtInt(Math.round(x)) : x >= 10 ? x.toFixed(1) : x.toFixed(2); }

  function human(n) {
    if (n < 1000) return String(Math.round(n));
    const u = ['k', 'M', 'G', 'T', 'P'];
    let i = -1;
    do { n /= 1000; i++; } while (n >= 1000 && i < u.length - 1);
    return (n < 10 ? n.toFixed(1) : Math.round(n)) + ' ' + u[i];
  }

  function humanBytes(n) { return n < 1000 ? Math.round(n) + ' B' : human(n) + 'B'; }

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

  function pct(part, all) {
    if (!all) return '–';
    const x = 100 * part / all;
    if (x > 0 && x < 0.1) return '<0.1%';
    return (x >= 10 ? x.toFixed(0) : x.toFixed(1)) + '%';
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

  function renderPause() {
    const b = $('pause');
    b.setAttribute('aria-pressed', String(st.paused));
    b.textContent = st.paused ? 'Resume' + (st.pausedNew ? ' (' + st.pausedNew + ' new)' : '') : 'Pause';
  }

  // ---- statistics (api/stats) ------------------------------------------

  function statsQuery(win) {
    const p = new URLSearchParams();
    p.set('window', win);
    for (const k of FILTERS) if (st.filters[k]) p.set(k, st.filters[k]);
    return '?' + p.toString();
  }

  async function statsGet(q) {
    const r = await fetch('api/stats' + q, { cache: 'no-store', credentials: 'same-origin' });
    if (r.status === 401) {
      loggedOut();
      throw new Error('logged out');
    }
    if (!r.ok) {
      const why = (await r.text()).trim().split('\n')[0];
      throw new Error(why || 'HTTP ' + r.status);
    }
    return r.json();
  }

  // fetchStats asks for the statistics of the view, and for the last
  // minute's too while there are nodes (their panel shows both). One
  // question at a time; a change of view asks again at once, and the
  // answer to the older question is dropped.
  async function fetchStats() {
    if (sx.busy) {
      sx.again = true;
      return;
    }
    sx.busy = true;
    const gen = sx.gen;
    const q = statsQuery(st.window);
    try {
      const res = await statsGet(q);
      let minute = null;
      if (st.nodes.size || (res.top && res.top.node)) {
        minute = await statsGet(statsQuery('1m')).catch(() => null);
      }
      if (gen === sx.gen) {
        sx.res = res;
        sx.minute = minute;
        statsError('');
        renderStats(q);
      }
    } catch (e) {
      if (gen === sx.gen) statsError(e instanceof TypeError ? 'statistics unavailable: server unreachable' : 'statistics: ' + e.message);
    } finally {
      sx.busy = false;
      if (sx.again) {
        sx.again = false;
        fetchStats();
      }
    }
  }

  // restartStats is a new question for a new view (window, filters).
  function restartStats() {
    sx.gen++;
    $('overview').setAttribute('aria-busy', 'true');
    fetchStats();
  }

  function statsError(text) {
    const e = $('stats-error');
    e.textContent = text;
    e.hidden = !text;
  }

  function hhmm(d) {
    return String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0');
  }

  function renderStats(q) {
    const res = sx.res;
    const o = $('overview');
    o.removeAttribute('aria-busy');
    o.dataset.query = q; // which question the numbers answer (tests wait on it)
    $('scope').textContent = (filtered() ? 'Matching records of ' : 'All records of ') + WINDOW_WORDS[st.window] +
      (res.from ? ' (since ' + hhmm(new Date(res.from)) + ')' : '');
    $('approx').hidden = res.top_exact !== false;
    const cov = $('covers');
    // A filtered answer counts the records the server holds one by one:
    // say how many, and since when if that is not the whole window.
    if (res.covers) {
      const from = new Date(res.covers.from);
      const short = !!res.from && from > new Date(res.from);
      cov.textContent = short ?
        'filter applied from ' + hhmm(from) + ' on (' + fmtInt(res.covers.records) + ' records): older ones are held as totals only' :
        'filter applied to each of the window\'s ' + fmtInt(res.covers.records) + ' records';
      cov.title = 'a filtered answer counts the records the server still holds one by one (--stats-detail)';
      cov.classList.toggle('short', short);
      cov.hidden = false;
    } else {
      cov.hidden = true;
    }
    renderCards(res);
    renderChart();
    renderPanels(res);
    renderNodes(res, sx.minute);
  }

  function card(id, text, value, title) {
    const e = $(id);
    e.textContent = text;
    if (value !== undefined) e.dataset.value = String(value);
    if (title !== undefined) e.title = title;
  }

  function renderCards(res) {
    const n = res.requests || 0;
    card('card-requests', fmtInt(n), n);
    card('card-rate', fmtRate(res.per_second || 0), res.per_second || 0, 'the requests of the last full minute over 60');
    card('card-visitors', fmtInt(res.visitors), res.visitors || 0, 'distinct client addresses (within 2%)');
    card('card-bytes', humanBytes(res.bytes || 0), res.bytes || 0, fmtInt(res.bytes) + ' bytes');
    const e4 = (res.errors && res.errors['4xx']) || 0, e5 = (res.errors && res.errors['5xx']) || 0;
    card('card-errors', pct(e4 + e5, n), e4 + e5, fmtInt(e4) + ' 4xx and ' + fmtInt(e5) + ' 5xx of ' + fmtInt(n) + ' requests');
    card('card-5xx', '5xx ' + pct(e5, n), e5);
    $('card-errors').classList.toggle('bad', n > 0 && e5 / n >= 0.01);
    const d = res.duration;
    $('card-time').hidden = !d;
    if (d) {
      card('card-p50', 'p50 ' + took(d.p50), d.p50, 'half of the ' + fmtInt(d.count) + ' requests with a time took at most this');
      card('card-p99', 'p99 ' + took(d.p99) + ' · max ' + took(d.max), d.p99);
    }
    $('card-parse').hidden = !res.parse_errors;
    card('card-parse-errors', fmtInt(res.parse_errors), res.parse_errors || 0, 'lines that did not parse (they are in the requests)');
  }

  // ---- panels ----------------------------------------------------------

  function panelList(p, res) {
    if (p.id === 'status') {
      return Object.entries(res.status || {}).map(([k, v]) => ({ value: k, count: v }))
        .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : 1));
    }
    if (p.id === 'slowest') return res.slowest || [];
    return (res.top && res.top[p.id]) || [];
  }

  function makePanels() {
    const box = $('panels');
    const made = PANELS.map((p) => {
      const s = document.createElement('section');
      s.className = 'panel top-panel';
      s.id = 'panel-' + p.id;
      s.hidden = !p.always;
      const h = document.createElement('h2');
      h.textContent = p.title + ' ';
      const small = document.createElement('small');
      small.className = 'approx-mark';
      small.textContent = '≈';
      small.title = 'counts estimated: more distinct values than are counted exactly';
      small.hidden = true;
      h.append(small);
      const ol = document.createElement('ol');
      ol.className = 'top';
      ol.id = 'top-' + p.id;
      if (p.filter) ol.dataset.filter = p.id;
      s.append(h, ol);
      return s;
    });
    box.prepend(...made);
  }

  function renderPanels(res) {
    const all = res.requests || 0;
    for (const p of PANELS) {
      const list = panelList(p, res).slice(0, TOP_N);
      const sec = $('panel-' + p.id);
      sec.hidden = !list.length && !p.always;
      sec.querySelector('.approx-mark').hidden = res.top_exact !== false || p.id === 'status';
      const ol = $('top-' + p.id);
      // Shares: of the requests; a 404 path's of the 404s; a slow path's
      // time of the slowest's.
      const max = p.id === 'slowest' ? (list.length ? list[0].total : 0) :
        p.id === 'not_found' ? ((res.status && res.status['404']) || all) : all;
      const lis = list.map((x) => itemFor(p, x, max));
      if (!lis.length) {
        const li = document.createElement('li');
        li.className = 'none';
        li.textContent = 'nothing in this window';
        lis.push(li);
      }
      ol.replaceChildren(...lis);
    }
  }

  // activeFilter reports whether a filter of the view is exactly what a
  // click on this value would set.
  function activeFilter(f) {
    return !!f && Object.keys(f).every((k) => st.filters[k] === f[k]);
  }

  // itemFor is one value of a panel: the value (a button when a click can
  // filter by it), its count and share, and a bar for the share.
  function itemFor(p, x, max) {
    const li = document.createElement('li');
    li.dataset.value = x.value;
    li.style.setProperty('--w', (max ? Math.min(100, 100 * (p.id === 'slowest' ? x.total : x.count) / max) : 0).toFixed(1) + '%');
    const f = p.filter && x.value ? p.filter(x.value) : null;
    let v;
    if (f) {
      v = document.createElement('button');
      v.type = 'button';
      v.filter = f;
      const what = Object.entries(f).map(([k, val]) => FILTER_WORDS[k] + ' ' + val).join(' and ');
      v.title = x.value + '\nshow only ' + what + (p.hint ? ': ' + p.hint : '');
      if (activeFilter(f)) li.classList.add('active');
    } else {
      v = document.createElement('span');
      v.title = x.value;
    }
    v.className = 'v';
    v.textContent = x.value || '(none)';
    if (p.id === 'status') li.classList.add('s' + Math.min(5, Math.floor(Number(x.value) / 100)));
    const n = document.createElement('b');
    if (p.id === 'slowest') {
      n.textContent = took(x.mean);
      n.title = 'mean ' + took(x.mean) + ', longest ' + took(x.max) + ', ' + took(x.total) + ' in all over ' + fmtInt(x.count) + ' requests';
      const s = document.createElement('small');
      s.textContent = 'max ' + took(x.max);
      li.append(v, n, s);
    } else {
      n.textContent = fmtInt(x.count);
      const s = document.createElement('small');
      s.textContent = pct(x.count, max);
      li.append(v, n, s);
    }
    return li;
  }

  $('panels').addEventListener('click', (e) => {
    const b = e.target.closest('button.v');
    if (b && b.filter) setFilters(Object.assign({}, st.filters, b.filter));
  });

  // renderNodes fills the nodes panel from the statistics: per node, its
  // requests per second and count over the last minute, and its count
  // over the window. A node seen earlier that is not in the answer (quiet,
  // or filtered out) stays, at 0: a publisher that stopped is worth seeing.
  function renderNodes(res, minute) {
    const win = new Map(((res.top && res.top.node) || []).map((x) => [x.value, x.count]));
    const min = new Map(((minute && minute.top && minute.top.node) || []).map((x) => [x.value, x.count]));
    let added = false;
    for (const k of win.keys()) if (!st.nodes.has(k)) { st.nodes.add(k); added = true; }
    if (added) renderNodeOptions();
    $('nodes-panel').hidden = st.nodes.size === 0;
    if (!st.nodes.size) return;
    $('node-window').textContent = st.window.replace('m', ' min').replace('h', ' h');
    const rows = [...st.nodes].map((k) => [k, min.get(k) || 0, win.get(k) || 0])
      .sort((a, b) => b[2] - a[2] || (a[0] < b[0] ? -1 : 1));
    const top = Math.max(1, rows.length ? rows[0][2] : 1);
    $('node-rows').replaceChildren(...rows.slice(0, TOP_N).map(([k, m, w]) => {
      const tr = document.createElement('tr');
      tr.dataset.node = k;
      tr.style.setProperty('--w', (100 * w / top).toFixed(1) + '%');
      tr.classList.toggle('quiet', w === 0);
      tr.classList.toggle('active', st.filters.node === k);
      const name = document.createElement('td');
      name.className = 'n-name';
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'v';
      b.textContent = k;
      b.title = k + '\nshow only node ' + k;
      name.append(b);
      tr.append(name);
      td(tr, 'n-rate', minute ? fmtRate(m / 60) : '–');
      td(tr, 'n-min', minute ? fmtInt(m) : '–');
      td(tr, 'n-all', fmtInt(w));
      return tr;
    }));
  }
  // A click on a node of the panel shows only its records.
  $('node-rows').addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-node]');
    if (tr) setFilters(Object.assign({}, st.filters, { node: tr.dataset.node }));
  });

  // ---- the chart (SVG, drawn here) ---------------------------------------

  const SVG = 'http://www.w3.org/2000/svg';
  const CLASSES = ['2xx', '3xx', '4xx', '5xx', 'other'];
  const CLASS_CSS = { '2xx': 's2', '3xx': 's3', '4xx': 's4', '5xx': 's5', other: 's0' };

  function svg(name, attrs, parent) {
    const e = document.createElementNS(SVG, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  // seconds reads a Go duration as the server writes it ("10s", "1m",
  // "15m0s", "1h").
  function seconds(d) {
    let s = 0;
    for (const [, n, u] of String(d || '').matchAll(/([\d.]+)(h|m|s)/g)) s += Number(n) * { h: 3600, m: 60, s: 1 }[u];
    return s;
  }

  function bucketWords(b) {
    if (b === 60) return 'per minute';
    if (b % 3600 === 0) return 'per ' + (b / 3600 === 1 ? 'hour' : b / 3600 + ' hours');
    if (b % 60 === 0) return 'per ' + b / 60 + ' min';
    return 'per ' + b + ' s';
  }

  // niceMax rounds up to 1, 2 or 5 times a power of ten.
  function niceMax(x) {
    if (x <= 1) return 1;
    const p = 10 ** Math.floor(Math.log10(x));
    for (const m of [1, 2, 5, 10]) if (x <= m * p) return m * p;
    return 10 * p;
  }

  // renderChart draws rate.counts as bars stacked by status class, oldest
  // left, the bucket still filling paler; times under the bars at round
  // multiples of the bucket, far enough apart to read.
  function renderChart() {
    const res = sx.res;
    const box = $('chart');
    if (!res || !res.rate || !res.rate.counts) return;
    const rate = res.rate;
    const counts = rate.counts;
    const cls = rate.classes || {};
    const bucket = seconds(rate.bucket) || 60;
    const start = Date.parse(rate.start) / 1000;
    const w = Math.max(200, box.clientWidth || 600);
    const h = w < 500 ? 130 : 170;
    const L = 44, B = 18, T = 8, R = 4;
    const pw = w - L - R, ph = h - B - T;
    const n = counts.length || 1;
    const bw = pw / n;
    const max = Math.max(2, niceMax(Math.max(0, ...counts))); // so that the middle line is a whole number
    const root = svg('svg', { viewBox: '0 0 ' + w + ' ' + h, width: w, height: h, class: 'chart-svg', 'aria-hidden': 'true' });
    for (const f of [0, 0.5, 1]) {
      const y = Math.round(T + ph - f * ph) + 0.5;
      svg('line', { x1: L, x2: w - R, y1: y, y2: y, class: 'grid' }, root);
      const t = svg('text', { x: L - 5, y: y + 3.5, class: 'ylabel' }, root);
      t.textContent = human(max * f);
    }
    let sums = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 };
    counts.forEach((c, i) => {
      const g = svg('g', { class: i === n - 1 ? 'bar filling' : 'bar' }, root);
      const at = new Date((start + i * bucket) * 1000);
      const parts = [];
      let y = T + ph;
      const x = L + i * bw;
      for (const k of CLASSES) {
        const v = (cls[k] && cls[k][i]) || 0;
        sums[k] += v;
        if (!v) continue;
        parts.push(k + ' ' + fmtInt(v));
        const bh = v / max * ph;
        svg('rect', { x: (x + (bw > 4 ? 0.5 : 0)).toFixed(2), y: (y - bh).toFixed(2), width: Math.max(0.5, bw - (bw > 4 ? 1 : 0)).toFixed(2),
          height: bh.toFixed(2), class: CLASS_CSS[k] }, g);
        y -= bh;
      }
      // An invisible full-height box, so that the tooltip is found over
      // an empty bucket too.
      svg('rect', { x: x.toFixed(2), y: T, width: bw.toFixed(2), height: ph, class: 'hit' }, g);
      const title = svg('title', {}, g);
      title.textContent = hhmm(at) + (bucket < 60 ? ':' + String(at.getSeconds()).padStart(2, '0') : '') +
        ' · ' + fmtInt(c) + ' requests' + (parts.length ? ': ' + parts.join(', ') : '') + (i === n - 1 ? ' (so far)' : '');
    });
    // Labels every `step` seconds, a multiple of the bucket, at least 64
    // pixels apart, on round local times. The buckets start with the
    // window (a whole minute), so a round time may fall inside a bucket:
    // its label stands where it falls.
    const steps = [10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200];
    const step = steps.find((s) => s % bucket === 0 && s / bucket * bw >= 64) || bucket * Math.ceil(64 / bw);
    const tz = new Date(start * 1000).getTimezoneOffset() * 60;
    for (let i = 0; i < n; i++) {
      const t0 = start + i * bucket;
      const round = Math.ceil((t0 - tz) / step) * step + tz;
      if (round >= t0 + bucket) continue;
      const x = L + (i + (round - t0) / bucket) * bw;
      if (x > w - R - 18) continue;
      svg('line', { x1: x + 0.5, x2: x + 0.5, y1: T + ph, y2: T + ph + 3, class: 'tick' }, root);
      const t = svg('text', { x: x, y: h - 3, class: 'xlabel' }, root);
      const d = new Date(round * 1000);
      t.textContent = hhmm(d) + (step < 60 ? ':' + String(d.getSeconds()).padStart(2, '0') : '');
    }
    box.replaceChildren(root);
    $('chart-unit').textContent = 'requests ' + bucketWords(bucket) + ', by status class';
    box.setAttribute('aria-label', 'requests ' + bucketWords(bucket) + ' over ' + WINDOW_WORDS[st.window] +
      ', by status class: ' + CLASSES.map((k) => k + ' ' + fmtInt(sums[k])).join(', '));
    const all = CLASSES.reduce((a, k) => a + sums[k], 0);
    for (const k of CLASSES) $('cls-' + k).textContent = fmtInt(sums[k]) + (all ? ' (' + pct(sums[k], all) + ')' : '');
  }
  let resizing = 0;
  window.addEventListener('resize', () => {
    respan();
    if (!resizing) resizing = requestAnimationFrame(() => { resizing = 0; renderChart(); });
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', renderChart);

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
    renderChips();
    for (const b of document.querySelectorAll('.windows button')) {
      b.setAttribute('aria-pressed', String(b.dataset.window === st.window));
    }
  }

  // renderChips shows each filter of the view as a chip that removes it.
  function renderChips() {
    const keys = FILTERS.filter((k) => st.filters[k]);
    $('chips').hidden = !keys.length;
    const lis = keys.map((k) => {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'chip';
      b.dataset.filter = k;
      b.title = FILTER_WORDS[k] + ' ' + st.filters[k] + ': remove this filter';
      b.setAttribute('aria-label', 'remove the filter ' + FILTER_WORDS[k] + ' ' + st.filters[k]);
      const name = document.createElement('span');
      name.textContent = FILTER_WORDS[k];
      const v = document.createElement('b');
      v.textContent = st.filters[k];
      const x = document.createElement('i');
      x.setAttribute('aria-hidden', 'true');
      x.textContent = '×';
      b.append(name, ' ', v, x);
      li.append(b);
      return li;
    });
    if (keys.length > 1) {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'chip all';
      b.textContent = 'clear all';
      li.append(b);
      lis.push(li);
    }
    $('chip-list').replaceChildren(...lis);
  }
  $('chip-list').addEventListener('click', (e) => {
    const b = e.target.closest('button.chip');
    if (!b) return;
    const f = b.dataset.filter ? Object.assign({}, st.filters) : {};
    delete f[b.dataset.filter];
    setFilters(f);
  });

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

  function sameFilters(f) {
    return FILTERS.every((k) => (f[k] || '') === (st.filters[k] || ''));
  }

  // setFilters changes the view's filters from a click (a panel's value,
  // a chip): a new entry in the history, a new stream, new statistics.
  function setFilters(f) {
    if (!sameFilters(f)) applyFilters(f, true);
  }

  // applyFilters starts a new view: the stream is reopened with the new
  // parameters, the statistics asked again, and the page URL keeps them,
  // for bookmarks and Back.
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
    restartStats();
  }

  function setWindow(w, push) {
    if (w === st.window) return;
    st.window = w;
    if (push) history.pushState(null, '', pageURL());
    fillForm();
    restartStats();
  }

  $('filters').addEventListener('submit', (e) => {
    e.preventDefault();
    const f = {};
    for (const k of FILTERS) {
      const v = $('f-' + k).value.trim();
      if (v) f[k] = v;
    }
    const same = sameFilters(f);
    if (!same || $('conn').dataset.state === 'disconnected') applyFilters(f, !same);
  });
  $('f-source').addEventListener('change', () => $('filters').requestSubmit());
  $('f-node').addEventListener('change', () => $('filters').requestSubmit());
  $('reset').addEventListener('click', () => {
    for (const k of FILTERS) $('f-' + k).value = '';
    $('filters').requestSubmit();
  });
  for (const b of document.querySelectorAll('.windows button')) {
    b.addEventListener('click', () => setWindow(b.dataset.window, true));
  }
  window.addEventListener('popstate', () => {
    const q = new URLSearchParams(location.search);
    const f = readFilters(q);
    if (!sameFilters(f)) {
      st.window = readWindow(q);
      applyFilters(f, false);
    } else {
      setWindow(readWindow(q), false);
    }
  });

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

  setInterval(showRetry, 1000);
  // A tab in the background does not ask: nobody reads it, and the
  // server answers each question by counting. It asks at once on return.
  setInterval(() => { if (document.visibilityState !== 'hidden') fetchStats(); }, STATS_EVERY);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState !== 'hidden') fetchStats();
  });
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
  makePanels();
  history.replaceState(null, '', pageURL());
  fillForm();
  fetchStats();
  connect();
})();
