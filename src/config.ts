// The run configuration: every knob with its Linux name, its default (the kernel's default
// where Linux has one) and what it accepts. One table drives the command line, `--config FILE`
// and the error messages, so a knob is described in exactly one place.
//
// Validation happens here, before any SharedArrayBuffer is sized or any worker starts: a bad
// value is a ConfigError naming the option and what it accepts, never a stack trace.

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type Nic = 'ixgbe' | 'legacy' | 'virtio';
export type Proto = 'udp' | 'tcp' | 'mix';
export type FlowDist = 'uniform' | 'zipf';
export type FlowHashAlg = 'siphash' | 'jhash';

export type Mode = 'threads' | 'sim';

export interface Config {
  mode: Mode; // threads: one worker per CPU; sim: one thread, virtual time, seeded (src/cpu/sim.ts)
  cost_model: string; // sim: a cost model file (rxsmp calibrate writes one); '' = built-in defaults
  cpus: number;
  queues: number;
  nic: Nic;
  ring_size: number;
  irq_affinity: number[]; // per queue vector: the CPU its MSI-X vector is affine to
  rx_usecs: number; // ethtool -C rx-usecs: minimum interval between two interrupts of a vector
  gro: boolean; // ethtool -K gro
  gro_normal_batch: number;
  rss_key: string; // ethtool -X hkey, 40 bytes hex
  rss_udp4: 'sd' | 'sdfn'; // ethtool -N rx-flow-hash udp4: addresses only (ixgbe default) or + ports
  rss_reta: number[]; // ethtool -X: 128-entry indirection table
  reta_change_at_ms: number; // rewrite the indirection table mid-run (0: never)
  rps_cpus: string[]; // per RX queue, hex mask (/sys/class/net/X/queues/rx-N/rps_cpus)
  rps_flow_cnt: number[]; // per RX queue
  rps_sock_flow_entries: number; // net.core.rps_sock_flow_entries
  netdev_budget: number;
  netdev_budget_usecs: number;
  dev_weight: number;
  netdev_max_backlog: number;
  flow_limit_cpu_bitmap: string; // hex mask
  flow_limit_table_len: number;
  flow_hash: FlowHashAlg;
  hz: number;
  flows: number;
  flow_dist: FlowDist;
  zipf_s: number;
  proto: Proto;
  pkt_size: number; // frame size on the wire including the 4-byte FCS, as pktgen counts it
  rate: number; // packets per second, 0 = max (closed loop)
  packets: number;
  duration_s: number; // 0 = until `packets` have been generated
  seed: number;
  stack_cost_ns: number;
  l4_csum_verify: boolean;
  bad_csum_rate: number; // fraction of frames generated with a corrupted IPv4 header checksum
  app_cpus: number[]; // one application task per entry, pinned there
  app_placement: 'rss' | 'spread'; // which task reads a flow's socket
  migrate_every_ms: number; // 0 = tasks never migrate
  sk_rcvbuf: number; // bytes, net.core.rmem_default
  unsafe_rfs_no_qtail_check: boolean;
  cacheline_pad: boolean;
  latency_sample: number; // stamp 1 packet in N with its DMA time
  watchdog_s: number;
  knob_at: KnobChange[]; // knobs changed while traffic flows, in time order
  host_cpus: number[]; // host core of each emulated CPU's thread, then the device's; [] = not pinned
  // virtio-net (issue 11)
  virtio_mrg_rxbuf: boolean; // VIRTIO_NET_F_MRG_RXBUF negotiated: mergeable buffers; off: big packets
  virtio_event_idx: boolean; // VIRTIO_RING_F_EVENT_IDX negotiated: used_event / avail_event
  unsafe_small_virtqueue: boolean; // beyond QEMU: RX virtqueues below 256 entries (down to 8)
  fault_virtio_no_poll_recheck: boolean; // TEST-ONLY fault: virtqueue_napi_complete skips virtqueue_poll
  // end virtio-net (issue 11)
}

