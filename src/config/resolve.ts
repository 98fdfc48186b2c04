// From settings (command-line text, a config file's JSON values) to a complete Config:
// each value checked by its knob's schema, the defaults that depend on other knobs filled in
// (queues and link speed per NIC, per-queue lists, affinity, application CPUs), then the
// checks across knobs. Everything here runs before any shared memory is sized or any worker
// starts; a mistake is a ConfigError naming the option. What resolving needs from outside the
// configuration (a capture's summary, whether the tap file can be written, whether the run fits
// the shared-memory limit) it is handed (ConfigIo): the engine's resolveConfig supplies it
// (engine/configure.ts), so nothing here reads a capture or knows the layers that run a
// configuration. --xdp's object is read and checked the same way (ConfigIo.xdp).

import { IPPROTO_TCP, IPPROTO_UDP, frame_len_min, ip_header_len } from '../uapi/inet.js';
import { checkXdpAttach } from './xdp.js';
import { nicModel } from './nics.js';
import {
  clip,
  clipPath,
  closest,
  ConfigError,
  didYouMean,
  isDerived,
  KNOBS,
  lineRatePps,
  maskToCpus,
  MAX_QUEUES,
  optionName,
  parseKind,
  parseKnob,
  range,
  RSS_RETA_SIZE,
  type Config,
  type KnobChange,
  type KnobChangeGiven,
  type Kind,
  type KnobKey,
} from './schema.js';

/** Settings as given (command-line text or JSON values), keyed by knob; checked by resolveConfig. */

/** The smallest TCP/IPv4 frame with the timestamp option: Ethernet 14, IPv4 20, TCP 20 + 12, index 4, FCS 4. */
export const TCP_TS_MIN_PKT_SIZE = 74;
const FCS_LEN = 4;

const familiesOf = (ip: Config['ip']): number[] => (ip === '4' ? [4] : ip === '6' ? [6] : [4, 6]);
const protosOf = (proto: Config['proto']): number[] =>
  proto === 'udp' ? [IPPROTO_UDP] : proto === 'tcp' ? [IPPROTO_TCP] : [IPPROTO_UDP, IPPROTO_TCP];

/**
 * The smallest --pkt-size (FCS included) for the run's generated frames, and which frames
 * need it: every family of --ip with every protocol of --proto (TCP with its timestamp option
 * when `tsopt`).
 */
export function pktSizeMin(ip: Config['ip'], proto: Config['proto'], tsopt: boolean): { size: number; what: string } {
  let best = { size: 0, what: '' };
  for (const f of familiesOf(ip)) {
    for (const p of protosOf(proto)) {
      const ts = tsopt && p === IPPROTO_TCP;
      const size = frame_len_min(f, p, ts) + FCS_LEN;
      if (size > best.size) {
        const l4 = p === IPPROTO_UDP ? 'UDP 8' : ts ? 'TCP 20 + timestamps 12' : 'TCP 20';
        best = {
          size,
          what: `IPv${f} ${p === IPPROTO_UDP ? 'UDP' : 'TCP'} frames (Ethernet 14, IPv${f} ${ip_header_len(f)}, ${l4}, the 4-byte packet index, the FCS 4)`,
        };
      }
    }
  }
  return best;
}
export type RawSettings = Map<KnobKey, unknown>;

/** What resolveSettings needs of a capture (--pcap) before anything is allocated. */
export interface CaptureSummary {
  /** Frames in one pass. */
  frames: number;
  /** The run's flows (sockets) the capture makes. */
  flows: number;
  /** The longest frame as DMA'd (FCS excluded). */
  max_len: number;
  /** Every frame has a timestamp (--pcap-timing can follow it). */
  timed: boolean;
  /** The mean frame on the wire (bytes), for the line rate. */
  wire_bytes_mean: number;
}

/** What resolving a configuration needs from outside config/; each throws a ConfigError. */
export interface ConfigIo {
  /** --pcap FILE: the capture's summary, read and checked. */
  capture(file: string): CaptureSummary;
  /** --tap FILE: the file can be written. */
  checkTapPath(file: string): void;
  /** The resolved configuration's shared memory fits the limit. */
  checkSharedMemory(cfg: Config): void;
  /** --xdp FILE and --xdp-map: the object read, its program checked, the entries applied to scratch maps. */
  xdp(cfg: Pick<Config, 'xdp' | 'xdp_map' | 'cpus'>): void;
}

