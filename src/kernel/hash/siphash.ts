// SipHash-2-4 lives in lib/ (src/lib/siphash.ts) since the virtio backend's multiqueue tap
// spread needs it too and devices/ may not import kernel/: one copy, re-exported here.
export * from '../../lib/siphash.js';