/** The knobs Linux lets you change under traffic (sysctl, sysfs, ethtool, smp_affinity). */
export const RUNTIME_KNOBS = [
  'rps_cpus',
  'rps_flow_cnt',
  'rps_sock_flow_entries',
  'netdev_budget',
  'netdev_budget_usecs',
  'dev_weight',
  'netdev_max_backlog',
  'irq_affinity',
  'rss_reta',
] as const;
export type RuntimeKnob = (typeof RUNTIME_KNOBS)[number];

/** One scheduled change: at `at_ms` after generation starts, `key` becomes `value` (resolved). */
export interface KnobChange {
  at_ms: number;
  key: RuntimeKnob;
  value: Config[RuntimeKnob];
}

type Kind =
  | { t: 'int'; min: number; max: number; pow2?: boolean; multipleOf?: number }
  | { t: 'num'; min: number; max: number }
  | { t: 'bool' }
  | { t: 'enum'; values: readonly string[] }
  | { t: 'hexmask' }
  | { t: 'hexbytes'; bytes: number }
  | { t: 'rate' }
  | { t: 'intlist'; min: number; max: number }
  | { t: 'masklist' }
  | { t: 'schedule' }
  | { t: 'path' };

interface OptionSpec {
  key: keyof Config;
  kind: Kind;
  help: string;
  /** A test-only switch: accepted, never listed in --help. */
  hidden?: boolean;
}

// Defaults that depend on other knobs (per-queue lists, affinity, app CPUs) are filled in by
// `resolve` once the scalar knobs are known.
export const DEFAULTS: Omit<Config, 'irq_affinity' | 'rss_reta' | 'rps_cpus' | 'rps_flow_cnt' | 'app_cpus' | 'knob_at' | 'host_cpus'> = {
  mode: 'threads',
  cost_model: '',
  cpus: 2,
  queues: 2,
  nic: 'ixgbe',
  ring_size: 512,
  rx_usecs: 0,
  gro: true,
  gro_normal_batch: 8,
  rss_key: '6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa',
  rss_udp4: 'sd',
  reta_change_at_ms: 0,
  rps_sock_flow_entries: 0,
  netdev_budget: 300,
  netdev_budget_usecs: 2000, // 2 * USEC_PER_SEC / HZ: resolveConfig derives it from --hz
  dev_weight: 64,
  netdev_max_backlog: 1000,
  flow_limit_cpu_bitmap: '0',
  flow_limit_table_len: 4096,
  flow_hash: 'siphash',
  hz: 1000,
  flows: 64,
  flow_dist: 'uniform',
  zipf_s: 1.1,
  proto: 'udp',
  pkt_size: 64,
  rate: 0,
  packets: 1_000_000,
  duration_s: 0,
  seed: 1,
  stack_cost_ns: 0,
  l4_csum_verify: false,
  bad_csum_rate: 0,
  app_placement: 'rss',
  migrate_every_ms: 0,
  sk_rcvbuf: 212_992,
  unsafe_rfs_no_qtail_check: false,
  cacheline_pad: true,
  latency_sample: 64,
  watchdog_s: 20,
  // virtio-net (issue 11)
  virtio_mrg_rxbuf: true,
  virtio_event_idx: true,
  unsafe_small_virtqueue: false,
  fault_virtio_no_poll_recheck: false,
  // end virtio-net (issue 11)
};

export const MAX_CPUS = 64;
export const MAX_QUEUES = 64;
export const RSS_RETA_SIZE = 128;
/** The largest frame: 1518 on the physical NICs, 9018 (MTU 9000) with --nic virtio. */
export const PKT_SIZE_MAX = 1518;
export const VIRTIO_PKT_SIZE_MAX = 9018;