const isKnob = (k: string): k is KnobKey => Object.hasOwn(KNOBS, k);

/** The knob a flag (without its dashes) or a file key names: snake or kebab case; `duration` is duration_s. */
export function knobNamed(name: string): KnobKey | undefined {
  const key = name.replace(/-/g, '_');
  if (isKnob(key)) return key;
  return (Object.keys(KNOBS) as KnobKey[]).find((k) => optionName(k) === '--' + name);
}

export function settingFromFlag(flag: string, value: unknown, into: RawSettings): void {
  const key = knobNamed(flag);
  if (key === undefined) throw new ConfigError(`unknown option --${clip(flag)}; run 'rxsmp run --help' for the list`);
  into.set(key, value);
}

/** What a message may say of a value read from a file: numbers and booleans, never the file's text. */
function showFileValue(raw: unknown): string {
  if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
  if (raw === null) return 'null';
  return Array.isArray(raw) ? 'the array given' : typeof raw === 'string' ? 'the string given' : 'the ' + typeof raw + ' given';
}

/**
 * The options of a config file: an object with the keys of a `--json` output's `config`
 * block (or that whole document). Each value is checked here, so a mistake names the file and
 * the key without quoting the file.
 */
export function settingsFromFile(obj: unknown, file: string, into: RawSettings): void {
  settingsFromObject(obj, `--config ${clipPath(file)}`, into);
}

/**
 * Options given as an object (a config file's, or the library's run()): the keys of the
 * `config` block, snake or kebab case. `where` starts each message.
 */
export function settingsFromObject(obj: unknown, where: string, into: RawSettings): void {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj))
    throw new ConfigError(`${where}: expected a mapping of options (key: value)`);
  let o = obj as Record<string, unknown>;
  if (typeof o.schema === 'string' && o.schema.startsWith('rxsmp.run/') && typeof o.config === 'object' && o.config !== null)
    o = o.config as Record<string, unknown>;
  for (const [name, value] of Object.entries(o)) {
    const key = knobNamed(name);
    if (key === undefined) {
      const near = closest(name.replace(/-/g, '_'), Object.keys(KNOBS));
      const hint = near.length ? ` (${didYouMean(near, '')})` : '';
      throw new ConfigError(`${where}: unknown key '${clip(name, 40)}'${hint}; keys are the options' names (rxsmp run --help-all)`);
    }
    const r = parseKind(KNOBS[key].kind as Kind<unknown>, value);
    if (!r.ok) throw new ConfigError(`${where}: key '${name}': ${showFileValue(value)} is not valid; expected ${KNOBS[key].kind.expected}`);
    if (key === 'knob_at') {
      // Each change's value too, here, so that resolveConfig's message (which quotes it) never sees a bad one.
      for (const change of r.value as KnobChangeGiven[]) {
        const k = KNOBS[change.key].kind as Kind<unknown>;
        if (!parseKind(k, change.raw).ok) {
          throw new ConfigError(
            `${where}: key '${name}': ${change.key} at ${change.at_ms} ms: ${showFileValue(change.raw)} is not valid; expected ${k.expected}`,
          );
        }
      }
    }
    into.set(key, value);
  }
}

function perQueue<T>(key: string, list: T[], queues: number): T[] {
  if (list.length === 1) return new Array<T>(queues).fill(list[0]!);
  if (list.length !== queues) {
    throw new ConfigError(
      `${optionName(key)}: ${list.length} values given for ${queues} queues; give one value for all queues or one per queue`,
    );
  }
  return list;
}

/**
 * The settings of options named as on the command line ({ 'rps-cpus': '2', gro: 'off' }),
 * each as its flag's text. Throws ConfigError.
 */
export function settingsFromFlags(flags: Readonly<Record<string, string | number | boolean>>): RawSettings {
  const raw: RawSettings = new Map();
  for (const [name, value] of Object.entries(flags))
    settingFromFlag(name, typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value), raw);
  return raw;
}

