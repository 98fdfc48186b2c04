// The split virtqueue (shm/virtqueue.ts) between the guest's ring code (drivers/virtio_ring.ts)
// and QEMU's receive side (devices/virtio_net_backend.ts): many laps of a small ring (the u16
// indices wrap several times) with a seeded generator choosing who acts, and a verifier that
// checks the counts after every operation (ringbuf.js style).

import { describe, expect, it } from 'vitest';
import { boot } from '../dist/src/engine/boot.js';
import { config } from './harness.js';
import { Prng } from '../dist/src/lib/prng.js';
import { VirtioNetBackend } from '../dist/src/devices/virtio_net_backend.js';
import { vring_need_event } from '../dist/src/shm/virtqueue.js';
import {
  virtqueue_add_inbuf,
  virtqueue_disable_cb,
  virtqueue_enable_cb_prepare,
  virtqueue_get_buf,
  virtqueue_kick_prepare,
  virtqueue_num_free,
  virtqueue_poll,
  vring_out,
} from '../dist/src/drivers/virtio_ring.js';

const HDR = 12;

function machine(ring: number, event_idx: boolean) {
  const cfg = config({
    nic: 'virtio',
    'ring-size': ring,
    'unsafe-small-virtqueue': 'on',
    'virtio-event-idx': event_idx ? 'on' : 'off',
    'pkt-size': 64,
    flows: 1,
  });
  const shm = boot(cfg);
  const dev = new VirtioNetBackend(shm, cfg.pkt_size - 4);
  return { cfg, shm, dev };
}

describe('vring_need_event', () => {
  it('is true exactly when event_idx lies in [old, new) mod 2^16', () => {
    expect(vring_need_event(5, 6, 5)).toBe(true);
    expect(vring_need_event(5, 5, 4)).toBe(false);
    expect(vring_need_event(4, 6, 5)).toBe(false);
    expect(vring_need_event(0xffff, 1, 0xfffe)).toBe(true); // across the wrap
    expect(vring_need_event(0, 1, 0xffff)).toBe(true);
    expect(vring_need_event(1, 1, 0xffff)).toBe(false);
  });
});

describe('split virtqueue: seeded laps', () => {
  for (const [ring, event_idx, seed] of [
    [8, true, 1],
    [8, false, 2],
    [16, true, 3],
    [256, true, 4],
  ] as const) {
    it(`ring ${ring}, event_idx ${event_idx}: buffers come back in order, whole, counted`, () => {
      const { shm, dev } = machine(ring, event_idx);
      const p = new Prng(seed);
      const R = shm.layout.RXQ;
      const free: number[] = []; // slots the driver holds unposted
      let posted = ring; // virtnet_up filled the ring
      let sent = 0; // frames the device put in buffers
      let got = 0; // buffers the driver took back
      const u8 = shm.u8;
      const view = new DataView(shm.sab);
      const stage = dev.staging;
      const ops = ring === 256 ? 60_000 : 200_000;
      for (let k = 0; k < ops; k++) {
        const op = p.nextInt(4);
        if (op <= 1) {
          // The device: one frame stamped with its sequence number.
          view.setUint32(stage, sent, true);
          const took = dev.virtio_net_receive_rcu(0, 0);
          if (took !== 0) sent++;
          else if (posted !== sent) throw new Error(`op ${k}: no buffer taken with ${posted - sent} posted`);
        } else if (op === 2) {
          for (let n = 1 + p.nextInt(4); n > 0; n--) {
            const slot = virtqueue_get_buf(shm, 0);
            if (slot < 0) {
              if (got !== sent) throw new Error(`op ${k}: no used buffer with ${sent - got} used`);
              break;
            }
            if (vring_out[0] !== 60 + HDR) throw new Error(`op ${k}: used len ${vring_out[0]}`);
            if (view.getUint32(shm.skbData(slot), true) !== got)
              throw new Error(`op ${k}: buffer holds frame ${view.getUint32(shm.skbData(slot), true)}, expected ${got}`);
            if (u8[shm.skbData(slot) - HDR + 10] !== 1) throw new Error(`op ${k}: num_buffers ${u8[shm.skbData(slot) - HDR + 10]}`);
            got++;
            free.push(slot);
          }
        } else {
          while (free.length > 0 && virtqueue_num_free(shm, 0) > 0) {
            const slot = free.shift()!;
            virtqueue_add_inbuf(shm, 0, shm.skbData(slot) - HDR, 1536, slot);
            posted++;
          }
          virtqueue_kick_prepare(shm, 0, event_idx);
        }
        // After every operation: buffers are either posted (free descriptors count the rest),
        // used and not yet taken, or held by the driver.
        // (plain checks: an expect() per operation would dominate the test's time)
        if (virtqueue_num_free(shm, 0) !== ring - (posted - got))
          throw new Error(`op ${k}: num_free ${virtqueue_num_free(shm, 0)}, expected ${ring - (posted - got)}`);
        if (free.length + (posted - got) !== ring) throw new Error(`op ${k}: ${free.length} held + ${posted - got} posted != ${ring}`);
        if (sent < got || sent - got > ring) throw new Error(`op ${k}: ${sent - got} used and not taken`);
      }
      expect(sent).toBeGreaterThan(65536 * (ring === 256 ? 0 : 1)); // the u16 indices wrapped
      const qf = shm.rxqF[0];
      expect(shm.f64[qf + R.virtio_irq_raised] + shm.f64[qf + R.virtio_irq_suppressed]).toBe(sent);
    });
  }
});

describe('interrupt suppression', () => {
  for (const event_idx of [true, false]) {
    it(`event_idx ${event_idx}: one interrupt for a batch, none while callbacks are off, the recheck sees what came between`, () => {
      const { shm, dev } = machine(16, event_idx);
      const R = shm.layout.RXQ;
      const raised = () => shm.f64[shm.rxqF[0] + R.virtio_irq_raised];
      // Callbacks on (as at ifup): the first frame interrupts...
      dev.virtio_net_receive_rcu(0, 0);
      expect(raised()).toBe(1);
      // ... the guest took the interrupt and turned callbacks off (virtqueue_disable_cb):
      virtqueue_disable_cb(shm, 0, event_idx);
      dev.virtio_net_receive_rcu(0, 0);
      dev.virtio_net_receive_rcu(0, 0);
      expect(raised()).toBe(1);
      // NAPI takes all three and re-enables callbacks; a frame slips in before the recheck.
      for (let i = 0; i < 3; i++) expect(virtqueue_get_buf(shm, 0)).toBeGreaterThanOrEqual(0);
      const opaque = virtqueue_enable_cb_prepare(shm, 0, event_idx);
      expect(virtqueue_poll(shm, 0, opaque)).toBe(false);
      dev.virtio_net_receive_rcu(0, 0);
      expect(raised()).toBe(2); // used_event / NO_INTERRUPT cleared: it interrupts
      expect(virtqueue_poll(shm, 0, opaque)).toBe(true);
    });
  }
});