const OPTIONS: OptionSpec[] = [
  { key: 'mode', kind: { t: 'enum', values: ['threads', 'sim'] }, help: 'threads: a worker per CPU, wall time; sim: one thread, virtual time, interleavings chosen by --seed' },
  { key: 'cost_model', kind: { t: 'path' }, help: 'sim: virtual ns per stage, a JSON file (rxsmp calibrate writes one); default built in' },
  { key: 'cpus', kind: { t: 'int', min: 1, max: MAX_CPUS }, help: 'emulated CPUs (one worker thread each)' },
  { key: 'queues', kind: { t: 'int', min: 1, max: MAX_QUEUES }, help: 'RX queues (ethtool -L combined), one MSI-X vector each' },
  { key: 'nic', kind: { t: 'enum', values: ['ixgbe', 'legacy', 'virtio'] }, help: 'guest driver and device model (virtio: virtio-net over a split virtqueue, QEMU backend)' },
  { key: 'ring_size', kind: { t: 'int', min: 8, max: 4096, multipleOf: 8 }, help: 'RX descriptors per queue (ethtool -G rx; default 512, virtio 256: QEMU rx_queue_size)' },
  { key: 'irq_affinity', kind: { t: 'intlist', min: 0, max: MAX_CPUS - 1 }, help: 'CPU of each queue vector, comma-separated (smp_affinity_list)' },
  { key: 'rx_usecs', kind: { t: 'int', min: 0, max: 100_000 }, help: 'interrupt coalescing (ethtool -C rx-usecs)' },
  { key: 'gro', kind: { t: 'bool' }, help: 'generic receive offload (ethtool -K gro on|off)' },
  { key: 'gro_normal_batch', kind: { t: 'int', min: 1, max: 1024 }, help: 'net.core.gro_normal_batch' },
  { key: 'rss_key', kind: { t: 'hexbytes', bytes: 40 }, help: 'RSS hash key (ethtool -X hkey), 40 bytes of hex' },
  {
    key: 'rss_udp4',
    kind: { t: 'enum', values: ['sd', 'sdfn'] },
    help: 'RSS fields for UDP/IPv4 (ethtool -N rx-flow-hash udp4): sd (addresses, the ixgbe default) or sdfn (and ports)',
  },
  { key: 'rss_reta', kind: { t: 'intlist', min: 0, max: MAX_QUEUES - 1 }, help: 'RSS indirection table, 128 queue numbers or a shorter list repeated' },
  { key: 'reta_change_at_ms', kind: { t: 'int', min: 0, max: 3_600_000 }, help: 'rewrite the indirection table (rotate by one queue) at this time, 0 = never' },
  { key: 'rps_cpus', kind: { t: 'masklist' }, help: 'RPS CPU mask per RX queue in hex; one mask for all queues or one per queue, comma-separated' },
  { key: 'rps_flow_cnt', kind: { t: 'intlist', min: 0, max: 1 << 20 }, help: 'RFS flow table size per RX queue; one value or one per queue' },
  { key: 'rps_sock_flow_entries', kind: { t: 'int', min: 0, max: 1 << 24 }, help: 'net.core.rps_sock_flow_entries (RFS)' },
  { key: 'netdev_budget', kind: { t: 'int', min: 1, max: 1 << 20 }, help: 'net.core.netdev_budget' },
  { key: 'netdev_budget_usecs', kind: { t: 'int', min: 1, max: 10_000_000 }, help: 'net.core.netdev_budget_usecs' },
  { key: 'dev_weight', kind: { t: 'int', min: 1, max: 1 << 20 }, help: 'net.core.dev_weight (the backlog napi weight)' },
  { key: 'netdev_max_backlog', kind: { t: 'int', min: 1, max: 1 << 20 }, help: 'net.core.netdev_max_backlog' },
  { key: 'flow_limit_cpu_bitmap', kind: { t: 'hexmask' }, help: 'net.core.flow_limit_cpu_bitmap (hex)' },
  { key: 'flow_limit_table_len', kind: { t: 'int', min: 1, max: 1 << 20, pow2: true }, help: 'net.core.flow_limit_table_len' },
  { key: 'flow_hash', kind: { t: 'enum', values: ['siphash', 'jhash'] }, help: 'flow dissector hash: siphash (5.10+) or jhash (older kernels)' },
  { key: 'hz', kind: { t: 'enum', values: ['100', '250', '300', '1000'] }, help: 'CONFIG_HZ' },
  { key: 'flows', kind: { t: 'int', min: 1, max: 1 << 20 }, help: 'number of flows (one socket each)' },
  { key: 'flow_dist', kind: { t: 'enum', values: ['uniform', 'zipf'] }, help: 'flow popularity' },
  { key: 'zipf_s', kind: { t: 'num', min: 0.01, max: 10 }, help: 'zipf exponent' },
  { key: 'proto', kind: { t: 'enum', values: ['udp', 'tcp', 'mix'] }, help: 'L4 protocol of the flows' },
  { key: 'pkt_size', kind: { t: 'int', min: 64, max: VIRTIO_PKT_SIZE_MAX }, help: 'frame size on the wire including FCS, as pktgen counts it (up to 1518; 9018 with --nic virtio)' },
  { key: 'rate', kind: { t: 'rate' }, help: "'max' (closed loop: the device waits for free descriptors) or packets per second (open loop)" },
  { key: 'packets', kind: { t: 'int', min: 1, max: 1e12 }, help: 'packets to generate' },
  { key: 'duration_s', kind: { t: 'num', min: 0, max: 86_400 }, help: 'stop generating after this many seconds (0: run until --packets)' },
  { key: 'seed', kind: { t: 'int', min: 0, max: 0xffff_ffff }, help: 'seed for flows, traffic and hash keys' },
  { key: 'stack_cost_ns', kind: { t: 'int', min: 0, max: 10_000_000 }, help: 'calibrated per-packet cost standing in for the rest of the stack' },
  { key: 'l4_csum_verify', kind: { t: 'bool' }, help: 'verify UDP/TCP checksums over the payload in software' },
  { key: 'bad_csum_rate', kind: { t: 'num', min: 0, max: 1 }, help: 'fraction of frames generated with a corrupted IPv4 header checksum' },
  { key: 'app_cpus', kind: { t: 'intlist', min: 0, max: MAX_CPUS - 1 }, help: 'one application task per entry, pinned to that CPU' },
  {
    key: 'app_placement',
    kind: { t: 'enum', values: ['rss', 'spread'] },
    help: "which task reads a flow: 'rss', the task on the CPU of the flow's RSS queue vector if any, or 'spread', flows round the tasks",
  },
  { key: 'migrate_every_ms', kind: { t: 'int', min: 0, max: 3_600_000 }, help: 'move every application task to the next CPU this often (0: never)' },
  { key: 'sk_rcvbuf', kind: { t: 'int', min: 2048, max: 1 << 30 }, help: 'socket receive buffer in bytes (SO_RCVBUF, net.core.rmem_default)' },
  { key: 'unsafe_rfs_no_qtail_check', kind: { t: 'bool' }, help: 'UNSAFE, not in Linux: let RFS move a flow without the last_qtail check' },
  { key: 'cacheline_pad', kind: { t: 'bool' }, help: 'pad per-CPU blocks and ring indices to 128 bytes (off shows false sharing)' },
  { key: 'latency_sample', kind: { t: 'int', min: 0, max: 1 << 20 }, help: 'stamp one packet in N with its DMA time for the latency histogram (0: off; each stamp costs two clock reads)' },
  { key: 'watchdog_s', kind: { t: 'num', min: 1, max: 3600 }, help: 'fail the run if no packet moves for this long' },
  {
    key: 'host_cpus',
    kind: { t: 'intlist', min: 0, max: 4095 },
    help: "threads mode: pin each emulated CPU's thread, then the device's, to a host core (taskset), e.g. 0,1,1; default: the host schedules them",
  },
  // virtio-net (issue 11)
  { key: 'virtio_mrg_rxbuf', kind: { t: 'bool' }, help: 'virtio: VIRTIO_NET_F_MRG_RXBUF (mergeable RX buffers); off: big packets, as 5.10 with GUEST_TSO4/6' },
  { key: 'virtio_event_idx', kind: { t: 'bool' }, help: 'virtio: VIRTIO_RING_F_EVENT_IDX (used_event/avail_event); off: the NO_INTERRUPT/NO_NOTIFY flags' },
  { key: 'unsafe_small_virtqueue', kind: { t: 'bool' }, help: 'UNSAFE, beyond QEMU: allow virtio --ring-size below 256 (down to 8), for stress tests' },
  { key: 'fault_virtio_no_poll_recheck', kind: { t: 'bool' }, help: '', hidden: true },
  // end virtio-net (issue 11)
  {
    key: 'knob_at',
    kind: { t: 'schedule' },
    help: `change knobs under traffic: 'MS:knob=value;MS:knob=value', knobs ${RUNTIME_KNOBS.map((k) => k.replace(/_/g, '-')).join(', ')}`,
  },
];

