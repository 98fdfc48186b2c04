// Boot: lay the emulated machine out in fresh shared memory before any thread starts, calling
// the kernel's own set-up in the order Linux runs it: net_dev_init, the driver's probe/open,
// the sockets, then the sysctl and sysfs writes of the configuration (kernel/knobs.ts, as each
// knob's schema entry declares them), which the control schedule (control.ts) makes again
// while traffic flows.

import { RSS_RETA_SIZE, type Config } from '../config/schema.js';
import { Shm } from '../shm/memory.js';
import { skb_pool_init } from '../shm/skb_pool.js';
import { net_dev_init } from '../kernel/dev.js';
import { sock_table_init } from '../kernel/sock.js';
import { knobs_boot } from '../kernel/knobs.js';
import { nicDriver } from '../drivers/table.js';
import { nicModel } from '../config/nics.js';
import { napi_timers_init } from '../kernel/napi_timer.js';
import { TapSpread } from '../devices/virtio_net_backend.js';
import { workqueue_init } from '../kernel/workqueue.js';
import { xdp_create } from '../kernel/xdp.js';
import { resolveXdp, xdpMapsFor } from '../host/xdp_object.js';
import { replayFrames, runFrames } from '../devices/generator.js';
import { loadReplay } from './capture.js';
import type { FlowFrames } from '../devices/frames.js';
import type { FlowTable } from '../devices/flows.js';
import { skbPoolSize } from './shm_size.js';

/** The run's flows and their frames: generated, or (--pcap) the capture's. Setup time. */
export function framesOf(cfg: Config): FlowFrames {
  return cfg.pcap !== '' ? replayFrames(loadReplay(cfg.pcap), cfg) : runFrames(cfg);
}

/** `frames`: the run's flows and frames when the caller built them already (framesOf). */
export function boot(cfg: Config, frames: FlowFrames = framesOf(cfg)): Shm {
  const shm = Shm.create(cfg, skbPoolSize(cfg));
  const layout = shm.layout;
  skb_pool_init(shm);
  net_dev_init(shm);
  shm.i32[shm.ctlI + layout.CTL.device_cpu] = -1; // a thread of its own, unless --device inline says otherwise
  workqueue_init(shm);
  nicDriver(cfg.nic).up(shm);
  const flows = frames.flows;
  sock_table_init(shm, flows, socketTasks(shm, flows, frames));
  cfg.app_cpus.forEach((cpu, t) => {
    shm.i32[shm.taskI[t] + layout.TASK.cpu] = cpu;
  });
  knobs_boot(shm); // the sysctl and sysfs writes of every knob with a slot (config/schema.ts)
  napi_timers_init(shm);
  // --xdp: the program, its maps filled from --xdp-map, its cpumaps' rings
  const x = resolveXdp(cfg);
  if (x !== undefined) shm.xdp = xdp_create(cfg, x, xdpMapsFor(x, cfg.cpus, cfg.seed));
  return shm;
}

/**
 * Which application task reads each flow's socket. `--app-placement rss` (the default): the
 * task on the CPU that takes the flow's RSS queue interrupt, when there is one (a server with
 * one worker per queue CPU); otherwise, and with `spread`, flows go round the tasks.
 */
function socketTasks(shm: Shm, flows: FlowTable, frames: FlowFrames): Int32Array {
  const cfg = shm.cfg;
  const tasks = cfg.app_cpus.length;
  const out = new Int32Array(flows.count);
  for (let s = 0; s < flows.count; s++) out[s] = s % tasks; // spread
  const steering = nicModel(cfg.nic).steering;
  if (cfg.app_placement === 'spread' || steering === 'none') return out;
  const tap = new TapSpread(cfg.seed, cfg.queues);
  const f = frames;
  for (let s = 0; s < flows.count; s++) {
    // The flow's queue: the NIC's RSS, or (virtio) the host's multiqueue tap spread.
    const queue = steering === 'tap' ? tap.select_queue(f.hdr, s * f.stride) : cfg.rss_reta[f.rss_hash[s] & (RSS_RETA_SIZE - 1)];
    const task = cfg.app_cpus.indexOf(cfg.irq_affinity[queue]);
    if (task >= 0) out[s] = task;
  }
  return out;
}
