// The host machine, as far as waiting is concerned. A thread that waits for another may poll
// shared memory for a while before it sleeps on a futex, but only while every emulator
// thread has a core of its own: oversubscribed, a spinning thread takes the core that the
// thread it waits for needs, so polls are kept short.
//
// Waking a futex sleeper is the other cost. On the 2-core VMs this project is measured on,
// Atomics.notify costs the waker 10 to 60 µs when it really wakes a thread (the host has to
// interrupt the sleeper's core), against 1 or 2 µs for an IPI on real hardware. So a waiter
// that can tolerate a little lateness may nap instead (the closed-loop wire does, see
// devices/nic.ts): short timed sleeps that nobody has to cut short. The waker only stores to
// shared memory; the napper sees it when its nap ends.

import { closeSync, openSync, readFileSync, readSync, readlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { ConfigError, type Config } from '../config/schema.js';
import { nicModel } from '../config/nics.js';

/**
 * The host's cores as this thread found them when this module loaded: in a worker, before
 * --host-cpus pinned it (availableParallelism() counts the calling thread's affinity, so a
 * pinned thread would see one core).
 */
export const HOST_CORES = availableParallelism();

/**
 * Atomics.load iterations to poll before sleeping (~10 ns each): `long` while `threads`
 * (the emulator threads that may spin) fit the host's cores, a twentieth of it otherwise.
 */
export function spinLoads(threads: number, long: number): number {
  return threads <= HOST_CORES ? long : Math.max(64, Math.floor(long / 20));
}

/**
 * Threads mode: does the device run inline, on the CPU of queue 0's interrupt, rather than on
 * a thread of its own? `--device auto` says inline where a third busy thread would not have a
 * core (fewer cores than CPUs + 1) and the device can run inline (ixgbe or legacy, closed
 * loop, not timed by a capture). resolveConfig refuses an explicit inline it cannot run.
 */
export function deviceInline(cfg: Pick<Config, 'mode' | 'device' | 'nic' | 'rate' | 'pcap_timing' | 'cpus'>): boolean {
  if (cfg.mode === 'sim' || cfg.device === 'thread') return false;
  if (cfg.device === 'inline') return true;
  return nicModel(cfg.nic).rx_queue !== 'virtqueue' && cfg.rate === 0 && !cfg.pcap_timing && HOST_CORES < cfg.cpus + 1;
}

/** The emulator's threads that may all want a core at once: each emulated CPU, and the device unless it runs inline. */
export function busyThreads(cpus: number, inline = false): number {
  return inline ? cpus : cpus + 1;
}

/** Do the emulator's busy threads outnumber the host's cores? */
export function oversubscribed(cpus: number, inline = false): boolean {
  return busyThreads(cpus, inline) > HOST_CORES;
}

/** What the host gave one emulator thread: CPU time and context switches (Linux /proc). */
export interface ThreadTimes {
  cpu_s: number;
  /** The thread blocked (futex sleeps, naps). */
  voluntary_switches: number;
  /** The host took the core from the thread while it had work: the emulated CPU stood still. */
  involuntary_switches: number;
  /** The host cores the thread may run on (Cpus_allowed_list): one core when --host-cpus pinned it. */
  cpus_allowed: string;
  /** Wall time covered (s). */
  wall_s: number;
  /**
   * Time the thread was runnable but waiting for a core (s): the run-queue wait of
   * /proc/thread-self/schedstat (its second field, ns); null where the kernel does not say.
   */
  runqueue_wait_s: number | null;
}

/** USER_HZ: /proc reports thread times in 1/100 s on every Linux architecture Node runs on. */
const USER_HZ = 100;

/** This thread's times so far, from /proc/thread-self; null where there is no such file. */
export function threadTimes(): ThreadTimes | null {
  let stat: string;
  let status: string;
  const wall_s = performance.now() / 1000;
  try {
    stat = readFileSync('/proc/thread-self/stat', 'utf8');
    status = readFileSync('/proc/thread-self/status', 'utf8');
  } catch {
    return null;
  }
  let runqueue_wait_s: number | null = null;
  try {
    // schedstat: ns on a core, ns waiting on a run queue, timeslices (CONFIG_SCHED_INFO).
    const wait_ns = Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]);
    if (Number.isFinite(wait_ns)) runqueue_wait_s = wait_ns / 1e9;
  } catch {
    // no schedstat: the measure is unknown, not zero
  }
  // Fields after "(comm) ": state is field 3, utime 14 and stime 15 (proc(5)).
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  const t = {
    cpu_s: (Number(f[11]) + Number(f[12])) / USER_HZ,
    voluntary_switches: field('voluntary_ctxt_switches'),
    involuntary_switches: field('nonvoluntary_ctxt_switches'),
    cpus_allowed: cpusAllowed(status),
    wall_s,
    runqueue_wait_s,
  };
  // A procfs that reads but does not parse (a sandbox's, say) reports nothing, not NaN.
  return Number.isFinite(t.cpu_s) && Number.isFinite(t.voluntary_switches) && Number.isFinite(t.involuntary_switches) ? t : null;
}