export function optionName(key: string): string {
  if (key === 'duration_s') return '--duration';
  return '--' + key.replace(/_/g, '-');
}

export function optionHelp(): string {
  return OPTIONS.filter((o) => !o.hidden).map((o) => `  ${optionName(o.key).padEnd(30)} ${o.help} (${describe(o.kind)})`).join('\n');
}

function describe(k: Kind): string {
  switch (k.t) {
    case 'int':
      return `an integer from ${k.min} to ${k.max}${k.pow2 ? ', a power of two' : ''}${k.multipleOf ? `, a multiple of ${k.multipleOf}` : ''}`;
    case 'num':
      return `a number from ${k.min} to ${k.max}`;
    case 'bool':
      return 'on or off';
    case 'enum':
      return 'one of ' + k.values.join(', ');
    case 'hexmask':
      return 'a hex CPU mask such as 2 or ff';
    case 'hexbytes':
      return `${k.bytes} bytes of hex, optionally separated by colons`;
    case 'rate':
      return "'max' or packets per second";
    case 'intlist':
      return `comma-separated integers from ${k.min} to ${k.max}`;
    case 'masklist':
      return 'hex CPU masks, comma-separated';
    case 'schedule':
      return "changes such as '50:rps-cpus=3;100:netdev-budget=64' (ms after traffic starts)";
    case 'path':
      return 'a file name';
  }
}

