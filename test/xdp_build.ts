// The test XDP programs, built with clang (src/engine/xdp_programs.ts: the fuzz campaign's XDP
// draws build them too). From the build, so tests and benches share one copy.

export { buildXdp, XDP_DIR, XDP_PROGRAMS } from '../dist/src/engine/xdp_programs.js';
