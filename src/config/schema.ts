// The run configuration as one schema: every knob with its Linux name, its type (a valibot
// schema that accepts the command line's text and a config file's JSON alike), what it
// accepts in words, its help line and its default. From this one table come the `Config`
// type, `DEFAULTS`, the command-line flags and `--help`, the keys of `--config FILE` and of the
// `config` block of `--json`, and every "is not valid; expected ..." message.
//
// Adding a knob is one entry in KNOBS below (see docs/cli.md). This module imports nothing
// from the project, so every layer (shm/, kernel/, devices/) may import it.

import * as v from 'valibot';
import { NICS, PKT_SIZE_MAX, VIRTIO_PKT_SIZE_MAX, type Nic } from './nics.js';

/**
 * A user's mistake in the configuration: one line, exit status 2, never a stack trace. The
 * line never holds a control character (a newline or an escape sequence from a hostile file):
 * any that reached the message is escaped here, whatever quoted it.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(message: string) {
    super(fitLine(escapeControls(message)));
  }
}

/** The most characters of a user's text (a value, a key, a file name) a message quotes. */
export const QUOTE_CHARS_MAX = 80;
/** The longest message: with "rxsmp: " before it, a line of at most 200 characters. */
export const MESSAGE_CHARS_MAX = 193;

/**
 * The last guard on a message's length: one that quotes several long texts (each clipped)
 * keeps its start (the option, the value) and its end (what is expected), cut in the middle.
 */
function fitLine(m: string): string {
  if (m.length <= MESSAGE_CHARS_MAX) return m;
  const cp = Array.from(m); // by code point: a surrogate pair is never cut in two
  const tail = 70;
  const head = MESSAGE_CHARS_MAX - tail - 5;
  if (cp.length <= MESSAGE_CHARS_MAX) return m;
  return `${cp.slice(0, head).join('')} ... ${cp.slice(cp.length - tail).join('')}`;
}