function fail(key: string, value: unknown, k: Kind, why?: string): never {
  const shown = typeof value === 'string' ? `'${value}'` : JSON.stringify(value);
  throw new ConfigError(`${optionName(key)}: ${shown} is not valid${why ? ` (${why})` : ''}; expected ${describe(k)}`);
}

const HEX_MASK = /^(0x)?[0-9a-f]+(,[0-9a-f]+)*$/i;

/** Parse one raw value (a command-line string, or a JSON value from a config file). */
function parseValue(key: string, raw: unknown, k: Kind): unknown {
  const s = typeof raw === 'string' ? raw.trim() : raw;
  switch (k.t) {
    case 'int':
    case 'num': {
      const n = typeof s === 'number' ? s : typeof s === 'string' && s !== '' ? Number(s) : NaN;
      if (!Number.isFinite(n)) fail(key, raw, k);
      if (k.t === 'int' && !Number.isInteger(n)) fail(key, raw, k);
      if (n < k.min || n > k.max) fail(key, raw, k);
      if (k.t === 'int' && k.pow2 && (n & (n - 1)) !== 0) fail(key, raw, k);
      if (k.t === 'int' && k.multipleOf && n % k.multipleOf !== 0) fail(key, raw, k);
      return n;
    }
    case 'bool':
      if (s === true || s === 'on' || s === 'true' || s === '1' || s === 'yes') return true;
      if (s === false || s === 'off' || s === 'false' || s === '0' || s === 'no') return false;
      return fail(key, raw, k);
    case 'enum': {
      const v = String(s);
      if (!k.values.includes(v)) fail(key, raw, k);
      return key === 'hz' ? Number(v) : v;
    }
    case 'hexmask': {
      const v = String(s);
      // The kernel's bitmap_parse accepts comma-separated 32-bit groups, most significant first.
      if (!HEX_MASK.test(v)) fail(key, raw, k);
      return v.replace(/^0x/i, '').replace(/,/g, '').toLowerCase();
    }
    case 'hexbytes': {
      const v = String(s).replace(/[:\s]/g, '');
      if (!/^[0-9a-f]*$/i.test(v) || v.length !== k.bytes * 2) fail(key, raw, k);
      return v.toLowerCase();
    }
    case 'rate': {
      if (s === 'max' || s === 0) return 0;
      const n = typeof s === 'number' ? s : Number(s);
      if (!Number.isInteger(n) || n < 1 || n > 1e9) fail(key, raw, k, 'a rate is max or 1 to 1000000000 packets per second');
      return n;
    }
    case 'intlist': {
      const parts = Array.isArray(s) ? s : typeof s === 'number' ? [s] : String(s).split(',');
      if (parts.length === 0) fail(key, raw, k);
      return parts.map((p) => parseValue(key, p, { t: 'int', min: k.min, max: k.max }));
    }
    case 'masklist': {
      const parts = Array.isArray(s) ? s : String(s).split(',');
      return parts.map((p) => parseValue(key, p, { t: 'hexmask' }));
    }
    case 'schedule':
      return String(s)
        .split(';')
        .filter((x) => x.trim() !== '')
        .map((item) => {
          const m = /^\s*(\d+(?:\.\d+)?)\s*:\s*([a-z0-9_-]+)\s*=\s*(.+?)\s*$/i.exec(item);
          if (!m) fail(key, item, k, 'each change is MS:knob=value');
          const knob = m[2]!.replace(/-/g, '_');
          if (!(RUNTIME_KNOBS as readonly string[]).includes(knob)) {
            fail(key, item, k, `${optionName(knob)} cannot change under traffic`);
          }
          return { at_ms: Number(m[1]), key: knob, raw: m[3]! };
        });
    case 'path':
      if (typeof s !== 'string' || s === '' || s === 'on') fail(key, raw, k);
      return s;
  }
}