/** Turn raw settings into a complete, cross-checked Config. Throws ConfigError. */
export function resolveSettings(raw: RawSettings, io: ConfigIo): Config {
  // Every key in the schema's order (derived ones filled in below), so that the run contract's
  // config block reads the same whichever knobs were given.
  const c: Record<string, unknown> = {};
  for (const [key, o] of Object.entries(KNOBS)) {
    c[key] = raw.has(key as KnobKey) ? parseKnob(key as KnobKey, raw.get(key as KnobKey)) : isDerived(o.default) ? undefined : o.default;
  }
  const cfg = c as Config;
  const given = (k: KnobKey) => raw.has(k);
  if (cfg.pcap !== '') resolveReplay(cfg, given, io.capture(cfg.pcap));
  if (cfg.tap !== '') io.checkTapPath(cfg.tap);
  io.xdp(cfg); // --xdp: the object read and checked, --xdp-map applied to scratch maps
  const nic = nicModel(cfg.nic);
  if (!given('queues')) cfg.queues = nic.queues(cfg.cpus, MAX_QUEUES);
  if (!given('link_speed')) cfg.link_speed = nic.link_speed;
  if (!given('ring_size')) cfg.ring_size = nic.ring_size;
  if (!given('rx_usecs')) cfg.rx_usecs = nic.rx_usecs;
  else if (nic.no_itr !== undefined) throw new ConfigError(nic.no_itr);
  const q = cfg.queues;
  // ip link set dev X xdp: a driver without ndo_bpf (the legacy one) gets the generic hook.
  if (!given('xdp_mode')) cfg.xdp_mode = nic.no_native_xdp === undefined ? 'native' : 'generic';
  else if (cfg.xdp_mode === 'native' && nic.no_native_xdp !== undefined && cfg.xdp !== '') throw new ConfigError(nic.no_native_xdp);
  if (!given('virtio_max_queue_pairs')) cfg.virtio_max_queue_pairs = q;
  else if (nic.rx_queue === 'virtqueue' && cfg.virtio_max_queue_pairs < q)
    throw new ConfigError(
      `--virtio-max-queue-pairs: ${cfg.virtio_max_queue_pairs} is below --queues ${q}; the guest cannot use more queue pairs than the device offers`,
    );
  // The kernel's default is 2 * USEC_PER_SEC / HZ: two jiffies whatever HZ is.
  if (!given('netdev_budget_usecs')) cfg.netdev_budget_usecs = Math.floor((2 * 1_000_000) / cfg.hz);
  cfg.irq_affinity = given('irq_affinity') ? perQueue('irq_affinity', cfg.irq_affinity, q) : range(q).map((i) => i % cfg.cpus);
  cfg.rps_cpus = given('rps_cpus') ? perQueue('rps_cpus', cfg.rps_cpus, q) : new Array<string>(q).fill('0');
  cfg.rps_flow_cnt = given('rps_flow_cnt') ? perQueue('rps_flow_cnt', cfg.rps_flow_cnt, q) : new Array<number>(q).fill(0);
  cfg.app_cpus = given('app_cpus') ? cfg.app_cpus : range(cfg.cpus);
  // The default frame is the smallest the flows' headers allow (64 for IPv4, as pktgen's).
  if (!given('pkt_size') && cfg.pcap === '')
    cfg.pkt_size = pktSizeMin(cfg.ip, cfg.proto, given('tcp_timestamps') && cfg.tcp_timestamps).size;
  if (!given('tcp_timestamps') && cfg.pcap === '')
    cfg.tcp_timestamps = cfg.proto !== 'udp' && cfg.pkt_size >= pktSizeMin(cfg.ip, 'tcp', true).size;
  cfg.host_cpus = given('host_cpus') ? cfg.host_cpus : [];
  const reta = given('rss_reta') ? cfg.rss_reta : range(q);
  cfg.rss_reta = range(RSS_RETA_SIZE).map((i) => reta[i % reta.length]);
  checkCrossFields(cfg, io);
  const schedule = (given('knob_at') ? cfg.knob_at : []) as unknown as KnobChangeGiven[];
  cfg.knob_at = resolveSchedule(raw, schedule, io);
  checkScheduleEnds(cfg);
  io.checkSharedMemory(cfg);
  if (cfg.xdp !== '') checkXdpAttach(cfg); // ip link set ... xdp: what the driver refuses (virtnet_xdp_set)
  return cfg;
}

/** What the generator draws and a replay takes from its capture instead. */
const GENERATOR_KNOBS: readonly KnobKey[] = ['flows', 'pkt_size', 'proto', 'ip', 'flow_dist', 'zipf_s', 'bad_csum_rate', 'tcp_timestamps'];

/**
 * --pcap: the capture decides the flows (its one-way 5-tuples), the frame size (its longest
 * frame: buffers are sized for it) and, unless --packets or --duration says otherwise, the
 * packets (one pass). Read and checked here, before anything is allocated.
 */
