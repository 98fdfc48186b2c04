// Numbers as people read them, one way in every summary, table and page: counts with thousands
// separators, durations in the unit that suits them with three significant digits, shares in
// percent. The report page runs these same functions (html.ts inlines their source), so each
// function here must stand alone: no imports, no helpers outside its own body.

/** A count, rounded, with thousands separators: 1,371. */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/**
 * A duration given in ns, in ns, µs, ms or s, with three significant digits (at most one
 * decimal under 100 ns): 812 ns, 12.3 µs, 575 µs, 105 ms, 2.78 s.
 */
export function duration(ns: number): string {
  const units: [number, string][] = [
    [1e9, 's'],
    [1e6, 'ms'],
    [1e3, 'µs'],
  ];
  const sig3 = (v: number) => (v >= 99.95 ? v.toFixed(0) : v >= 9.995 ? v.toFixed(1) : v.toFixed(2));
  const a = Math.abs(ns);
  for (const [scale, unit] of units) if (a >= scale * 0.9995) return `${sig3(ns / scale)} ${unit}`;
  return a === 0 ? '0 ns' : `${a >= 99.95 ? ns.toFixed(0) : +ns.toFixed(1)} ns`;
}

/** A share (0..1) in percent, one decimal: 12.3%. */
export function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}