const BY_FLAG = new Map(OPTIONS.map((o) => [optionName(o.key).slice(2), o]));
const BY_KEY = new Map(OPTIONS.map((o) => [o.key as string, o]));

/** Raw settings, as strings from argv or JSON values from a file, keyed by Config key. */
export type RawSettings = Map<keyof Config, unknown>;

export function settingFromFlag(flag: string, value: unknown, into: RawSettings): void {
  const o = BY_FLAG.get(flag);
  if (!o) throw new ConfigError(`unknown option --${flag}; run 'rxsmp run --help' for the list`);
  into.set(o.key, value);
}

export function settingsFromFile(obj: unknown, file: string, into: RawSettings): void {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new ConfigError(`--config ${file}: expected a JSON object of options`);
  }
  for (const [name, value] of Object.entries(obj)) {
    const flag = name.replace(/_/g, '-');
    const o = BY_FLAG.get(flag) ?? BY_KEY.get(name);
    if (!o) throw new ConfigError(`--config ${file}: unknown option '${name}'`);
    into.set(o.key, value);
  }
}

export function maskToCpus(hex: string): number[] {
  const cpus: number[] = [];
  for (let i = 0; i < hex.length; i++) {
    const nibble = parseInt(hex[hex.length - 1 - i]!, 16);
    for (let b = 0; b < 4; b++) if (nibble & (1 << b)) cpus.push(i * 4 + b);
  }
  return cpus;
}

function perQueue<T>(key: string, list: T[], queues: number): T[] {
  if (list.length === 1) return new Array<T>(queues).fill(list[0]!);
  if (list.length !== queues) {
    throw new ConfigError(`${optionName(key)}: ${list.length} values given for ${queues} queues; give one value for all queues or one per queue`);
  }
  return list;
}

/**
 * A Config from options named as on the command line ({ 'rps-cpus': '2', gro: 'off' }),
 * validated exactly as they are there. Throws ConfigError.
 */
