/**
 * The live dashboard of the heartbeat service: one page, its script and its stylesheet, served at
 * `GET /`, `GET /dashboard.js` and `GET /dashboard.css` under `default-src 'self'; script-src 'self'`.
 * So: no inline script, handler or style attribute, nothing from elsewhere. Asset URLs and the
 * `info` / `history` fetches are relative, so the page also works behind a path prefix.
 *
 * Every value from the JSON reaches the DOM through `textContent` or `setAttribute`, never as markup.
 * The script is plain ES2020 kept free of backticks, `${` and backslashes, so this file's template
 * literals hold it verbatim. The `data-testid` attributes are what the e2e test reads.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Herald cluster</title>
    <link rel="stylesheet" href="dashboard.css" />
    <script src="dashboard.js" defer></script>
  </head>
  <body>
    <header>
      <h1>Herald cluster</h1>
      <p class="status">
        Last update <time data-testid="updated-at">never</time>
        <span class="error" data-testid="poll-error" role="alert" hidden></span>
      </p>
    </header>
    <main>
      <section class="totals" aria-label="Cluster totals">
        <div class="tile">
          <span class="label">Gateways</span>
          <span class="value" data-testid="total-gateways">-</span>
        </div>
        <div class="tile">
          <span class="label">Connections</span>
          <span class="value" data-testid="total-connections">-</span>
          <span class="detail" data-testid="total-connections-per-hub"></span>
        </div>
        <div class="tile">
          <span class="label">Distinct users</span>
          <span class="value" data-testid="total-users">-</span>
        </div>
        <div class="tile">
          <span class="label">Deliveries / s</span>
          <span class="value" data-testid="total-deliveries-per-second">-</span>
        </div>
      </section>
      <section>
        <h2>Gateways</h2>
        <div class="scroll">
          <table data-testid="gateways">
            <thead>
              <tr>
                <th>Id</th>
                <th>Host</th>
                <th>Version</th>
                <th class="number">Uptime</th>
                <th class="number">Connections</th>
                <th class="number">Users</th>
                <th class="number">Subscriptions</th>
                <th class="number">Deliveries / s</th>
                <th class="number">Slow closes</th>
                <th class="number">Replays</th>
                <th class="number">Last beat</th>
              </tr>
            </thead>
            <tbody></tbody>
          </table>
        </div>
      </section>
      <section class="charts">
        <figure>
          <figcaption>Connections, last 60 minutes</figcaption>
          <canvas data-testid="chart-connections"></canvas>
          <ul class="legend" data-testid="chart-connections-legend"></ul>
        </figure>
        <figure>
          <figcaption>Deliveries per second, last 60 minutes</figcaption>
          <canvas data-testid="chart-deliveries"></canvas>
        </figure>
      </section>
      <section class="columns">
        <div>
          <h2>Push outcomes</h2>
          <table data-testid="push-outcomes">
            <thead></thead>
            <tbody></tbody>
          </table>
        </div>
        <div>
          <h2>Dead letters</h2>
          <table data-testid="dead-letters">
            <thead>
              <tr>
                <th>Source</th>
                <th class="number">Messages</th>
              </tr>
            </thead>
            <tbody></tbody>
          </table>
        </div>
      </section>
      <section>
        <h2>Event sources</h2>
        <table data-testid="bridges">
          <thead>
            <tr>
              <th>Bridge</th>
              <th>Source</th>
              <th>Role</th>
              <th class="number">Pending</th>
              <th class="number">Lag (s)</th>
              <th class="number">Published</th>
              <th>Version</th>
            </tr>
          </thead>
          <tbody></tbody>
        </table>
      </section>
    </main>
  </body>
</html>
`;

export const DASHBOARD_CSS = `:root {
  color-scheme: light dark;
  --background: #f6f7f9;
  --surface: #ffffff;
  --ink: #1f2933;
  --muted: #616e7c;
  --line: #d9dee5;
  --grid: #e6e9ee;
  --total: #1f2933;
  --attention: #b45309;
  --error: #b91c1c;
}
@media (prefers-color-scheme: dark) {
  :root {
    --background: #111418;
    --surface: #1a1f25;
    --ink: #e4e7eb;
    --muted: #9aa5b1;
    --line: #323a44;
    --grid: #262d35;
    --total: #e4e7eb;
    --attention: #f59e0b;
    --error: #f87171;
  }
}
* {
  box-sizing: border-box;
}
body {
  margin: 0;
  padding: 1rem 1.5rem 2rem;
  background: var(--background);
  color: var(--ink);
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
header {
  display: flex;
  flex-wrap: wrap;
  align-items: baseline;
  justify-content: space-between;
  gap: 0.5rem 2rem;
}
h1 {
  margin: 0;
  font-size: 1.4rem;
}
h2 {
  margin: 0 0 0.5rem;
  font-size: 1rem;
}
section {
  margin-top: 1.25rem;
}
.status {
  margin: 0;
  color: var(--muted);
}
.status time {
  color: var(--ink);
  font-variant-numeric: tabular-nums;
}
.error {
  margin-left: 0.75rem;
  color: var(--error);
  font-weight: 600;
}
body.failing main {
  opacity: 0.6;
}
.totals {
  display: grid;
  grid-template-columns: repeat(auto-fit, minmax(11rem, 1fr));
  gap: 0.75rem;
}
.tile,
figure,
.columns > div,
.scroll {
  background: var(--surface);
  border: 1px solid var(--line);
  border-radius: 6px;
}
.tile {
  display: flex;
  flex-direction: column;
  padding: 0.75rem 1rem;
}
.label,
.detail,
figcaption {
  color: var(--muted);
}
.value {
  font-size: 1.9rem;
  font-weight: 600;
  font-variant-numeric: tabular-nums;
}
.scroll {
  overflow-x: auto;
}
table {
  width: 100%;
  border-collapse: collapse;
}
th,
td {
  padding: 0.35rem 0.75rem;
  border-bottom: 1px solid var(--line);
  text-align: left;
  white-space: nowrap;
}
tbody tr:last-child td {
  border-bottom: none;
}
th {
  color: var(--muted);
  font-weight: 500;
}
.number {
  text-align: right;
  font-variant-numeric: tabular-nums;
}
.empty {
  color: var(--muted);
  font-style: italic;
}
tr.stale td {
  color: var(--muted);
}
tr.stale td[data-column="last-beat"],
.attention {
  color: var(--attention);
  font-weight: 600;
}
.swatch {
  display: inline-block;
  width: 0.7rem;
  height: 0.7rem;
  margin-right: 0.4rem;
  border-radius: 2px;
  vertical-align: -0.05rem;
}
.charts {
  display: grid;
  grid-template-columns: repeat(auto-fit, minmax(26rem, 1fr));
  gap: 0.75rem;
}
figure {
  margin: 0;
  padding: 0.75rem 1rem;
}
canvas {
  display: block;
  width: 100%;
  height: 220px;
  margin-top: 0.5rem;
  color: var(--muted);
}
.legend {
  display: flex;
  flex-wrap: wrap;
  gap: 0.25rem 1rem;
  margin: 0.5rem 0 0;
  padding: 0;
  list-style: none;
  color: var(--muted);
}
.columns {
  display: grid;
  grid-template-columns: repeat(auto-fit, minmax(20rem, 1fr));
  gap: 0.75rem;
}
.columns > div {
  padding: 0.75rem 0 0.25rem;
  overflow-x: auto;
}
.columns h2 {
  padding: 0 0.75rem;
}
`;

export const DASHBOARD_JS = `(() => {
  'use strict';

  const POLL_INTERVAL_MS = 2000;
  // Gateways beat every 5 s: three missed beats make a row stale.
  const STALE_BEAT_MS = 15000;
  const PROVIDERS = ['fcm', 'apns', 'webpush', 'relay'];
  const OUTCOMES = ['sent', 'retry', 'gone', 'rejected'];
  const DEAD_LETTER_SOURCES = ['events', 'push', 'push-device', 'push-relay'];
  const PALETTE = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#dc2626', '#0891b2', '#db2777', '#65a30d'];

  const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const decimal = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const gatewayColors = new Map();
  let lastHistory;

  const byTestId = (id) => document.querySelector('[data-testid="' + id + '"]');
  const number = (value) => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
  const record = (value) => (value !== null && typeof value === 'object' ? value : {});
  const has = (object, key) => Object.prototype.hasOwnProperty.call(object, key);
  const sum = (values) => values.reduce((total, value) => total + number(value), 0);
  const pad = (value) => String(value).padStart(2, '0');

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  /** Known keys in their usual order first, then any others alphabetically. */
  function ordered(keys, known) {
    const rest = keys.filter((key) => !known.includes(key)).sort();
    return known.filter((key) => keys.includes(key)).concat(rest);
  }

  function colorOf(gatewayId) {
    if (!gatewayColors.has(gatewayId)) {
      gatewayColors.set(gatewayId, PALETTE[gatewayColors.size % PALETTE.length]);
    }
    return gatewayColors.get(gatewayId);
  }

  function swatch(color) {
    const node = element('span', undefined, 'swatch');
    node.style.backgroundColor = color;
    return node;
  }

  function duration(milliseconds) {
    if (!Number.isFinite(milliseconds)) return '-';
    const seconds = Math.max(0, Math.floor(milliseconds / 1000));
    const days = Math.floor(seconds / 86400);
    const hours = Math.floor((seconds % 86400) / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    if (days > 0) return days + 'd ' + hours + 'h';
    if (hours > 0) return hours + 'h ' + minutes + 'm';
    if (minutes > 0) return minutes + 'm ' + (seconds % 60) + 's';
    return seconds + 's';
  }

  function clock(milliseconds, withSeconds) {
    const date = new Date(milliseconds);
    const time = pad(date.getHours()) + ':' + pad(date.getMinutes());
    return withSeconds ? time + ':' + pad(date.getSeconds()) : time;
  }

  function emptyRow(tbody, columns, text) {
    const cell = element('td', text, 'empty');
    cell.colSpan = columns;
    const row = element('tr');
    row.append(cell);
    tbody.replaceChildren(row);
  }

  function renderTotals(totals) {
    byTestId('total-gateways').textContent = integer.format(number(totals.gateways));
    byTestId('total-connections').textContent = integer.format(number(totals.connections));
    byTestId('total-connections-per-hub').textContent =
      'hub ' + integer.format(number(totals.hubConnections)) +
      ', anonymous ' + integer.format(number(totals.anonymousConnections));
    byTestId('total-users').textContent = integer.format(number(totals.users));
    byTestId('total-deliveries-per-second').textContent = decimal.format(number(totals.deliveriesPerSecond));
  }

  function gatewayRow(gateway, now) {
    const connections = record(gateway.connections);
    const beatAge = now - Date.parse(gateway.lastBeatAt);
    const cells = [
      ['id', gateway.id],
      ['host', gateway.host],
      ['version', gateway.version],
      ['uptime', duration(now - Date.parse(gateway.startedAt))],
      ['connections', integer.format(sum(Object.values(connections)))],
      ['users', integer.format(number(gateway.users))],
      ['subscriptions', integer.format(number(gateway.subscriptions))],
      ['deliveries-per-second', decimal.format(number(gateway.deliveriesPerSecond))],
      ['slow-closes', integer.format(number(gateway.slowClosed))],
      ['replays', integer.format(number(gateway.replays))],
      ['last-beat', duration(beatAge)],
    ];
    const row = element('tr');
    row.setAttribute('data-testid', 'gateway-row');
    row.setAttribute('data-gateway-id', String(gateway.id));
    if (beatAge > STALE_BEAT_MS) row.classList.add('stale');
    cells.forEach(([column, text], index) => {
      const cell = element('td', text, index >= 3 ? 'number' : undefined);
      cell.setAttribute('data-column', column);
      row.append(cell);
    });
    row.cells[0].prepend(swatch(colorOf(String(gateway.id))));
    row.cells[4].title = Object.keys(connections)
      .map((hub) => hub + ': ' + integer.format(number(connections[hub])))
      .join(', ');
    row.cells[7].title = integer.format(number(gateway.bytesPerSecond)) + ' bytes / s';
    return row;
  }

  function renderGateways(gateways, now) {
    const tbody = byTestId('gateways').tBodies[0];
    const sorted = gateways.slice().sort((a, b) => String(a.id).localeCompare(String(b.id)));
    if (sorted.length === 0) return emptyRow(tbody, 11, 'No gateway is beating.');
    tbody.replaceChildren(...sorted.map((gateway) => gatewayRow(gateway, now)));
  }

  function renderPush(push) {
    const table = byTestId('push-outcomes');
    const providers = ordered(Object.keys(push), PROVIDERS);
    const outcomes = ordered(
      Array.from(new Set(providers.flatMap((provider) => Object.keys(record(push[provider]))))),
      OUTCOMES,
    );
    const head = element('tr');
    head.append(element('th', 'Provider'), ...outcomes.map((outcome) => element('th', outcome, 'number')));
    table.tHead.replaceChildren(head);
    if (providers.length === 0) return emptyRow(table.tBodies[0], 1, 'No push worker has reported.');
    table.tBodies[0].replaceChildren(
      ...providers.map((provider) => {
        const counts = record(push[provider]);
        const row = element('tr');
        row.setAttribute('data-provider', provider);
        row.append(element('td', provider));
        for (const outcome of outcomes) {
          const count = number(counts[outcome]);
          const attention = outcome !== 'sent' && count > 0 ? ' attention' : '';
          row.append(element('td', integer.format(count), 'number' + attention));
        }
        return row;
      }),
    );
  }

  function renderDeadLetters(deadLetters) {
    const tbody = byTestId('dead-letters').tBodies[0];
    const sources = ordered(Object.keys(deadLetters), DEAD_LETTER_SOURCES);
    if (sources.length === 0) return emptyRow(tbody, 2, 'No dead letters reported.');
    tbody.replaceChildren(
      ...sources.map((source) => {
        const count = number(deadLetters[source]);
        const row = element('tr');
        row.setAttribute('data-source', source);
        row.append(element('td', source), element('td', integer.format(count), count > 0 ? 'number attention' : 'number'));
        return row;
      }),
    );
  }

  function renderBridges(bridges) {
    const tbody = byTestId('bridges').tBodies[0];
    if (bridges.length === 0) return emptyRow(tbody, 7, 'No event source bridge is beating.');
    tbody.replaceChildren(
      ...bridges.map((bridge) => {
        const row = element('tr');
        row.setAttribute('data-testid', 'bridge-row');
        row.setAttribute('data-bridge-id', String(bridge.id));
        const lag = number(bridge.lagSeconds);
        row.append(
          element('td', String(bridge.id)),
          element('td', String(bridge.source)),
          element('td', bridge.leader === true ? 'working' : 'standby'),
          element('td', integer.format(number(bridge.pending)), 'number'),
          element('td', decimal.format(lag), lag > 10 ? 'number attention' : 'number'),
          element('td', integer.format(number(bridge.published)), 'number'),
          element('td', String(bridge.version)),
        );
        return row;
      }),
    );
  }

  function renderInfo(info) {
    const now = Date.parse(info.generatedAt);
    renderTotals(record(info.totals));
    renderGateways(Array.isArray(info.gateways) ? info.gateways : [], Number.isFinite(now) ? now : Date.now());
    renderPush(record(info.push));
    renderDeadLetters(record(info.deadLetters));
    renderBridges(Array.isArray(info.bridges) ? info.bridges : []);
  }

  /** The smallest 1, 2 or 5 times a power of ten that is at least value. */
  function niceStep(value, integral) {
    const magnitude = Math.pow(10, Math.floor(Math.log10(value)));
    const fraction = value / magnitude;
    const step = (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude;
    return integral ? Math.max(1, step) : step;
  }

  /**
   * Draws lines on a canvas sized by CSS, sharp at the device's pixel ratio. Each series is
   * { label, color, width, points: [[epochMs, value or null]] }; null leaves a gap.
   */
  function drawLineChart(canvas, series, options) {
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (width === 0 || height === 0) return;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const context = canvas.getContext('2d');
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    const style = getComputedStyle(canvas);
    context.font = '11px system-ui, sans-serif';
    context.fillStyle = style.color;

    const points = series.flatMap((line) => line.points.filter((point) => point[1] !== null));
    if (points.length === 0) {
      context.textAlign = 'center';
      context.fillText('No data yet', width / 2, height / 2);
      return;
    }
    const area = { left: 48, right: width - 12, top: 8, bottom: height - 22 };
    const xMax = points.reduce((max, point) => Math.max(max, point[0]), -Infinity);
    const xMin = Math.min(points.reduce((min, point) => Math.min(min, point[0]), Infinity), xMax - 60000);
    const yTop = points.reduce((max, point) => Math.max(max, point[1]), 0);
    const yStep = niceStep(Math.max(yTop, 1) / 4, options.integral);
    const yMax = yStep * Math.max(1, Math.ceil(yTop / yStep));
    const x = (at) => area.left + ((at - xMin) / (xMax - xMin)) * (area.right - area.left);
    const y = (value) => area.bottom - (value / yMax) * (area.bottom - area.top);

    context.strokeStyle = style.getPropertyValue('--grid').trim() || '#e6e9ee';
    context.lineWidth = 1;
    context.textAlign = 'right';
    context.textBaseline = 'middle';
    for (let value = 0; value <= yMax + yStep / 2; value += yStep) {
      context.beginPath();
      context.moveTo(area.left, Math.round(y(value)) + 0.5);
      context.lineTo(area.right, Math.round(y(value)) + 0.5);
      context.stroke();
      context.fillText(options.format(value), area.left - 6, y(value));
    }
    const minutes = [1, 2, 5, 10, 15, 30, 60].find((step) => (xMax - xMin) / (step * 60000) <= 6) || 60;
    const tick = minutes * 60000;
    context.textAlign = 'center';
    context.textBaseline = 'top';
    for (let at = Math.ceil(xMin / tick) * tick; at <= xMax; at += tick) {
      context.fillText(clock(at, false), x(at), area.bottom + 6);
    }

    context.lineJoin = 'round';
    for (const line of series) {
      context.strokeStyle = line.color;
      context.fillStyle = line.color;
      context.lineWidth = line.width;
      context.beginPath();
      line.points.forEach(([at, value], index) => {
        if (value === null) return;
        const previous = index > 0 ? line.points[index - 1][1] : null;
        const next = index + 1 < line.points.length ? line.points[index + 1][1] : null;
        if (previous !== null) context.lineTo(x(at), y(value));
        else context.moveTo(x(at), y(value));
        // A point with no neighbour would draw nothing: mark it with a dot.
        if (previous === null && next === null) context.fillRect(x(at) - 2, y(value) - 2, 4, 4);
      });
      context.stroke();
    }
  }

  function renderLegend(list, series) {
    list.replaceChildren(
      ...series.map((line) => {
        const item = element('li');
        item.append(swatch(line.color), line.label);
        return item;
      }),
    );
  }

  function renderCharts(history) {
    lastHistory = history;
    const points = (Array.isArray(history.points) ? history.points : []).filter((point) =>
      Number.isFinite(point.at),
    );
    const gatewayIds = Array.from(
      new Set(points.flatMap((point) => Object.keys(record(point.perGateway)))),
    ).sort();
    const totalColor = getComputedStyle(document.body).getPropertyValue('--total').trim() || '#1f2933';
    const connections = [
      { label: 'total', color: totalColor, width: 2.5, points: points.map((point) => [point.at, number(point.connections)]) },
    ].concat(
      gatewayIds.map((id) => ({
        label: id,
        color: colorOf(id),
        width: 1.5,
        points: points.map((point) => {
          const perGateway = record(point.perGateway);
          return [point.at, has(perGateway, id) ? number(perGateway[id]) : null];
        }),
      })),
    );
    drawLineChart(byTestId('chart-connections'), connections, { integral: true, format: (value) => integer.format(value) });
    renderLegend(byTestId('chart-connections-legend'), connections);
    const deliveries = [
      { label: 'deliveries / s', color: PALETTE[0], width: 2, points: points.map((point) => [point.at, number(point.deliveriesPerSecond)]) },
    ];
    drawLineChart(byTestId('chart-deliveries'), deliveries, { integral: false, format: (value) => decimal.format(value) });
  }

  function showUpdated() {
    const now = new Date();
    const updatedAt = byTestId('updated-at');
    updatedAt.textContent = clock(now.getTime(), true);
    updatedAt.setAttribute('datetime', now.toISOString());
    byTestId('poll-error').hidden = true;
    document.body.classList.remove('failing');
  }

  function showFailure(message) {
    const error = byTestId('poll-error');
    error.textContent = 'Update failed: ' + message;
    error.hidden = false;
    document.body.classList.add('failing');
  }

  async function getJson(url) {
    let response;
    try {
      response = await fetch(url, { cache: 'no-store', headers: { Accept: 'application/json' } });
    } catch (error) {
      throw new Error(url + ': ' + (error instanceof Error ? error.message : String(error)));
    }
    if (!response.ok) throw new Error(url + ': HTTP ' + response.status);
    return response.json();
  }

  async function poll() {
    const [info, history] = await Promise.allSettled([getJson('info'), getJson('history?minutes=60')]);
    if (info.status === 'fulfilled') renderInfo(record(info.value));
    if (history.status === 'fulfilled') renderCharts(record(history.value));
    const failures = [info, history]
      .filter((result) => result.status === 'rejected')
      .map((result) => (result.reason instanceof Error ? result.reason.message : String(result.reason)));
    if (failures.length === 0) showUpdated();
    else showFailure(failures.join('; '));
  }

  // One poll at a time: the next starts 2 s after the previous one ended, however long it took.
  async function loop() {
    try {
      await poll();
    } catch (error) {
      showFailure(error instanceof Error ? error.message : String(error));
    } finally {
      setTimeout(loop, POLL_INTERVAL_MS);
    }
  }

  window.addEventListener('resize', () => {
    if (lastHistory) renderCharts(lastHistory);
  });
  loop();
})();
`;
