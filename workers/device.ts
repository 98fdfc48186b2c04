// Worker entry: the NIC and the traffic generator (the hardware side). See src/devices/.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { Shm } from '../src/shm/memory.js';
import { TrafficGenerator } from '../src/devices/generator.js';
import { FlowFrames } from '../src/devices/frames.js';
import { DEVICE_SPIN_LOADS } from '../src/devices/nic.js';
import { busyThreads, spinLoads } from '../src/host/host.js';
import type { DeviceWorkerApi, WorkerInit } from '../src/cpu/messages.js';
import { answerRun, pinWorker, threadResult, watchGc } from '../src/cpu/worker_main.js';

const init = workerData as WorkerInit;
pinWorker(init);
const shm = Shm.attach(init.cfg, init.sab);
const origin = performance.timeOrigin - init.origin_ms;
// This thread and the emulated CPUs' may outnumber the host's cores: then the wire polls RDT briefly.
const spin = spinLoads(busyThreads(shm.cfg.cpus), DEVICE_SPIN_LOADS);
const gen = new TrafficGenerator(shm, () => (performance.now() + origin) * 1e6, init.frames && FlowFrames.attach(init.frames), spin);
const gc = watchGc();
const api: DeviceWorkerApi = {
  run: () => threadResult('device', () => gen.run(), gen.window, gc, init.profile),
};
answerRun(parentPort, api);
