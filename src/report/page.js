// The drawing script of `rxsmp report` pages (src/report/html.ts inlines it after d3,
// Observable Plot and `units`, the summaries' number formats). It reads the figures html.ts
// computed (#rxsmp-data) and draws each section's charts into its <figure>s; every mark is an
// SVG element (a dot per run, a bar per value, a line per CPU), which the report tests count
// against the data. When every chart is drawn it sets <body data-drawn="true">.
/* global Plot, d3, units, document */
(() => {
  const data = JSON.parse(document.getElementById('rxsmp-data').textContent);
  const WIDTH = 1000;
  const MARGIN_LEFT = 70;
  const MARGIN_RIGHT = 20;
  /** mpstat's columns, in its order, and their colours (idle pale: the eye goes to the work). */
  const UTIL_COLOURS = {
    usr: '#4e79a7',
    irq: '#e15759',
    soft: '#f28e2b',
    ksoftirqd: '#edc948',
    steal: '#b07aa1',
    idle: '#e6e6e6',
    busy: '#4e79a7',
  };
  const MARK_COLOURS = { knob: '#c33', 'rss-reta': '#1a7f37', migration: '#777' };
  const MARK_NAMES = { knob: '--knob-at changes', 'rss-reta': 'RSS table rotation', migration: 'task migrations' };
  const fmtSi = (n) =>
    Math.abs(n) >= 1e6 ? `${+(n / 1e6).toFixed(2)}M` : Math.abs(n) >= 1e3 ? `${+(n / 1e3).toFixed(1)}k` : `${+n.toFixed(3)}`;
  const put = (s, name, ...plots) => {
    const fig = document.getElementById(`chart-${s.id}-${name}`);
    if (fig === null) return;
    for (const p of plots) if (p) fig.append(p);
  };
  /** An x domain from 0 to the largest stacked total, [0, 1] when every value is 0 (else the bars fill the width). */
  const stackedDomain = (rows, key = 'value') => {
    const totals = new Map();
    for (const r of rows) totals.set(r.group, (totals.get(r.group) ?? 0) + r[key]);
    const max = Math.max(0, ...totals.values());
    return [0, max > 0 ? max : 1];
  };
  /** Ticks of a log axis in ns: 1, 2, 5 of each decade between the values. */
  const logTicks = (values) => {
    const lo = Math.max(1, Math.min(...values) / 1.5);
    const hi = Math.max(...values) * 1.5;
    const out = [];
    for (let d = 10 ** Math.floor(Math.log10(lo)); d <= hi; d *= 10)
      for (const m of [1, 2, 5]) if (d * m >= lo && d * m <= hi) out.push(d * m);
    return out;
  };

  for (const s of data.sections) drawSection(s);
  document.body.dataset.drawn = 'true';

  function drawSection(s) {
    const groupMargin = Math.min(360, 8 + 7 * Math.max(...s.groups.map((g) => g.length)));

    // pps against the swept setting, one colour per variant: a dot per run, min..max rules, median line.
    if (s.pps.length > 1) {
      const marks = [
        Plot.ruleX(s.pps_summary, { x: 'x', y1: 'min', y2: 'max', stroke: 'variant', strokeWidth: 3, strokeOpacity: 0.5 }),
        Plot.dot(s.pps, { x: 'x', y: 'pps', stroke: 'variant', r: 4, tip: true }),
      ];
      if (s.x_numeric) marks.push(Plot.line(s.pps_summary, { x: 'x', y: 'median', stroke: 'variant', strokeWidth: 1.5 }));
      put(
        s,
        'pps',
        Plot.plot({
          width: WIDTH,
          height: 380,
          marginLeft: MARGIN_LEFT,
          x: s.x_numeric ? { label: s.x_label, grid: true } : { label: s.x_label, type: 'point', padding: 0.5 },
          y: { label: 'delivered pps', grid: true, zero: true, tickFormat: fmtSi },
          color: { legend: true, type: 'categorical' },
          marks,
        }),
      );
    }

    // B/A ratio per cell: a dot per pair, min..max and IQR rules, a tick at the median, 1 marked.
    if (s.ratio !== null) {
      const cells = s.ratio.cells;
      const dots = cells.flatMap((c) => c.ratios.map((r) => ({ x: c.x, ratio: r })));
      put(
        s,
        'ratio',
        Plot.plot({
          width: WIDTH,
          height: 300,
          marginLeft: MARGIN_LEFT,
          x: { label: s.ratio.x_label, type: 'band', padding: 0.8, domain: cells.map((c) => c.x) },
          y: { label: `B/A (${s.ratio.label})`, grid: true },
          marks: [
            Plot.ruleY([1], { stroke: '#999', strokeDasharray: '4,3' }),
            Plot.ruleX(cells, { x: 'x', y1: 'min', y2: 'max', stroke: '#4e79a7', strokeWidth: 1.5 }),
            Plot.ruleX(cells, { x: 'x', y1: 'q1', y2: 'q3', stroke: '#4e79a7', strokeWidth: 7, strokeOpacity: 0.45 }),
            Plot.tickY(cells, { x: 'x', y: 'median', stroke: '#222', strokeWidth: 2 }),
            Plot.dot(dots, { x: 'x', y: 'ratio', fill: '#4e79a7', r: 3.5, tip: true }),
          ],
        }),
      );
    }

    // Drops by reason, stacked: a bar per group, a segment per reason.
    const drops = s.drops.filter((d) => d.packets > 0);
    if (drops.length > 0) {
      put(
        s,
        'drops',
        Plot.plot({
          width: WIDTH,
          height: 60 + s.groups.length * 34,
          marginLeft: groupMargin,
          x: { label: 'packets dropped', grid: true, tickFormat: fmtSi, domain: stackedDomain(drops, 'packets') },
          y: { label: null, domain: s.groups },
          color: { legend: true, type: 'categorical' },
          marks: [
            Plot.barX(drops, {
              x: 'packets',
              y: 'group',
              fill: 'reason',
              title: (d) => `${d.reason}: ${units.count(d.packets)}`,
              tip: true,
            }),
            Plot.ruleX([0]),
          ],
        }),
      );
    }

    // CPU time over the run: a bar per CPU (and group), stacked by mpstat column, 0..100%.
    if (s.util.length > 0) {
      const kinds = Object.keys(UTIL_COLOURS).filter((k) => s.util.some((u) => u.kind === k));
      const rows = s.util.map((u) => ({ ...u, row: s.groups.length > 1 ? `${u.group} cpu${u.cpu}` : `cpu${u.cpu}` }));
      const rowNames = [...new Set(rows.map((r) => r.row))];
      put(
        s,
        'util',
        Plot.plot({
          width: WIDTH,
          height: 60 + rowNames.length * 26,
          marginLeft: Math.min(400, 8 + 7 * Math.max(...rowNames.map((r) => r.length))),
          x: { label: '% of the run', domain: [0, 100], grid: true },
          y: { label: null, domain: rowNames },
          color: { legend: true, domain: kinds, range: kinds.map((k) => UTIL_COLOURS[k]) },
          marks: [
            Plot.barX(rows, {
              x: 'pct',
              y: 'row',
              fill: 'kind',
              order: kinds,
              title: (u) => `${u.row} %${u.kind} ${u.pct.toFixed(1)}`,
              tip: true,
            }),
          ],
        }),
      );
    }

    // Per-CPU softnet counters: one bar chart per counter, a row of bars per group, a bar per CPU.
    {
      const metrics = [...new Set(s.percpu.map((r) => r.metric))];
      put(
        s,
        'percpu',
        ...metrics.map((m) =>
          Plot.plot({
            width: WIDTH,
            height: 40 + s.groups.length * 34,
            marginLeft: groupMargin,
            title: m,
            x: { label: m, grid: true, tickFormat: fmtSi, domain: stackedDomain(s.percpu.filter((r) => r.metric === m)) },
            y: { label: null, domain: s.groups },
            color: { legend: m === metrics[0], type: 'categorical', tickFormat: (c) => `cpu${c}` },
            marks: [
              Plot.barX(
                s.percpu.filter((r) => r.metric === m),
                { x: 'value', y: 'group', fill: 'cpu', tip: true },
              ),
              Plot.ruleX([0]),
            ],
          }),
        ),
      );
    }

    // Contention: one bar per group for each measure.
    if (s.contention.length > 0) {
      const metrics = [...new Set(s.contention.map((r) => r.metric))];
      put(
        s,
        'contention',
        ...metrics.map((m) =>
          Plot.plot({
            width: WIDTH,
            height: 40 + s.groups.length * 26,
            marginLeft: groupMargin,
            title: m,
            x: { label: m, grid: true, domain: stackedDomain(s.contention.filter((r) => r.metric === m)) },
            y: { label: null, domain: s.groups },
            marks: [
              Plot.barX(
                s.contention.filter((r) => r.metric === m),
                { x: 'value', y: 'group', fill: 'steelblue', tip: true },
              ),
              Plot.ruleX([0]),
            ],
          }),
        ),
      );
    }

    // Latency percentiles, one line per group, log scale in µs/ms.
    if (s.latency.length > 0) {
      put(
        s,
        'latency',
        Plot.plot({
          width: WIDTH,
          height: 340,
          marginLeft: MARGIN_LEFT,
          x: { label: 'percentile', type: 'point', domain: ['p50', 'p99', 'p999', 'max'], padding: 0.3 },
          y: { label: 'latency', type: 'log', grid: true, ticks: logTicks(s.latency.map((l) => l.ns)), tickFormat: units.duration },
          color: { legend: true, type: 'categorical' },
          marks: [
            Plot.line(s.latency, { x: 'percentile', y: 'ns', stroke: 'group' }),
            Plot.dot(s.latency, {
              x: 'percentile',
              y: 'ns',
              stroke: 'group',
              r: 4,
              title: (l) => `${l.group} ${l.percentile} ${units.duration(l.ns)}`,
              tip: true,
            }),
          ],
        }),
      );
    }

    for (const t of s.timelines) drawTimeline(s, t);
  }

  /**
   * A run's timeline: a strip of its control events (a row per kind: ticks with hover titles,
   * labels laid out in lanes so none overlaps, left out where more would not fit), then per-CPU
   * rates and CPU time, on one x axis.
   */
  function drawTimeline(s, t) {
    const name = `timeline-${t.id.slice(s.id.length + 1)}`;
    const domain = [0, t.end_ms];
    const x = { label: 'ms since traffic started', grid: true, domain };
    const plots = [markStrip(t)];
    const ruled = t.marks.filter((m) => m.kind !== 'migration');
    const rules = Plot.ruleX(ruled, { x: 't_ms', stroke: (m) => MARK_COLOURS[m.kind], strokeWidth: 1, strokeOpacity: 0.7 });
    const panel = (y, label, legend) =>
      Plot.plot({
        width: WIDTH,
        height: 200,
        marginLeft: MARGIN_LEFT,
        marginRight: MARGIN_RIGHT,
        title: label,
        x,
        y: { label, grid: true, zero: true, tickFormat: fmtSi },
        color: { legend, type: 'categorical', domain: t.cpus },
        marks: [rules, Plot.line(t.rates, { x: 't_ms', y, stroke: 'cpu' })],
      });
    plots.push(panel('pps', 'processed per second', true), panel('drops_per_s', 'dropped per second', false));
    // CPU time per interval, a panel per CPU: the shares stacked (step: each holds for its interval).
    const rows = [];
    t.util.percpu.forEach((c) => {
      const n = t.util.t0_ms.length;
      for (const kind of t.util.kinds) {
        const pct = c.pct[kind];
        for (let i = 0; i < n; i++) rows.push({ cpu: c.cpu, kind, t: t.util.t0_ms[i], pct: pct[i] ?? NaN });
        rows.push({ cpu: c.cpu, kind, t: t.util.t1_ms[n - 1], pct: pct[n - 1] ?? NaN });
      }
    });
    plots.push(
      Plot.plot({
        width: WIDTH,
        height: 40 + t.cpus.length * 90,
        marginLeft: MARGIN_LEFT,
        marginRight: MARGIN_RIGHT,
        title: 'CPU time, % of each interval',
        x,
        y: { label: '%', domain: [0, 100], ticks: [0, 50, 100] },
        fy: { axis: null, domain: t.cpus },
        color: { legend: true, domain: t.util.kinds, range: t.util.kinds.map((k) => UTIL_COLOURS[k]) },
        marks: [
          Plot.areaY(rows, { x: 't', y: 'pct', fill: 'kind', fy: 'cpu', order: t.util.kinds, curve: 'step-after' }),
          Plot.ruleX(ruled, { x: 't_ms', stroke: (m) => MARK_COLOURS[m.kind], strokeWidth: 1, strokeOpacity: 0.7 }),
          Plot.frame({ stroke: '#ccc' }),
          Plot.text(t.cpus, { fy: (c) => c, text: (c) => c, frameAnchor: 'top-left', dx: 4, dy: 3, fill: '#222', stroke: 'white' }),
        ],
      }),
    );
    put(s, name, ...plots);
  }

  /** The control events' strip, drawn with d3 so each label's place is chosen here. */
  function markStrip(t) {
    const LANES = 4;
    const LABELS_MAX = 40;
    const LANE_H = 14;
    const kinds = ['knob', 'rss-reta', 'migration'].filter((k) => t.marks.some((m) => m.kind === k));
    if (kinds.length === 0) return null;
    const x = d3
      .scaleLinear()
      .domain([0, t.end_ms])
      .range([MARGIN_LEFT, WIDTH - MARGIN_RIGHT]);
    const measure = document.createElement('canvas').getContext('2d');
    measure.font = '10px system-ui, sans-serif';
    // Per kind: each mark's label in the first lane where it clears the one before (or none).
    const rows = kinds.map((kind) => {
      const marks = t.marks.filter((m) => m.kind === kind).sort((a, b) => a.t_ms - b.t_ms);
      const laneEnd = new Array(LANES).fill(-Infinity);
      const placed = [];
      let left = 0;
      // Past LABELS_MAX marks of a kind (a migration every 2 ms), labels are noise: ticks only.
      for (const m of marks.length <= LABELS_MAX ? marks : []) {
        const px = x(m.t_ms);
        const w = measure.measureText(m.label).width;
        const atEnd = px + 3 + w > WIDTH - MARGIN_RIGHT;
        const x0 = atEnd ? px - 3 - w : px + 3;
        const lane = laneEnd.findIndex((end) => end + 6 <= x0);
        if (lane < 0) {
          left++;
          continue;
        }
        laneEnd[lane] = x0 + w;
        placed.push({ m, lane, px, atEnd });
      }
      if (marks.length > LABELS_MAX) left = 0;
      const lanes = placed.length === 0 ? 0 : Math.max(...placed.map((p) => p.lane)) + 1;
      return { kind, marks, placed, left, height: 20 + lanes * LANE_H };
    });
    const height = rows.reduce((h, r) => h + r.height + 6, 0) + 24;
    const svg = d3
      .create('svg')
      .attr('width', WIDTH)
      .attr('height', height)
      .attr('class', 'mark-strip')
      .style('font', '10px system-ui, sans-serif');
    let y = 4;
    for (const r of rows) {
      const g = svg.append('g').attr('aria-label', `marks ${r.kind}`);
      const colour = MARK_COLOURS[r.kind];
      g.append('text')
        .attr('class', 'row-label')
        .attr('x', 2)
        .attr('y', y + 10)
        .attr('fill', colour)
        .text(`${MARK_NAMES[r.kind]} (${units.count(r.marks.length)})`);
      g.selectAll('line.mark-tick')
        .data(r.marks)
        .join('line')
        .attr('class', 'mark-tick')
        .attr('x1', (m) => x(m.t_ms))
        .attr('x2', (m) => x(m.t_ms))
        .attr('y1', y + 12)
        .attr('y2', y + 20)
        .attr('stroke', colour)
        .attr('stroke-width', 1)
        .append('title')
        .text((m) => `${m.label} at ${units.duration(m.t_ms * 1e6)}`);
      // A faint leader from each labelled tick down to its label's lane.
      g.selectAll('line.mark-leader')
        .data(r.placed)
        .join('line')
        .attr('class', 'mark-leader')
        .attr('x1', (p) => p.px)
        .attr('x2', (p) => p.px)
        .attr('y1', y + 20)
        .attr('y2', (p) => y + 20 + (p.lane + 1) * LANE_H)
        .attr('stroke', colour)
        .attr('stroke-opacity', 0.3);
      g.selectAll('text.mark-label')
        .data(r.placed)
        .join('text')
        .attr('class', 'mark-label')
        .attr('x', (p) => (p.atEnd ? p.px - 3 : p.px + 3))
        .attr('y', (p) => y + 20 + (p.lane + 1) * LANE_H - 3)
        .attr('text-anchor', (p) => (p.atEnd ? 'end' : 'start'))
        .attr('fill', colour)
        .text((p) => p.m.label)
        .append('title')
        .text((p) => `${p.m.label} at ${units.duration(p.m.t_ms * 1e6)}`);
      if (r.left > 0)
        g.append('text')
          .attr('class', 'row-note')
          .attr('x', WIDTH - MARGIN_RIGHT)
          .attr('y', y + 10)
          .attr('text-anchor', 'end')
          .attr('fill', '#555')
          .text(`${units.count(r.left)} unlabelled: hover the ticks`);
      y += r.height + 6;
    }
    svg
      .append('g')
      .attr('transform', `translate(0,${y})`)
      .call(d3.axisBottom(x).ticks(10).tickFormat(d3.format(',')));
    return svg.node();
  }
})();
