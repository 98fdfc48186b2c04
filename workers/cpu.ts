// Worker entry: one emulated CPU. See src/cpu/runtime.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { answerRun, cpu_worker_main } from '../src/cpu/worker_main.js';
import type { CpuWorkerApi, WorkerInit } from '../src/cpu/messages.js';

const api: CpuWorkerApi = cpu_worker_main(workerData as WorkerInit);
answerRun(parentPort, api);
