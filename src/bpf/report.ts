// What a run with --xdp reports under `xdp` in the run contract (phase 2 puts it there; the
// shape is fixed here): the maps as `bpftool map dump -j` would show them, the engine's
// counters per CPU, and the bpf_trace_printk lines. Read once at the end of a run: allocates.
//
// A key or value of 1, 2, 4 or 8 bytes is its little-endian unsigned integer (a JSON number
// below 2^53, else a decimal string); any other size is 0x and its bytes in memory order,
// the forms --xdp-map takes. A percpu map's value is `values: [{ cpu, value }]` as bpftool
// prints it. Arrays, cpumaps and devmaps list their nonzero elements only.

import type { BpfMaps } from './maps.js';
import { mapTypeName } from './object.js';
import { COUNTER_SLOTS } from './maps.js';
import { CTR_ACTION, CTR_FAULT, CTR_INVALID_ACTION, CTR_RUNS, CTR_TRACE_DROPPED, FAULT_NAMES, traceLines } from './vm.js';
import { XDP_ACTIONS } from './insn.js';

export type MapField = number | string;

export interface XdpMapReport {
  type: string;
  key_size: number;
  value_size: number;
  max_entries: number;
  entries: { key: MapField; value?: MapField; values?: { cpu: number; value: MapField }[] }[];
}

export interface XdpCpuReport {
  cpu: number;
  runs: number;
  /** What the runs ended with: the program's action, or aborted after a fault or an invalid action. */
  actions: Record<(typeof XDP_ACTIONS)[number], number>;
  invalid_action: number;
  /** Runs ended as XDP_ABORTED by a fault the verifier would have prevented. */
  faults: Record<(typeof FAULT_NAMES)[number], number>;
  trace_dropped: number;
}

export interface XdpReport {
  maps: Record<string, XdpMapReport>;
  percpu: XdpCpuReport[];
  trace: string[];
}

/** A key or value for the report. */
export function mapField(b: Uint8Array): MapField {
  if (b.length === 1 || b.length === 2 || b.length === 4 || b.length === 8) {
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    return v < 2n ** 53n ? Number(v) : v.toString();
  }
  return `0x${[...b].map((x) => x.toString(16).padStart(2, '0')).join('')}`;
}

export function xdpMapsReport(maps: BpfMaps): Record<string, XdpMapReport> {
  const out: Record<string, XdpMapReport> = {};
  maps.layout.maps.forEach((l, m) => {
    out[l.def.name] = {
      type: mapTypeName(l.def.type),
      key_size: l.def.key_size,
      value_size: l.def.value_size,
      max_entries: l.def.max_entries,
      entries: maps
        .entries(m)
        .map((e) =>
          e.percpu !== undefined
            ? { key: mapField(e.key), values: e.percpu.map((v, cpu) => ({ cpu, value: mapField(v) })) }
            : { key: mapField(e.key), value: mapField(e.value) },
        ),
    };
  });
  return out;
}

export function xdpReport(maps: BpfMaps): XdpReport {
  const percpu: XdpCpuReport[] = [];
  for (let cpu = 0; cpu < maps.layout.ncpus; cpu++) {
    const c = (k: number) => maps.f64[maps.layout.counters / 8 + cpu * COUNTER_SLOTS + k];
    percpu.push({
      cpu,
      runs: c(CTR_RUNS),
      actions: Object.fromEntries(XDP_ACTIONS.map((a, i) => [a, c(CTR_ACTION + i)])) as XdpCpuReport['actions'],
      invalid_action: c(CTR_INVALID_ACTION),
      faults: Object.fromEntries(FAULT_NAMES.map((f, i) => [f, c(CTR_FAULT + i)])) as XdpCpuReport['faults'],
      trace_dropped: c(CTR_TRACE_DROPPED),
    });
  }
  const trace: string[] = [];
  for (let cpu = 0; cpu < maps.layout.ncpus; cpu++) for (const line of traceLines(maps, cpu)) trace.push(`cpu ${cpu}: ${line}`);
  return { maps: xdpMapsReport(maps), percpu, trace };
}