/** The times between `start` (threadTimes() earlier in this thread) and now. */
export function threadTimesSince(start: ThreadTimes | null): ThreadTimes | null {
  const now = threadTimes();
  if (start === null || now === null) return null;
  return {
    cpu_s: Math.round((now.cpu_s - start.cpu_s) * 100) / 100,
    voluntary_switches: now.voluntary_switches - start.voluntary_switches,
    involuntary_switches: now.involuntary_switches - start.involuntary_switches,
    cpus_allowed: now.cpus_allowed,
    wall_s: Math.round((now.wall_s - start.wall_s) * 1e6) / 1e6,
    runqueue_wait_s:
      now.runqueue_wait_s === null || start.runqueue_wait_s === null
        ? null
        : Math.round((now.runqueue_wait_s - start.runqueue_wait_s) * 1e6) / 1e6,
  };
}

// --host-cpus: each emulator thread pinned to a host core, as one pins a VM's vCPUs. On a
// host with fewer cores than busy threads this decides who shares a core with whom, instead
// of the host's scheduler moving threads at every wake-up. Linux only, through taskset(1)
// (util-linux) on the thread's own id: Node has no sched_setaffinity of its own.

/** The host core --host-cpus gives emulated CPU `cpu` (the device: cpu -1), or -1 for none. */
export function hostCoreOf(cfg: Config, cpu: number): number {
  return cfg.host_cpus?.[cpu >= 0 ? cpu : cfg.cpus] ?? -1;
}

/** A /proc status file's Cpus_allowed_list: the cores the task may run on, as a cpulist. */
function cpusAllowed(status: string): string {
  return /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1] ?? '';
}

/** The host cores this thread may run on, in order ("0-2,5" → [0, 1, 2, 5]); [] off Linux. */
export function allowedCores(): number[] {
  let list: string;
  try {
    list = cpusAllowed(readFileSync('/proc/thread-self/status', 'utf8'));
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || !Number.isInteger(a)) continue;
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

/**
 * Can this host pin the threads as --host-cpus asks? Checked by the coordinator before any
 * worker starts, by doing it: `taskset -c CORE true` for each core named. That catches what a
 * list could not: no taskset, a core that does not exist or is offline, a sandbox that
 * forbids changing affinity; each becomes a ConfigError that says which.
 */
export function checkHostCpus(cfg: Config): void {
  const cores = [...new Set(cfg.host_cpus ?? [])];
  if (cores.length === 0) return;
  if (process.platform !== 'linux') throw new ConfigError(`--host-cpus: pinning threads needs Linux (this is ${process.platform})`);
  for (const core of cores) {
    const r = spawnSync('taskset', ['-c', String(core), 'true'], { encoding: 'utf8' });
    if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      throw new ConfigError('--host-cpus: pinning threads needs taskset (util-linux), which is not on the PATH');
    }
    if (r.status !== 0) {
      const why = (r.stderr ?? '').trim().split('\n')[0] || r.error?.message || `exit status ${r.status}`;
      throw new ConfigError(`--host-cpus: cannot pin to host core ${core} (${why})`);
    }
  }
}

/** The calling thread's host thread id (from /proc/thread-self), or 0 off Linux. */
export function hostThreadId(): number {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop()) || 0;
  } catch {
    return 0;
  }
}

/** Pin the calling thread to one host core (its own thread id, from /proc/thread-self). */
export function pinThisThread(core: number): void {
  const tid = String(hostThreadId());
  const r = spawnSync('taskset', ['-p', '-c', String(core), tid], { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(`taskset could not pin thread ${tid} to host core ${core}: ${(r.stderr ?? '').trim() || r.error?.message}`);
}

const GONE = -2;

/**
 * Another thread's time so far, from /proc/self/task/TID/schedstat (sched_info,
 * CONFIG_SCHED_INFO): the ns it ran on a core and the ns it was runnable and had none (its
 * run_delay, which KVM reports to a guest as steal time: record_steal_time). The file stays
 * open and is read again from offset 0 each time, into a buffer allocated once (the
 * coordinator reads it on every timeline sample).
 */
export class SchedstatReader {
  private fd = -1;
  private readonly buf = new Uint8Array(96);

  constructor(private readonly tid: number) {}

  /** Into out[0] the ns on a core, out[1] the ns waited for one; false where the kernel does not say (no schedstat, thread gone). */
  read(out: Float64Array): boolean {
    if (this.fd === GONE || this.tid <= 0) return false;
    try {
      if (this.fd < 0) this.fd = openSync(`/proc/self/task/${this.tid}/schedstat`, 'r');
      const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
      // "<on cpu ns> <run_delay ns> <timeslices>\n", parsed without a string.
      let field = 0;
      let v = 0;
      for (let i = 0; i < n && field < 2; i++) {
        const ch = this.buf[i];
        if (ch === 32) {
          out[field++] = v;
          v = 0;
        } else v = v * 10 + (ch - 48);
      }
      return field === 2;
    } catch {
      this.close(); // not read again: each failed open would throw anew
      return false;
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = GONE;
  }
}