function resolveReplay(cfg: Config, given: (k: KnobKey) => boolean, r: CaptureSummary): void {
  for (const k of GENERATOR_KNOBS) {
    if (given(k))
      throw new ConfigError(`${optionName(k)}: a replay (--pcap) sends the capture's frames and flows; leave ${optionName(k)} out`);
  }
  const max = nicModel(cfg.nic).pkt_size_max - 4;
  if (r.max_len > max) {
    throw new ConfigError(
      `--pcap ${clipPath(cfg.pcap)}: a frame of ${r.max_len} bytes is longer than --nic ${cfg.nic} takes (${max}, FCS excluded); ` +
        'capture with GRO, LRO, TSO and GSO off (ethtool -K), or use --nic virtio',
    );
  }
  if (cfg.pcap_timing && !r.timed) {
    throw new ConfigError(
      `--pcap-timing: ${clipPath(cfg.pcap)} has Simple Packet Blocks, which carry no timestamp; replay it at --rate instead`,
    );
  }
  if (cfg.pcap_timing && given('rate'))
    throw new ConfigError('--pcap-timing: the capture sets the timing; give --rate or --pcap-timing, not both');
  cfg.flows = r.flows;
  cfg.pkt_size = r.max_len + 4;
  cfg.tcp_timestamps = false;
  if (!given('packets') && !given('duration_s')) cfg.packets = r.frames;
}

/**
 * Each scheduled change is checked as a whole configuration with that knob changed (so a
 * mask naming a missing CPU is caught here, before anything starts) and stored resolved.
 */
function resolveSchedule(raw: RawSettings, items: KnobChangeGiven[], io: ConfigIo): KnobChange[] {
  const out: KnobChange[] = [];
  const base = new Map(raw);
  base.delete('knob_at');
  for (const item of items) {
    const changed = new Map(base);
    changed.set(item.key, item.raw);
    try {
      out.push({ at_ms: item.at_ms, key: item.key, value: resolveSettings(changed, io)[item.key] });
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      const value = clip(typeof item.raw === 'string' ? item.raw : (JSON.stringify(item.raw) ?? ''), 24);
      throw new ConfigError(`--knob-at ${item.at_ms}:${item.key.replace(/_/g, '-')}=${value}: ${e.message}`);
    }
  }
  return out.sort((a, b) => a.at_ms - b.at_ms);
}

/** How long generation lasts when that is known before the run (ms), or undefined. */
export function knownRunLengthMs(cfg: Config): number | undefined {
  if (cfg.duration_s > 0) return cfg.duration_s * 1000;
  if (cfg.rate > 0) return (cfg.packets / cfg.rate) * 1000;
  return undefined;
}

/**
 * A change no run could reach is an error. When the length is known up front (--duration,
 * --rate N) that is the length; otherwise (--rate max) it is the longest any run of --packets
 * can last: the watchdog ends a run in which no packet moved for --watchdog-s, so each packet
 * comes within that of the one before (a change later than that may still never apply, said
 * after the run).
 */
function checkScheduleEnds(cfg: Config): void {
  const end = knownRunLengthMs(cfg);
  if (end === undefined) {
    const longest = cfg.packets * cfg.watchdog_s * 1000;
    const never = cfg.knob_at.find((k) => k.at_ms > longest);
    if (never === undefined) return;
    throw new ConfigError(
      `--knob-at: a change at ${never.at_ms} ms (${never.key.replace(/_/g, '-')}) comes after any possible end of traffic ` +
        `(${cfg.packets} packets, each within --watchdog-s ${cfg.watchdog_s} of the last: ${longest} ms); it would never apply`,
    );
  }
  const late = cfg.knob_at.find((k) => k.at_ms > end);
  if (late === undefined) return;
  const length = cfg.duration_s > 0 ? `--duration ${cfg.duration_s}` : `--packets ${cfg.packets} at --rate ${cfg.rate}`;
  throw new ConfigError(
    `--knob-at: a change at ${late.at_ms} ms (${late.key.replace(/_/g, '-')}) comes after the end of traffic at ${+end.toFixed(3)} ms (${length}); it would never apply`,
  );
}

function checkCpu(key: string, cpu: number, cpus: number): void {
  if (cpu >= cpus) throw new ConfigError(`${optionName(key)}: CPU ${cpu} does not exist with --cpus ${cpus}`);
}

const fmtInt = (n: number) => Math.floor(n).toLocaleString('en-US');

