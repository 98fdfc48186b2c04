// The drawing script of `rxsmp report` pages (src/report/html.ts inlines it after d3 and
// Observable Plot). It reads the figures html.ts computed (#rxsmp-data) and draws each chart
// into its <figure>; every mark is an SVG element (a dot per run, a bar per value, a line per
// CPU), which the report test counts against the data.
/* global Plot, document */
(() => {
  const data = JSON.parse(document.getElementById('rxsmp-data').textContent);
  const WIDTH = 1000;
  const put = (id, ...plots) => {
    const fig = document.getElementById(`chart-${id}`);
    if (fig === null) return;
    for (const p of plots) fig.append(p);
  };
  const fmtSi = (n) =>
    Math.abs(n) >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : Math.abs(n) >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : `${+n.toFixed(3)}`;
  /** An x domain from 0 to the largest stacked total, [0, 1] when every value is 0 (else the bars fill the width). */
  const stackedDomain = (rows) => {
    const totals = new Map();
    for (const r of rows) totals.set(r.group, (totals.get(r.group) ?? 0) + r.value);
    const max = Math.max(0, ...totals.values());
    return [0, max > 0 ? max : 1];
  };
  const groupMargin = Math.min(360, 8 + 7 * Math.max(...data.groups.map((g) => g.length)));

  // pps against the swept setting, one colour per variant: a dot per run, min..max rules, median line.
  {
    const marks = [
      Plot.ruleX(data.pps_summary, { x: 'x', y1: 'min', y2: 'max', stroke: 'variant', strokeWidth: 3, strokeOpacity: 0.5 }),
      Plot.dot(data.pps, { x: 'x', y: 'pps', stroke: 'variant', r: 4, tip: true }),
    ];
    if (data.x_numeric) marks.push(Plot.line(data.pps_summary, { x: 'x', y: 'median', stroke: 'variant', strokeWidth: 1.5 }));
    put(
      'pps',
      Plot.plot({
        width: WIDTH,
        height: 380,
        marginLeft: 70,
        x: data.x_numeric ? { label: data.x_label, grid: true } : { label: data.x_label, type: 'point', padding: 0.5 },
        y: { label: 'delivered pps', grid: true, zero: true, tickFormat: fmtSi },
        color: { legend: true, type: 'categorical' },
        marks,
      }),
    );
  }

  // Per-CPU softnet counters: one bar chart per counter, a row of bars per group, a bar per CPU.
  {
    const metrics = [...new Set(data.percpu.map((r) => r.metric))];
    put(
      'percpu',
      ...metrics.map((m) =>
        Plot.plot({
          width: WIDTH,
          height: 40 + data.groups.length * 34,
          marginLeft: groupMargin,
          title: m,
          x: { label: m, grid: true, tickFormat: fmtSi, domain: stackedDomain(data.percpu.filter((r) => r.metric === m)) },
          y: { label: null, domain: data.groups },
          color: { legend: m === metrics[0], type: 'categorical', tickFormat: (c) => `cpu${c}` },
          marks: [
            Plot.barX(
              data.percpu.filter((r) => r.metric === m),
              { x: 'value', y: 'group', fill: 'cpu', tip: true },
            ),
            Plot.ruleX([0]),
          ],
        }),
      ),
    );
  }

  // Contention: one bar per group for each measure.
  if (data.contention.length > 0) {
    const metrics = [...new Set(data.contention.map((r) => r.metric))];
    put(
      'contention',
      ...metrics.map((m) =>
        Plot.plot({
          width: WIDTH,
          height: 40 + data.groups.length * 26,
          marginLeft: groupMargin,
          title: m,
          x: { label: m, grid: true, domain: stackedDomain(data.contention.filter((r) => r.metric === m)) },
          y: { label: null, domain: data.groups },
          marks: [
            Plot.barX(
              data.contention.filter((r) => r.metric === m),
              { x: 'value', y: 'group', fill: 'steelblue', tip: true },
            ),
            Plot.ruleX([0]),
          ],
        }),
      ),
    );
  }

  // Latency percentiles, one line per group, log scale.
  if (data.latency.length > 0) {
    put(
      'latency',
      Plot.plot({
        width: WIDTH,
        height: 340,
        marginLeft: 70,
        x: { label: 'percentile', type: 'point', domain: ['p50', 'p99', 'p999', 'max'], padding: 0.3 },
        y: { label: 'latency (ns)', type: 'log', grid: true, tickFormat: fmtSi },
        color: { legend: true, type: 'categorical' },
        marks: [
          Plot.line(data.latency, { x: 'percentile', y: 'ns', stroke: 'group' }),
          Plot.dot(data.latency, { x: 'percentile', y: 'ns', stroke: 'group', r: 4, tip: true }),
        ],
      }),
    );
  }

  // Timeline: per-CPU rates over time with the knob changes and migrations marked.
  if (data.timeline !== null) {
    const t = data.timeline;
    const panel = (y, label, legend) =>
      Plot.plot({
        width: WIDTH,
        height: 220,
        marginLeft: 70,
        title: label,
        x: { label: 'ms since traffic started', grid: true },
        y: { label, grid: true, zero: true, tickFormat: fmtSi },
        color: { legend, type: 'categorical' },
        marks: [
          Plot.ruleX(t.marks, { x: 't_ms', stroke: '#c33', strokeDasharray: '4,3' }),
          Plot.text(t.marks, { x: 't_ms', text: 'label', frameAnchor: 'top', dy: 6, dx: 4, textAnchor: 'start', fill: '#c33' }),
          Plot.line(t.points, { x: 't_ms', y, stroke: 'cpu' }),
        ],
      });
    put(
      'timeline',
      panel('pps', 'processed per second', true),
      panel('drops_per_s', 'dropped per second', false),
      panel('busy_pct', 'busy %', false),
    );
  }
})();
