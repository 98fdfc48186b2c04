// The wire's line rate (--link-speed): one frame per (pkt_size + 20) * 8 bit times at most,
// closed or open loop, in both runtimes. Sim mode is deterministic, so its figure is exact;
// threads mode asserts only the bound (a busy host only ever makes a run slower).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Wire } from '../dist/src/devices/wire.js';
import { lineRatePps } from '../dist/src/config/schema.js';
import { runSim } from '../dist/src/engine/sim_run.js';
import { config } from './harness.js';
import { run } from './e2e.js';

// 10 GbE, 1518-byte frames: 10e9 / (1538 * 8) = 812,743.8 frames per second.
const LINE_1518 = 10e9 / ((1518 + 20) * 8);
/**
 * Threads mode: pps is delivered / elapsed_s, elapsed from the device's first frame (its clock)
 * to the coordinator seeing the drain (its clock): both are performance.now() moved to one
 * origin, whose conversion is good to about a microsecond. The wire hands over frame k no
 * earlier than (k + 1) frame times after the first, so pps can exceed the line rate only by
 * that clock error: 1e-5 of a run of 0.1 s or more is ten times it.
 */
const CLOCK_TOLERANCE = 1e-5;

describe('line rate', () => {
  it('lineRatePps is link_speed * 1e6 / ((pkt_size + 20) * 8), 0 for an unlimited wire', () => {
    expect(lineRatePps({ link_speed: 10_000, pkt_size: 1518 })).toBeCloseTo(812_743.8, 1);
    expect(lineRatePps({ link_speed: 10_000, pkt_size: 64 })).toBeCloseTo(14_880_952.4, 1);
    expect(lineRatePps({ link_speed: 0, pkt_size: 64 })).toBe(0);
    expect(config({}).link_speed).toBe(10_000);
    expect(config({ nic: 'legacy', queues: 1 }).link_speed).toBe(10_000);
  });

  it('the wire never brings more than one frame per frame time, however the device calls it (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 64, max: 1518 }),
        fc.constantFrom(100, 1000, 10_000, 40_000),
        fc.array(fc.tuple(fc.double({ min: 0, max: 50_000, noNaN: true }), fc.integer({ min: 0, max: 400 })), { maxLength: 200 }),
        (pkt, speed, calls) => {
          const w = new Wire(speed, pkt);
          const t0 = 1e6;
          w.start(t0);
          let t = t0;
          let taken = 0;
          for (const [dt, want] of calls) {
            t += dt;
            const avail = w.available(t, taken);
            expect(avail).toBeGreaterThanOrEqual(0);
            expect(avail).toBeLessThanOrEqual(w.buffer_frames);
            taken += Math.min(avail, want);
            // Every frame taken by t had finished arriving by t.
            expect(taken).toBeLessThanOrEqual(Math.floor((t - t0) / w.frame_ns + 1e-9));
            if (avail === 0) expect(w.next_ns()).toBeGreaterThan(t);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('sim: 1518-byte TCP at 10 GbE runs at the line rate (within 1%), never above it', async () => {
    const r = await runSim(config({ mode: 'sim', 'pkt-size': 1518, proto: 'tcp', packets: 300_000 }));
    expect(r.packets.delivered).toBe(300_000);
    expect(r.pps).toBeLessThanOrEqual(LINE_1518);
    expect(Math.abs(r.pps - LINE_1518) / LINE_1518).toBeLessThan(0.01);
  });

  it('sim: --link-speed 0 is an unlimited wire (the same run goes faster than 10 GbE allows)', async () => {
    const r = await runSim(config({ mode: 'sim', 'pkt-size': 1518, proto: 'tcp', packets: 100_000, 'link-speed': 0 }));
    expect(r.pps).toBeGreaterThan(LINE_1518 * 1.01);
  });

  it('sim: a slow link paces the closed loop at its line rate', async () => {
    const line = lineRatePps({ link_speed: 100, pkt_size: 64 });
    const r = await runSim(config({ mode: 'sim', 'link-speed': 100, packets: 20_000 }));
    expect(r.pps).toBeLessThanOrEqual(line);
    expect(Math.abs(r.pps - line) / line).toBeLessThan(0.01);
  });

  it('threads: 1518-byte TCP never exceeds the 10 GbE line rate', async () => {
    const r = await run({ 'pkt-size': 1518, proto: 'tcp', packets: 300_000 });
    expect(r.packets.delivered).toBe(300_000);
    expect(r.pps).toBeLessThanOrEqual(LINE_1518 * (1 + CLOCK_TOLERANCE));
  });

  it('threads: a 100 Mbit/s wire paces 64-byte frames at its line rate at most', async () => {
    const r = await run({ 'link-speed': 100, packets: 20_000 });
    expect(r.pps).toBeLessThanOrEqual(lineRatePps({ link_speed: 100, pkt_size: 64 }) * (1 + CLOCK_TOLERANCE));
  });
});