function checkCrossFields(cfg: Config, io: ConfigIo): void {
  // The frame, ring and queue limits of the NIC model (config/nics.ts).
  const nicLimit = nicModel(cfg.nic).check(cfg);
  if (nicLimit !== undefined) throw new ConfigError(nicLimit);
  for (const cpu of cfg.irq_affinity) checkCpu('irq_affinity', cpu, cfg.cpus);
  for (const cpu of cfg.app_cpus) checkCpu('app_cpus', cpu, cfg.cpus);
  for (const mask of [...cfg.rps_cpus, cfg.flow_limit_cpu_bitmap]) {
    for (const cpu of maskToCpus(mask)) {
      if (cpu >= cfg.cpus) {
        const key = mask === cfg.flow_limit_cpu_bitmap ? 'flow_limit_cpu_bitmap' : 'rps_cpus';
        throw new ConfigError(`${optionName(key)}: mask ${clip(mask, 40)} names CPU ${cpu}, which does not exist with --cpus ${cfg.cpus}`);
      }
    }
  }
  for (const queue of cfg.rss_reta) {
    if (queue >= cfg.queues) throw new ConfigError(`--rss-reta: queue ${queue} does not exist with --queues ${cfg.queues}`);
  }
  if (cfg.app_cpus.length === 0) throw new ConfigError('--app-cpus: at least one application CPU is needed');
  const tsMin = pktSizeMin(cfg.ip, 'tcp', true).size;
  if (cfg.tcp_timestamps && cfg.proto !== 'udp' && cfg.pkt_size < tsMin)
    throw new ConfigError(
      `--tcp-timestamps: on needs --pkt-size ${tsMin} or more (headers, the 12-byte option, the 4-byte packet index and the FCS); got ${cfg.pkt_size}`,
    );
  const min = pktSizeMin(cfg.ip, cfg.proto, cfg.tcp_timestamps);
  if (cfg.pcap === '' && cfg.pkt_size < min.size)
    throw new ConfigError(`--pkt-size: ${cfg.pkt_size} is too small; ${min.what} need ${min.size} bytes or more`);
  if (cfg.cost_model !== '' && cfg.mode !== 'sim')
    throw new ConfigError('--cost-model: a cost model is for --mode sim (threads mode runs in wall time)');
  if (cfg.host_cpus.length > 0) {
    if (cfg.mode === 'sim') throw new ConfigError('--host-cpus: pins threads, and --mode sim runs in one thread');
    if (cfg.host_cpus.length !== cfg.cpus + 1) {
      throw new ConfigError(
        `--host-cpus: ${cfg.host_cpus.length} cores given; expected ${cfg.cpus + 1}, one per emulated CPU (--cpus ${cfg.cpus}), then the device's`,
      );
    }
  }
  if (cfg.device === 'inline') {
    const why =
      cfg.mode === 'sim'
        ? 'sim mode has no device thread (its device runs in virtual time)'
        : nicModel(cfg.nic).rx_queue === 'virtqueue'
          ? `--nic ${cfg.nic}: QEMU's receive side runs in QEMU's own thread`
          : cfg.rate !== 0 || cfg.pcap_timing
            ? 'an inline device runs closed loop (--rate max, no --pcap-timing): arrivals on a schedule need the device thread'
            : '';
    if (why !== '') throw new ConfigError(`--device: inline is not possible here: ${why}`);
  }
  // A replay's frames vary in size: its line rate is counted at their mean.
  const line = lineRatePps(cfg.pcap === '' ? cfg : { link_speed: cfg.link_speed, pkt_size: io.capture(cfg.pcap).wire_bytes_mean });
  if (cfg.rate > 0 && line > 0 && cfg.rate > line) {
    throw new ConfigError(
      `--rate: ${cfg.rate} packets/s is above the line rate, ${fmtInt(line)} packets/s of ${cfg.pkt_size}-byte frames at --link-speed ${cfg.link_speed} Mbit/s; ` +
        `give a lower rate, max, or --link-speed 0 for an unlimited wire`,
    );
  }
  if (cfg.rate === 0 && cfg.duration_s === 0 && cfg.packets > 1e10) {
    throw new ConfigError('--packets: more than 1e10 packets at --rate max would not finish; give --duration');
  }
}

/** The config as the run contract prints it: every effective knob, snake_case JSON keys. */
export function configForReport(cfg: Config): Record<string, unknown> {
  return { ...cfg, rate: cfg.rate === 0 ? 'max' : cfg.rate };
}