export function configFromFlags(flags: Readonly<Record<string, string | number | boolean>>): Config {
  const raw: RawSettings = new Map();
  for (const [name, value] of Object.entries(flags)) settingFromFlag(name, String(value), raw);
  return resolveConfig(raw);
}

/** Turn raw settings into a complete, cross-checked Config. Throws ConfigError. */
export function resolveConfig(raw: RawSettings): Config {
  const c: Record<string, unknown> = { ...DEFAULTS };
  for (const [key, value] of raw) {
    const o = BY_KEY.get(key)!;
    c[key] = parseValue(key, value, o.kind);
  }
  const cfg = c as unknown as Config;
  virtioDefaults(cfg, raw);
  const q = cfg.queues;
  // The kernel's default is 2 * USEC_PER_SEC / HZ: two jiffies whatever HZ is.
  if (!raw.has('netdev_budget_usecs')) cfg.netdev_budget_usecs = Math.floor((2 * 1_000_000) / cfg.hz);
  cfg.irq_affinity = raw.has('irq_affinity') ? perQueue('irq_affinity', cfg.irq_affinity, q) : range(q).map((i) => i % cfg.cpus);
  cfg.rps_cpus = raw.has('rps_cpus') ? perQueue('rps_cpus', cfg.rps_cpus, q) : new Array<string>(q).fill('0');
  cfg.rps_flow_cnt = raw.has('rps_flow_cnt') ? perQueue('rps_flow_cnt', cfg.rps_flow_cnt, q) : new Array<number>(q).fill(0);
  cfg.app_cpus = raw.has('app_cpus') ? cfg.app_cpus : range(cfg.cpus);
  cfg.host_cpus = raw.has('host_cpus') ? cfg.host_cpus : [];
  const reta = raw.has('rss_reta') ? cfg.rss_reta : range(q);
  cfg.rss_reta = range(RSS_RETA_SIZE).map((i) => reta[i % reta.length]!);
  checkCrossFields(cfg);
  cfg.knob_at = resolveSchedule(raw, (cfg.knob_at ?? []) as unknown as { at_ms: number; key: RuntimeKnob; raw: string }[]);
  return cfg;
}

/**
 * Each scheduled change is checked as a whole configuration with that knob changed (so a
 * mask naming a missing CPU is caught here, before anything starts) and stored resolved.
 */
function resolveSchedule(raw: RawSettings, items: { at_ms: number; key: RuntimeKnob; raw: string }[]): KnobChange[] {
  const out: KnobChange[] = [];
  const base = new Map(raw);
  base.delete('knob_at');
  for (const item of items) {
    const changed = new Map(base);
    changed.set(item.key, item.raw);
    try {
      out.push({ at_ms: item.at_ms, key: item.key, value: resolveConfig(changed)[item.key] });
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`--knob-at ${item.at_ms}:${item.key.replace(/_/g, '-')}=${item.raw}: ${e.message}`);
      throw e;
    }
  }
  return out.sort((a, b) => a.at_ms - b.at_ms);
}

function checkCpu(key: string, cpu: number, cpus: number): void {
  if (cpu >= cpus) throw new ConfigError(`${optionName(key)}: CPU ${cpu} does not exist with --cpus ${cpus}`);
}

// virtio-net (issue 11): defaults that differ for virtio, and its cross-field checks.

/** QEMU's defaults for a virtio-net device: one queue pair, rx_queue_size 256. */
function virtioDefaults(cfg: Config, raw: RawSettings): void {
  if (cfg.nic !== 'virtio') return;
  if (!raw.has('queues')) cfg.queues = 1;
  if (!raw.has('ring_size')) cfg.ring_size = 256;
}