// C0 and C1 controls, DEL, the line and paragraph separators, bidirectional overrides and
// isolates (which reorder what a terminal shows), and lone surrogates.
const CONTROL =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is its purpose
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const escapeChar = (c: string): string => {
  const n = c.charCodeAt(0);
  return NAMED[c] ?? (n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`);
};

/** `s` with every control character written as an escape (\n, \x1b, \u2028). */
export const escapeControls = (s: string): string => s.replace(CONTROL, escapeChar);

/**
 * A user's text as a message quotes it: control characters escaped, and at most
 * QUOTE_CHARS_MAX characters (a longer text ends in '...'). Every message that quotes what a
 * user typed or a file held goes through this one function.
 */
export function clip(text: string, max = QUOTE_CHARS_MAX): string {
  const safe = escapeControls(text);
  if (safe.length <= max) return safe;
  let out = '';
  // By code point, each escaped alone: an escape or a surrogate pair is never cut in two.
  for (const ch of text) {
    const piece = escapeControls(ch);
    if (out.length + piece.length > max - 3) break;
    out += piece;
  }
  return `${out}...`;
}

/** A file name as a message quotes it: as clip(), but a long one keeps its end (the file, not the root). */
export function clipPath(file: string, max = 60): string {
  const safe = escapeControls(file);
  if (safe.length <= max) return safe;
  let out = '';
  const cps = Array.from(file);
  for (let i = cps.length - 1; i >= 0; i--) {
    const piece = escapeControls(cps[i]);
    if (out.length + piece.length > max - 3) break;
    out = piece + out;
  }
  return `...${out}`;
}

export const MAX_CPUS = 64;
export const MAX_QUEUES = 64;
export const RSS_RETA_SIZE = 128;
/** The largest frame: 1518 on the physical NICs, 9018 (MTU 9000) with --nic virtio (config/nics.ts). */
export { PKT_SIZE_MAX, VIRTIO_PKT_SIZE_MAX };
/** Preamble (7), start-of-frame delimiter (1) and inter-frame gap (12): bytes a frame costs on the wire besides itself. */
export const WIRE_OVERHEAD_BYTES = 20;

// ------------------------------------------------------------------------ value types

/**
 * One type of value: the valibot schema that checks and converts it (from command-line text
 * or from JSON), the words that say what it accepts, and how the command line takes it.
 */
export interface Kind<T> {
  readonly schema: v.GenericSchema<unknown, T>;
  /** What it accepts, completing "expected ...". */
  readonly expected: string;
  /** The placeholder --help shows after the flag. */
  readonly metavar: string;
  /** The text a flag given alone stands for (on/off knobs: 'on'); without it the flag needs a value. */
  readonly bare?: string;
  /** The text `--no-X` stands for (on/off knobs: 'off'). */
  readonly negated?: string;
  /** A list: a repeated flag adds to it; its items are joined by this. */
  readonly list?: ',' | ';';
  /** A value as --help shows it (as a default). */
  show?(value: T): string;
}

const kind = <T>(schema: v.GenericSchema<unknown, T>, expected: string, metavar: string, more: Partial<Kind<T>> = {}): Kind<T> => ({
  schema,
  expected,
  metavar,
  ...more,
});

// Decimal only: '0x2', '2e0', ' 2' and '' are not numbers a user meant (Number() takes them all).
const DECIMAL_INT = /^-?[0-9]+$/;
const DECIMAL = /^-?([0-9]+(\.[0-9]*)?|\.[0-9]+)$/;
const HEX_MASK = /^(0x)?[0-9a-f]+(,[0-9a-f]+)*$/i;

const decimalText = (re: RegExp) => v.pipe(v.string(), v.regex(re), v.transform(Number));

export interface IntOptions {
  pow2?: boolean;
  multipleOf?: number;
}

export function int(min: number, max: number, o: IntOptions = {}): Kind<number> {
  const ok = (n: number) =>
    Number.isInteger(n) &&
    n >= min &&
    n <= max &&
    (!o.pow2 || (n & (n - 1)) === 0) &&
    (o.multipleOf === undefined || n % o.multipleOf === 0);
  return kind(
    v.pipe(v.union([v.number(), decimalText(DECIMAL_INT)]), v.check(ok)),
    `an integer from ${min} to ${max}${o.pow2 ? ', a power of two' : ''}${o.multipleOf ? `, a multiple of ${o.multipleOf}` : ''}`,
    'N',
  );
}

export function num(min: number, max: number): Kind<number> {
  return kind(
    v.pipe(
      v.union([v.number(), decimalText(DECIMAL)]),
      v.check((n) => Number.isFinite(n) && n >= min && n <= max),
    ),
    `a number from ${min} to ${max}`,
    'X',
  );
}

const ON = ['on', 'true', '1', 'yes'];
const OFF = ['off', 'false', '0', 'no'];

export function onOff(): Kind<boolean> {
  return kind(
    v.union([
      v.boolean(),
      v.pipe(
        v.string(),
        v.picklist([...ON, ...OFF]),
        v.transform((s) => ON.includes(s)),
      ),
    ]),
    'on or off',
    'on|off',
    { bare: 'on', negated: 'off', show: (b) => (b ? 'on' : 'off') },
  );
}

export function oneOf<const T extends readonly string[]>(values: T): Kind<T[number]> {
  return kind(v.picklist(values), 'one of ' + values.join(', '), values.join('|'));
}

/** `--ip`: 4, 6 or mix; a config file may give 4 and 6 as numbers. */
export function ipFamilies(): Kind<'4' | '6' | 'mix'> {
  const words = ['4', '6', 'mix'] as const;
  return kind(
    v.union([
      v.picklist(words),
      v.pipe(
        v.number(),
        v.picklist([4, 6]),
        v.transform((n) => String(n) as '4' | '6'),
      ),
    ]),
    'one of 4, 6, mix',
    '4|6|mix',
  );
}

/** One of some numbers, given as text or as a number (CONFIG_HZ). */
export function oneOfNumbers<const T extends readonly number[]>(values: T): Kind<T[number]> {
  return kind(v.pipe(v.union([v.number(), decimalText(DECIMAL_INT)]), v.picklist(values)), 'one of ' + values.join(', '), values.join('|'));
}

/**
 * A CPU mask as bitmap_parse reads it: hex, comma-separated 32-bit groups, most significant
 * first. A number (a JSON config's 3) is the text a flag would give (3). A 0b prefix is
 * refused: bitmap_parse would read 0b11 as 0xb11 (CPUs 0, 4, 8, 9, 11), not binary.
 */
export function hexMask(): Kind<string> {
  return kind(
    v.pipe(
      v.union([
        v.string(),
        v.pipe(
          v.number(),
          v.integer(),
          v.minValue(0),
          v.transform((n) => String(n)),
        ),
      ]),
      v.check(
        (s) => !/^0b/i.test(s),
        (issue) => {
          const text = String(issue.input);
          const bits = text.slice(2);
          const meant = /^[01]+$/.test(bits) ? `; for the CPUs of binary ${bits} write ${Number.parseInt(bits, 2).toString(16)}` : '';
          return `masks are hex, not binary: sysfs would read ${text} as 0x${text.slice(1)}${meant}`;
        },
      ),
      v.regex(HEX_MASK),
      v.transform((s) => s.replace(/^0x/i, '').replace(/,/g, '').toLowerCase()),
    ),
    'a hex CPU mask such as 2 or ff',
    'MASK',
  );
}

export function hexBytes(bytes: number): Kind<string> {
  return kind(
    v.pipe(
      v.string(),
      v.transform((s) => s.replace(/:/g, '').toLowerCase()),
      v.regex(/^[0-9a-f]*$/),
      v.length(bytes * 2),
    ),
    `${bytes} bytes of hex, optionally separated by colons`,
    'HEX',
  );
}

/**
 * `--xdp-map`: entries NAME=KEY:VALUE[,KEY:VALUE...], separated by ';' (a repeated flag adds);
 * in a file also an array of such strings, or a block { NAME: { KEY: VALUE, ... }, ... }.
 * The entries are checked against the object's maps by resolveConfig (host/xdp_object.ts, through ConfigIo).
 */
export function xdpMapEntries(): Kind<string[]> {
  const split = (s: string) =>
    s
      .split(';')
      .map((x) => x.trim())
      .filter((x) => x !== '');
  const scalar = v.union([v.pipe(v.number(), v.integer(), v.transform(String)), v.string()]);
  return kind(
    v.union([
      v.pipe(v.string(), v.transform(split)),
      v.array(v.string()),
      v.pipe(
        v.record(v.string(), v.record(v.string(), scalar)),
        v.transform((o) =>
          Object.entries(o).map(
            ([name, kv]) =>
              `${name}=${Object.entries(kv)
                .map(([k, x]) => `${k}:${x}`)
                .join(',')}`,
          ),
        ),
      ),
    ]),
    "map entries such as 'drop_ports=53:0,123:0;cpus_count=0:2'",
    "'NAME=KEY:VALUE,...;...'",
    { list: ';', show: (xs) => (xs.length === 0 ? "''" : xs.join(';')) },
  );
}

/**
 * A packet rate: 'max' (closed loop) or 1 to 1e9 packets per second. The config holds max as 0,
 * so a run document's config block (JSON, "rate": 0) reads back as max; typed as text, 0 is
 * refused as the message says (`max` is the way to say it).
 */
export function rate(): Kind<number> {
  const why = 'a rate is max or 1 to 1000000000 packets per second';
  const pps = (n: number) => Number.isInteger(n) && n >= 1 && n <= 1e9;
  return kind(
    v.union(
      [
        v.pipe(
          v.literal('max'),
          v.transform(() => 0),
        ),
        v.pipe(
          v.number(),
          v.check((n) => n === 0 || pps(n), why),
        ),
        v.pipe(decimalText(DECIMAL_INT), v.check(pps, why)),
      ],
      why,
    ),
    "'max' or packets per second",
    'PPS|max',
    { show: (n) => (n === 0 ? 'max' : String(n)) },
  );
}

/** A comma-separated list of items of one kind, or a JSON array of them (or one JSON item). */
export function listOf<T>(item: Kind<T>, expected: string): Kind<T[]> {
  const schema = v.pipe(
    v.unknown(),
    v.transform((x: unknown): unknown[] => (typeof x === 'string' ? x.split(',') : Array.isArray(x) ? x : [x])),
    v.array(item.schema),
  );
  return kind(schema, expected, `${item.metavar},...`, { list: ',', show: (xs) => xs.join(',') });
}

export function path(): Kind<string> {
  return kind(v.string(), 'a file name', 'FILE', { show: (s) => (s === '' ? "''" : s) });
}

/** A directory the command writes into (made if missing). */
export function dirPath(): Kind<string> {
  return kind(v.string(), 'a directory name', 'DIR');
}

// ------------------------------------------------------------------------ the knobs

/**
 * The kernel functions a knob's write goes through when it is more than one store of the value
 * into its control word (src/kernel/knobs.ts maps each name to the function, in kernel/).
 */
export type KnobWriter =
  | 'proc_do_dev_weight'
  | 'rps_sock_flow_sysctl'
  | 'store_rps_map'
  | 'store_rps_dev_flow_table_cnt'
  | 'irq_set_affinity'
  | 'ethtool_set_rxfh';

/**
 * Where a knob lives in the running kernel and how a write reaches it, declared in its entry
 * of KNOBS: the layout's sysctl control words come from `ctl`, boot writes every slotted knob
 * (src/kernel/knobs.ts), and `--knob-at` takes the `runtime` ones and applies them the same way.
 */
export interface KnobSlot {
  /** The file Linux writes: a sysctl, a sysfs file, an ethtool command or /proc/irq. */
  readonly file: string;
  /** The control words (shm/layout.ts, CTL_DEF's sysctl group) it is stored in, first its own; [] when it lives in tables of its own. */
  readonly ctl: readonly string[];
  /** The kernel function the write goes through; without one, the value is stored in ctl[0] (proc_dointvec, netdev_store). */
  readonly write?: KnobWriter;
  /** Linux lets it change under traffic: `--knob-at` takes it. */
  readonly runtime: boolean;
  /** A change may move a flow to another CPU, so reorder it as on Linux: the fuzz campaign does not check such runs for order. */
  readonly moves_flows?: boolean;
  /** false: set up at boot by the driver's own bring-up (request_irq, the NIC's reset), not by this write. */
  readonly boot?: false;
}

/**
 * How the fuzz campaign (src/engine/fuzz.ts) draws a knob: an integer from `between`, or one
 * of `pick` (a value given twice is drawn twice as often); `at`: also changed under traffic
 * in the runs that draw `--knob-at`. `main`: drawn from the campaign's main stream, where the
 * first knobs were drawn; a knob added since draws from a stream of its own (a fork of the
 * seed keyed by its name), so every other draw of a seed, and the campaigns quoted, stay.
 */
export interface FuzzRange {
  readonly between?: readonly [number, number];
  readonly pick?: readonly (number | string)[];
  readonly at?: boolean;
  readonly main?: boolean;
}

/** A scheduled change as given: resolved against the rest of the configuration by resolveConfig. */
export interface KnobChangeGiven {
  at_ms: number;
  key: RuntimeKnob;
  /** The new value as given (command-line text, or a JSON value from a file). */
  raw: unknown;
}

const isRuntimeKnob = (k: string): k is RuntimeKnob => (RUNTIME_KNOBS as readonly string[]).includes(k);

/** Why knob `name` (as given) cannot be in a schedule: it is not a runtime knob, or not a knob at all. */
function notRuntime(name: string): string {
  const key = name.replace(/-/g, '_');
  return Object.hasOwn(KNOBS, key) ? `${optionName(key)} cannot change under traffic` : `'${clip(name, 40)}' is not a knob`;
}

/**
 * `--knob-at 'MS:knob=value;MS:knob=value'`, or, in a file, the array `knob_at` of a `--json`
 * output ({ at_ms, key, value }).
 */
export function schedule(): Kind<KnobChangeGiven[]> {
  const item = v.pipe(
    v.string(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*:\s*([a-z0-9_-]+)\s*=\s*(.+?)\s*$/i.exec(dataset.value);
      if (!m) {
        addIssue({ message: 'each change is MS:knob=value (e.g. 50:rps-cpus=3)' });
        return NEVER;
      }
      const key = m[2].replace(/-/g, '_');
      if (!isRuntimeKnob(key)) {
        addIssue({ message: notRuntime(m[2]) });
        return NEVER;
      }
      return { at_ms: Number(m[1]), key, raw: m[3] as unknown };
    }),
  );
  const reported = v.pipe(
    v.object({ at_ms: v.pipe(v.number(), v.minValue(0)), key: v.string(), value: v.unknown() }),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const { at_ms, key, value } = dataset.value;
      if (!isRuntimeKnob(key)) {
        addIssue({ message: notRuntime(key) });
        return NEVER;
      }
      return { at_ms, key, raw: value };
    }),
  );
  return kind(
    v.union([
      v.pipe(
        v.string(),
        v.transform((s) => s.split(';').filter((x) => x.trim() !== '')),
        v.array(item),
      ),
      v.array(reported),
    ]),
    "changes such as '50:rps-cpus=3;100:netdev-budget=64'",
    "'MS:KNOB=VALUE;...'",
    { list: ';' },
  );
}

/** A default that depends on other knobs, said in words for --help; resolveConfig computes it. */
export interface Derived {
  readonly derived: string;
}

/**
 * Where --help lists an option: the common ones first, then by what they tune (the order
 * here is --help's). `rxsmp run --help` describes the common group and names the others'
 * options; --help-all describes every one.
 */
export const GROUPS = {
  common: 'Common options',
  nic: 'NIC and driver (ethtool, sysfs)',
  napi: 'NAPI, GRO, softirq budgets and the backlog (net.core sysctls)',
  rps: 'RPS, RFS and flow limit',
  sockets: 'The stack, sockets and applications',
  traffic: 'Traffic',
  xdp: 'XDP (BPF programs at the driver)',
  output: 'Output and reports',
  emulator: 'The emulator itself (beyond Linux)',
  unsafe: 'Unsafe: not in Linux or QEMU, for stress tests',
} as const;
export type Group = keyof typeof GROUPS;

export interface Knob<T> {
  /** Its --help group. */
  readonly group: Group;
  readonly kind: Kind<T>;
  readonly help: string;
  readonly default: T | Derived;
  /** A test-only switch: accepted, never listed in --help. */
  readonly hidden?: boolean;
  /** Where the running kernel keeps it (a sysctl or sysfs knob); `runtime`: changeable under traffic. */
  readonly slot?: KnobSlot;
  /** How the fuzz campaign draws it. */
  readonly fuzz?: FuzzRange;
}

const cpuList = () => listOf(int(0, MAX_CPUS - 1), `comma-separated integers from 0 to ${MAX_CPUS - 1}`);
interface KnobMore<S extends KnobSlot | undefined> {
  hidden?: boolean;
  slot?: S;
  fuzz?: FuzzRange;
}
const knob = <T, const S extends KnobSlot | undefined = undefined>(
  group: Group,
  k: Kind<T>,
  help: string,
  dflt: T | Derived,
  more: KnobMore<S> = {},
): Knob<T> & { readonly slot: S } => ({ group, kind: k, help, default: dflt, ...more }) as Knob<T> & { readonly slot: S };
const derived = (words: string): Derived => ({ derived: words });
/** `k` with a help line made when it is read (one that lists what KNOBS declares). */
const withHelp = <K extends Knob<unknown>>(k: K, help: () => string): K =>
  Object.defineProperty(k, 'help', { get: help, enumerable: true });
export const isDerived = (d: unknown): d is Derived => typeof d === 'object' && d !== null && 'derived' in d;

export { NICS, type Nic };
export type Proto = 'udp' | 'tcp' | 'mix';
export type FlowDist = 'uniform' | 'zipf';
export type FlowHashAlg = 'siphash' | 'jhash';
export type Mode = 'threads' | 'sim';

/**
 * Every knob, in the order --help lists them. The key is the JSON key (config files and the
 * run contract) and, in kebab case, the flag (`duration_s` is `--duration`).
 */
export const KNOBS = {
  mode: knob(
    'common',
    oneOf(['threads', 'sim']),
    'threads: a worker per CPU, wall time; sim: one thread, virtual time, interleavings chosen by --seed',
    'threads',
  ),
  cost_model: knob('emulator', path(), "sim: virtual ns per stage, a JSON file (rxsmp calibrate writes one); '' = built in", ''),
  cpus: knob('common', int(1, MAX_CPUS), 'emulated CPUs (one worker thread each)', 2),
  queues: knob(
    'common',
    int(1, MAX_QUEUES),
    'RX queues (ethtool -L combined), one MSI-X vector each',
    derived('as the driver picks: ixgbe one per CPU, legacy and virtio 1'),
  ),
  nic: knob('common', oneOf(NICS), 'guest driver and device model (virtio: virtio-net over a split virtqueue, QEMU backend)', 'ixgbe'),
  link_speed: knob(
    'nic',
    int(0, 1_000_000),
    'wire speed in Mbit/s (ethtool speed); 0 = an unlimited wire',
    derived('10000 for ixgbe and legacy (the 82599 is 10 GbE), 0 for virtio'),
  ),
  ring_size: knob(
    'nic',
    int(8, 4096, { multipleOf: 8 }),
    'RX descriptors per queue (ethtool -G rx); virtio: a power of two from 256 to 1024, as QEMU',
    derived('512; virtio 256 (QEMU rx_queue_size)'),
  ),
  irq_affinity: knob('nic', cpuList(), 'CPU of each queue vector (smp_affinity_list)', derived('queue i on CPU i mod --cpus'), {
    slot: { file: '/proc/irq/N/smp_affinity_list', ctl: [], write: 'irq_set_affinity', runtime: true, moves_flows: true, boot: false },
  }),
  rx_usecs: knob(
    'nic',
    int(0, 100_000),
    'interrupt moderation (ethtool -C rx-usecs): ixgbe 1 = adaptive ITR, N > 1 = a fixed N µs interval, 0 = off; legacy and virtio have none (an error)',
    derived('1 (adaptive) for ixgbe, 0 for legacy and virtio'),
  ),
  gro: knob('napi', onOff(), 'generic receive offload (ethtool -K gro on|off)', true),
  gro_normal_batch: knob('napi', int(1, 1024), 'net.core.gro_normal_batch', 8),
  gro_flush_timeout: knob(
    'napi',
    int(0, 1_000_000_000),
    '/sys/class/net/X/gro_flush_timeout (ns): napi_complete_done keeps GRO packets and arms a timer that polls again',
    0,
    { slot: { file: '/sys/class/net/X/gro_flush_timeout', ctl: ['gro_flush_timeout'], runtime: false } },
  ),
  napi_defer_hard_irqs: knob(
    'napi',
    int(0, 0x7fff_ffff),
    '/sys/class/net/X/napi_defer_hard_irqs: completions that leave the interrupt off for the gro_flush_timeout timer',
    0,
    { slot: { file: '/sys/class/net/X/napi_defer_hard_irqs', ctl: ['napi_defer_hard_irqs'], runtime: false } },
  ),
  rss_key: knob(
    'nic',
    hexBytes(40),
    'RSS hash key (ethtool -X hkey)',
    '6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa',
  ),
  rss_udp4: knob(
    'nic',
    oneOf(['sd', 'sdfn']),
    'RSS fields for UDP/IPv4 (ethtool -N rx-flow-hash udp4): sd (addresses, the ixgbe default) or sdfn (and ports)',
    'sd',
  ),
  rss_udp6: knob(
    'nic',
    oneOf(['sd', 'sdfn']),
    'RSS fields for UDP/IPv6 (ethtool -N rx-flow-hash udp6): sd (addresses, the ixgbe default) or sdfn (and ports)',
    'sd',
  ),
  rss_reta: knob(
    'nic',
    listOf(int(0, MAX_QUEUES - 1), `comma-separated integers from 0 to ${MAX_QUEUES - 1}`),
    `RSS indirection table (ethtool -X), ${RSS_RETA_SIZE} queue numbers or a shorter list repeated`,
    derived('queues in turn'),
    { slot: { file: 'ethtool -X', ctl: [], write: 'ethtool_set_rxfh', runtime: true, moves_flows: true, boot: false } },
  ),
  reta_change_at_ms: knob('nic', int(0, 3_600_000), 'rewrite the indirection table (rotate by one queue) at this time, 0 = never', 0),
  rps_cpus: knob(
    'common',
    listOf(hexMask(), 'a hex CPU mask such as 2 or ff, or one per queue, comma-separated'),
    'RPS CPU mask per RX queue (/sys/class/net/X/queues/rx-N/rps_cpus); one for all queues or one per queue',
    derived('0 (RPS off)'),
    { slot: { file: '/sys/class/net/X/queues/rx-N/rps_cpus', ctl: [], write: 'store_rps_map', runtime: true, moves_flows: true } },
  ),
  rps_flow_cnt: knob(
    'rps',
    listOf(int(0, 1 << 20), 'comma-separated integers from 0 to 1048576'),
    'RFS flow table size per RX queue; one value or one per queue',
    derived('0'),
    {
      slot: {
        file: '/sys/class/net/X/queues/rx-N/rps_flow_cnt',
        ctl: [],
        write: 'store_rps_dev_flow_table_cnt',
        runtime: true,
        moves_flows: true,
      },
    },
  ),
  rps_sock_flow_entries: knob('rps', int(0, 1 << 24), 'net.core.rps_sock_flow_entries (RFS)', 0, {
    // the word holds the table's size in use (a power of two; 0: RFS off)
    slot: {
      file: 'net.core.rps_sock_flow_entries',
      ctl: ['rps_sock_flow_size'],
      write: 'rps_sock_flow_sysctl',
      runtime: true,
      moves_flows: true,
    },
  }),
  netdev_budget: knob('napi', int(1, 1 << 20), 'net.core.netdev_budget', 300, {
    slot: { file: 'net.core.netdev_budget', ctl: ['netdev_budget'], runtime: true },
    fuzz: { between: [8, 600], at: true, main: true },
  }),
  netdev_budget_usecs: knob('napi', int(1, 10_000_000), 'net.core.netdev_budget_usecs', derived('2 jiffies: 2000000 / --hz'), {
    slot: { file: 'net.core.netdev_budget_usecs', ctl: ['netdev_budget_usecs'], runtime: true },
    fuzz: { pick: [100, 500, 2000, 4000], main: true },
  }),
  dev_weight: knob('napi', int(1, 1 << 20), 'net.core.dev_weight (the backlog napi weight, times dev_weight_rx_bias)', 64, {
    slot: { file: 'net.core.dev_weight', ctl: ['dev_weight', 'dev_rx_weight'], write: 'proc_do_dev_weight', runtime: true },
    fuzz: { between: [4, 128], at: true, main: true },
  }),
  dev_weight_rx_bias: knob(
    'napi',
    int(1, 1 << 10),
    'net.core.dev_weight_rx_bias: the backlog napi weight is dev_weight times this (dev_rx_weight)',
    1,
    {
      slot: {
        file: 'net.core.dev_weight_rx_bias',
        ctl: ['dev_weight_rx_bias', 'dev_rx_weight'],
        write: 'proc_do_dev_weight',
        runtime: false,
      },
    },
  ),
  netdev_max_backlog: knob('napi', int(1, 1 << 20), 'net.core.netdev_max_backlog', 1000, {
    slot: { file: 'net.core.netdev_max_backlog', ctl: ['netdev_max_backlog'], runtime: true },
    fuzz: { between: [16, 2000], at: true, main: true },
  }),
  flow_limit_cpu_bitmap: knob('rps', hexMask(), 'net.core.flow_limit_cpu_bitmap', '0'),
  flow_limit_table_len: knob('rps', int(1, 1 << 20, { pow2: true }), 'net.core.flow_limit_table_len', 4096),
  flow_hash: knob('rps', oneOf(['siphash', 'jhash']), 'flow dissector hash: siphash (5.10+) or jhash (older kernels)', 'siphash'),
  hz: knob('napi', oneOfNumbers([100, 250, 300, 1000]), 'CONFIG_HZ', 1000),
  flows: knob('traffic', int(1, 1 << 20), 'number of flows (one socket each)', 64),
  flow_dist: knob('traffic', oneOf(['uniform', 'zipf']), 'flow popularity', 'uniform'),
  zipf_s: knob('traffic', num(0.01, 10), 'zipf exponent', 1.1),
  pcap: knob(
    'traffic',
    path(),
    "replay this capture (pcap or pcapng, Ethernet) instead of generated flows: its frames, its one-way 5-tuples as the flows; '' = generate",
    '',
  ),
  tap: knob(
    'output',
    path(),
    "write what a packet socket (tcpdump) on the device sees to this pcapng file: each skb at __netif_receive_skb_core, one interface per CPU; '' = no tap",
    '',
  ),
  tap_buffer: knob(
    'output',
    int(1 << 16, 1 << 30),
    "--tap: the packet socket's buffer in bytes (tcpdump -B), one for all CPUs; a packet that finds it full is a tap drop",
    4 << 20,
  ),
  pcap_timing: knob('traffic', onOff(), "--pcap: send frames at the capture's own timing (its timestamps, capped by the line rate)", false),
  xdp: knob(
    'xdp',
    path(),
    "attach the XDP program of this BPF object (clang -O2 -g -target bpf -c), FILE or FILE:SECTION (section 'xdp' by default), as ip link set dev X xdp obj FILE sec SECTION; '' = none",
    '',
  ),
  xdp_map: knob(
    'xdp',
    xdpMapEntries(),
    "--xdp: a map's initial contents, as bpftool map update: NAME=KEY:VALUE[,KEY:VALUE...]; keys and values are decimal integers (little-endian in the field) or 0x and hex bytes in memory order; repeat the flag or separate maps with ';'",
    [] as string[],
  ),
  xdp_mode: knob(
    'xdp',
    oneOf(['native', 'generic']),
    "--xdp: where the program runs: 'native' (the driver's hook: ixgbe, virtio), 'generic' (do_xdp_generic in __netif_receive_skb_core, ip link set ... xdpgeneric); the legacy driver has no native XDP and always runs generic",
    derived('native; generic for --nic legacy'),
  ),
  virtio_max_queue_pairs: knob(
    'nic',
    int(1, MAX_QUEUES),
    'virtio: the queue pairs the device offers (max_queue_pairs); --queues is what the guest uses (ethtool -L combined). Native XDP needs --queues + --cpus of them (virtnet_xdp_set)',
    derived('--queues'),
  ),
  busy_read: knob(
    'sockets',
    int(0, 1_000_000),
    'net.core.busy_read (µs): recvmsg busy-polls the napi of the socket before it sleeps; 0 = off',
    0,
  ),
  busy_poll: knob(
    'sockets',
    int(0, 1_000_000),
    "net.core.busy_poll (µs): for poll/select; rxsmp's tasks block in recvmsg, so it is recorded, not used",
    0,
  ),
  so_busy_poll: knob(
    'sockets',
    int(0, 1_000_000),
    'setsockopt(SO_BUSY_POLL) on every socket (µs): its sk_ll_usec, instead of net.core.busy_read; 0 = not set',
    0,
  ),
  proto: knob('traffic', oneOf(['udp', 'tcp', 'mix']), 'L4 protocol of the flows', 'udp'),
  ip: knob('traffic', ipFamilies(), 'IP version of the flows: 4, 6 (IPv6, no extension headers) or mix (half each, drawn per flow)', '4'),
  pkt_size: knob(
    'traffic',
    int(64, VIRTIO_PKT_SIZE_MAX),
    `frame size on the wire including the 4-byte FCS, as pktgen counts it (up to ${PKT_SIZE_MAX}; ${VIRTIO_PKT_SIZE_MAX} with --nic virtio)`,
    derived('the smallest that holds the headers and the packet index: 64 (IPv4), 70 (IPv6 UDP), 82 (IPv6 TCP)'),
  ),
  rate: knob('common', rate(), 'max (closed loop: the device waits for free descriptors) or packets per second (open loop)', 0),
  packets: knob('common', int(1, 1e12), 'packets to generate', 1_000_000),
  duration_s: knob('traffic', num(0, 86_400), 'stop generating after this many seconds (0: run until --packets)', 0),
  seed: knob('traffic', int(0, 0xffff_ffff), 'seed for flows, traffic, hash keys and (sim) interleavings', 1),
  stack_cost_ns: knob('sockets', int(0, 10_000_000), 'calibrated per-packet cost standing in for the rest of the stack', 0),
  l4_csum_verify: knob('sockets', onOff(), 'verify UDP/TCP checksums over the payload in software', false),
  bad_csum_rate: knob('traffic', num(0, 1), 'fraction of frames generated with a corrupted IPv4 header checksum', 0),
  app_cost_ns: knob(
    'sockets',
    int(0, 10_000_000),
    "the application's own work per packet it reads, charged to its task in recvmsg (ns)",
    0,
  ),
  app_cpus: knob('sockets', cpuList(), 'one application task per entry, pinned to that CPU', derived('one task on each CPU')),
  app_placement: knob(
    'sockets',
    oneOf(['rss', 'spread']),
    "which task reads a flow: 'rss', the task on the CPU of the flow's RSS queue vector if any, or 'spread', flows round the tasks",
    'rss',
  ),
  migrate_every_ms: knob('sockets', int(0, 3_600_000), 'move every application task to the next CPU this often (0: never)', 0),
  sk_rcvbuf: knob(
    'sockets',
    int(0, 1 << 29),
    "setsockopt(SO_RCVBUF) on every socket: sk_rcvbuf becomes twice this (the kernel doubles it) and TCP's is fixed; 0: not set, UDP keeps net.core.rmem_default (212992), TCP tcp_rmem[1] (131072)",
    0,
  ),
  udp_sockets: knob(
    'sockets',
    oneOf(['connected', 'unconnected']),
    "UDP flows' sockets: 'connected' (connect()ed to their sender, TCP_ESTABLISHED: RFS records and steers them) or 'unconnected' (one bound socket per flow, RFS never steers)",
    'connected',
  ),
  tcp_timestamps: knob(
    'sockets',
    onOff(),
    'TCP flows carry the 12-byte timestamp option (as Linux senders do, net.ipv4.tcp_timestamps)',
    derived('on for TCP flows when --pkt-size leaves room for it (74 bytes and up)'),
  ),
  unsafe_rfs_no_qtail_check: knob('unsafe', onOff(), 'UNSAFE, not in Linux: let RFS move a flow without the last_qtail check', false),
  cacheline_pad: knob('emulator', onOff(), 'pad per-CPU blocks and ring indices to 128 bytes (off shows false sharing)', true),
  device: knob(
    'emulator',
    oneOf(['auto', 'thread', 'inline']),
    "threads mode: where the device runs: 'thread' (a thread of its own, as hardware runs beside the CPUs), 'inline' (the CPU of queue 0's interrupt materialises arrivals as it polls: no third thread on a small host), 'auto': inline on a host with fewer cores than CPUs + 1 (ixgbe and legacy, closed loop), else thread",
    'auto',
  ),
  latency_sample: knob(
    'output',
    int(0, 1 << 20),
    'stamp one packet in N with its DMA time for the latency histogram (0: off; each stamp costs two clock reads)',
    64,
  ),
  watchdog_s: knob('emulator', num(1, 3600), 'fail the run (exit 3) if no packet moves for this long', 20),
  debug_asserts: knob(
    'emulator',
    onOff(),
    'check every shared-memory hand-off per packet too (descriptor owners, skb pool states, lock owners, backlog lists); a broken one fails the run (exit 5); the fuzz campaign turns it on',
    false,
  ),
  host_cpus: knob(
    'emulator',
    listOf(int(0, 4095), 'comma-separated integers from 0 to 4095'),
    "threads mode: pin each emulated CPU's thread, then the device's, to a host core (taskset), e.g. 0,1,1",
    derived('not pinned'),
  ),
  knob_at: withHelp(
    knob('traffic', schedule(), '', derived('none')),
    // RUNTIME_KNOBS comes from this table: the line is made when --help reads it.
    (): string =>
      `change knobs under traffic, at ms after generation starts: ${(RUNTIME_KNOBS as readonly string[]).map((k: string) => k.replace(/_/g, '-')).join(', ')}`,
  ),
  virtio_mrg_rxbuf: knob(
    'nic',
    onOff(),
    'virtio: VIRTIO_NET_F_MRG_RXBUF (mergeable RX buffers); off: big packets, as 5.10 with GUEST_TSO4/6',
    true,
  ),
  virtio_event_idx: knob(
    'nic',
    onOff(),
    'virtio: VIRTIO_RING_F_EVENT_IDX (used_event/avail_event); off: the NO_INTERRUPT/NO_NOTIFY flags',
    true,
  ),
  tap_txqueuelen: knob(
    'nic',
    int(1, 1 << 20),
    "virtio: the host tap's txqueuelen (ip link set tap0 txqueuelen N): packets the tun queue holds behind QEMU's one held packet; past it the tap's tx_dropped (packets.dropped.tun)",
    1000,
  ),
  unsafe_small_virtqueue: knob(
    'unsafe',
    onOff(),
    'UNSAFE, beyond QEMU: allow virtio --ring-size below 256 (down to 8), for stress tests',
    false,
  ),
  // TEST-ONLY fault: virtqueue_napi_complete skips its virtqueue_poll recheck (the lost-interrupt race).
  fault_virtio_no_poll_recheck: knob('unsafe', onOff(), 'TEST-ONLY fault: skip the virtqueue_poll recheck', false, { hidden: true }),
};

export type KnobKey = keyof typeof KNOBS;
type KnobValue<K extends KnobKey> = (typeof KNOBS)[K] extends Knob<infer T> ? T : never;

/** The knobs Linux lets you change under traffic (sysctl, sysfs, ethtool, smp_affinity): those whose slot says `runtime`. */
export type RuntimeKnob = { [K in KnobKey]: (typeof KNOBS)[K]['slot'] extends { readonly runtime: true } ? K : never }[KnobKey];
export const RUNTIME_KNOBS = (Object.keys(KNOBS) as KnobKey[]).filter((k) => KNOBS[k].slot?.runtime === true) as RuntimeKnob[];

/** The knobs the kernel keeps in a slot of its own, written at boot (src/kernel/knobs.ts). */
export type SlottedKnob = { [K in KnobKey]: (typeof KNOBS)[K]['slot'] extends KnobSlot ? K : never }[KnobKey];
export const SLOTTED_KNOBS = (Object.keys(KNOBS) as KnobKey[]).filter((k) => KNOBS[k].slot !== undefined) as SlottedKnob[];

/** A control word a knob is stored in. */
export type CtlWord = {
  [K in KnobKey]: (typeof KNOBS)[K]['slot'] extends KnobSlot ? (typeof KNOBS)[K]['slot']['ctl'][number] : never;
}[KnobKey];
/** Every knob's control words, each once, in the order of KNOBS: CTL_DEF's sysctl group (shm/layout.ts). */
export const CTL_WORDS: readonly CtlWord[] = [...new Set(Object.values(KNOBS).flatMap((k) => (k.slot?.ctl ?? []) as CtlWord[]))];

/** One scheduled change, resolved: at `at_ms` after generation starts, `key` becomes `value`. */
export interface KnobChange {
  at_ms: number;
  key: RuntimeKnob;
  value: Config[RuntimeKnob];
}

/** A complete, checked configuration: every knob of KNOBS, derived defaults filled in. */
export type Config = { -readonly [K in Exclude<KnobKey, 'knob_at'>]: KnobValue<K> } & { knob_at: KnobChange[] };

/** The knobs whose default does not depend on others, with that default. */
export const DEFAULTS = Object.fromEntries(
  Object.entries(KNOBS).flatMap(([k, o]) => (isDerived(o.default) ? [] : [[k, o.default]])),
) as Partial<Config>;

// ------------------------------------------------------------------------ names and messages

export function optionName(key: string): string {
  if (key === 'duration_s') return '--duration';
  return '--' + key.replace(/_/g, '-');
}

/** Check and convert one value of a kind: the value, or the reason a check gave (often '') if it is not valid. */
export function parseKind<T>(k: Kind<T>, raw: unknown): { ok: true; value: T } | { ok: false; why: string } {
  const r = v.safeParse(k.schema, raw, { message: '' });
  if (r.success) return { ok: true, value: r.output };
  // A union reports its own issue; the reasons worth repeating are the custom ones deeper down.
  const why = collectWhy(r.issues);
  return { ok: false, why };
}

function collectWhy(issues: readonly v.BaseIssue<unknown>[]): string {
  for (const i of issues) {
    if (i.message !== '') return i.message;
    if (i.issues) {
      const w = collectWhy(i.issues);
      if (w !== '') return w;
    }
  }
  return '';
}

/** "--cpus: '0' is not valid; expected an integer from 1 to 64", or the reason when a check gave one. */
export function invalid(name: string, shown: string, k: Kind<unknown>, why = ''): ConfigError {
  return new ConfigError(`${name}: ${shown} is not valid${why ? `: ${why}` : `; expected ${k.expected}`}`);
}

/** A knob's value: checked, converted, or a ConfigError naming the option. */
export function parseKnob<K extends KnobKey>(key: K, raw: unknown, shown = show(raw)): KnobValue<K> {
  const k = KNOBS[key].kind as unknown as Kind<KnobValue<K>>;
  const r = parseKind(k, raw);
  if (!r.ok) throw invalid(optionName(key), shown, k, r.why);
  return r.value;
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/**
 * The names a mistyped one most likely meant: those it begins (up to three), else the nearest
 * by edit distance (at most one edit per three letters, at least one); none when nothing is close.
 */
export function closest(name: string, names: readonly string[]): string[] {
  const prefixed = names.filter((n) => n.startsWith(name));
  if (prefixed.length > 0 && prefixed.length <= 3) return prefixed;
  let best: string[] = [];
  let bestD = Math.max(1, Math.floor(name.length / 3));
  for (const n of names) {
    const d = distance(name, n);
    if (d < bestD || (d === bestD && best.length === 0)) [best, bestD] = [[n], d];
    else if (d === bestD) best.push(n);
  }
  return best.slice(0, 3);
}

/** "did you mean --a?" or "did you mean --a, --b or --c?" ('' without suggestions). */
export function didYouMean(near: readonly string[], prefix = '--'): string {
  if (near.length === 0) return '';
  const names = near.map((n) => `${prefix}${n}`);
  return `did you mean ${names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`}?`;
}

/** A value as a message quotes it: text in quotes, a JSON value as JSON (both clipped). */
export const show = (raw: unknown): string => (typeof raw === 'string' ? `'${clip(raw)}'` : clip(JSON.stringify(raw) ?? String(raw)));

// ------------------------------------------------------------------------ helpers every layer uses

export function maskToCpus(hex: string): number[] {
  const cpus: number[] = [];
  for (let i = 0; i < hex.length; i++) {
    const nibble = parseInt(hex[hex.length - 1 - i], 16);
    for (let b = 0; b < 4; b++) if (nibble & (1 << b)) cpus.push(i * 4 + b);
  }
  return cpus;
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * Frames per second the wire carries at most: one frame of pkt_size bytes (FCS included) plus
 * 20 bytes of preamble, delimiter and gap per (pkt_size + 20) * 8 bit times. 0: unlimited.
 */
export function lineRatePps(cfg: Pick<Config, 'link_speed' | 'pkt_size'>): number {
  if (cfg.link_speed === 0) return 0;
  return (cfg.link_speed * 1e6) / ((cfg.pkt_size + WIRE_OVERHEAD_BYTES) * 8);
}