function checkVirtio(cfg: Config): void {
  if (cfg.nic !== 'virtio') {
    if (cfg.pkt_size > PKT_SIZE_MAX) throw new ConfigError(`--pkt-size: ${cfg.pkt_size} is more than ${PKT_SIZE_MAX} for --nic ${cfg.nic} (frames up to ${VIRTIO_PKT_SIZE_MAX}, MTU 9000, only with --nic virtio)`);
    if (cfg.ring_size < 64) throw new ConfigError(`--ring-size: ${cfg.ring_size} is below 64 for --nic ${cfg.nic}; expected an integer from 64 to 4096, a multiple of 8`);
    return;
  }
  const n = cfg.ring_size;
  const pow2 = (n & (n - 1)) === 0;
  if (!pow2 || n > 1024 || n < (cfg.unsafe_small_virtqueue ? 8 : 256)) {
    const small = cfg.unsafe_small_virtqueue ? ' (8 to 1024 with --unsafe-small-virtqueue)' : ' (below 256 only with --unsafe-small-virtqueue, beyond QEMU)';
    throw new ConfigError(`--ring-size: ${n} is not valid for --nic virtio; expected a power of two from 256 to 1024, as QEMU's rx_queue_size${small}`);
  }
  if (cfg.rx_usecs !== 0) throw new ConfigError('--rx-usecs: virtio-net in Linux 5.10 has no RX interrupt coalescing (ethtool -C rx-usecs); interrupts are suppressed through the ring instead');
  const noReta = 'a virtio-net device has no RSS indirection table (VIRTIO_NET_F_RSS is not modelled: the host tap spreads flows by hash)';
  if (cfg.reta_change_at_ms > 0) throw new ConfigError(`--reta-change-at-ms: ${noReta}`);
  if ((cfg.knob_at ?? []).some((k) => k.key === 'rss_reta')) throw new ConfigError(`--knob-at: rss-reta cannot change: ${noReta}`);
}
// end virtio-net (issue 11)

function checkCrossFields(cfg: Config): void {
  checkVirtio(cfg);
  for (const cpu of cfg.irq_affinity) checkCpu('irq_affinity', cpu, cfg.cpus);
  for (const cpu of cfg.app_cpus) checkCpu('app_cpus', cpu, cfg.cpus);
  for (const mask of [...cfg.rps_cpus, cfg.flow_limit_cpu_bitmap]) {
    for (const cpu of maskToCpus(mask)) {
      if (cpu >= cfg.cpus) {
        const key = mask === cfg.flow_limit_cpu_bitmap ? 'flow_limit_cpu_bitmap' : 'rps_cpus';
        throw new ConfigError(`${optionName(key)}: mask ${mask} names CPU ${cpu}, which does not exist with --cpus ${cfg.cpus}`);
      }
    }
  }
  for (const queue of cfg.rss_reta) {
    if (queue >= cfg.queues) throw new ConfigError(`--rss-reta: queue ${queue} does not exist with --queues ${cfg.queues}`);
  }
  if (cfg.app_cpus.length === 0) throw new ConfigError('--app-cpus: at least one application CPU is needed');
  if (cfg.cost_model !== '' && cfg.mode !== 'sim') throw new ConfigError('--cost-model: a cost model is for --mode sim (threads mode runs in wall time)');
  if (cfg.host_cpus.length > 0) {
    if (cfg.mode === 'sim') throw new ConfigError('--host-cpus: pins threads, and --mode sim runs in one thread');
    if (cfg.host_cpus.length !== cfg.cpus + 1) {
      throw new ConfigError(`--host-cpus: ${cfg.host_cpus.length} cores given; expected ${cfg.cpus + 1}, one per emulated CPU (--cpus ${cfg.cpus}), then the device's`);
    }
  }
  if (cfg.nic === 'legacy' && cfg.queues !== 1) {
    throw new ConfigError(`--nic legacy: a non-NAPI device has one RX queue, not --queues ${cfg.queues}`);
  }
  if (cfg.rate === 0 && cfg.duration_s === 0 && cfg.packets > 1e10) {
    throw new ConfigError('--packets: more than 1e10 packets at --rate max would not finish; give --duration');
  }
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** The config as the run contract prints it: every effective knob, kebab-free JSON keys. */
export function configForReport(cfg: Config): Record<string, unknown> {
  return { ...cfg, rate: cfg.rate === 0 ? 'max' : cfg.rate };
}
