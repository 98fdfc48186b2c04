import { readFileSync } from 'node:fs';
import { it } from 'vitest';
import { readBpfObject } from '../src/bpf/object.js';
import { checkProgram } from '../src/bpf/check.js';
import { BpfMaps } from '../src/bpf/maps.js';
import { XdpEnv } from '../src/bpf/vm.js';
import { interpret } from '../src/bpf/interp.js';
import { translate, translateSource } from '../src/bpf/jit.js';
import { buildXdp, XDP_PROGRAMS } from './xdp_build.js';
import { makeFrames, BUF_SIZE, XDP_PACKET_HEADROOM } from './xdp_frames.js';

it('smoke', () => {
  const fr = makeFrames(20, 8, 1);
  for (const name of XDP_PROGRAMS) {
    const file = buildXdp(name);
    const obj = readBpfObject(readFileSync(file), file, 'xdp');
    const p = checkProgram(obj);
    console.log(name, obj.maps.map((m) => `${m.name}:${m.type}/${m.key_size}/${m.value_size}/${m.max_entries}`).join(' '), p.insns.length, p.backEdges);
    const maps = BpfMaps.create(obj.maps, 2, 1);
    const env = new XdpEnv(maps, 0);
    if (name === 'drop_port') console.log(translateSource(p, maps.layout));
    const run = translate(p, maps.layout);
    for (let i = 0; i < fr.count; i++) {
      env.setFrame(fr.mem, i * BUF_SIZE, i * BUF_SIZE + XDP_PACKET_HEADROOM, i * BUF_SIZE + XDP_PACKET_HEADROOM + fr.len[i]!, BUF_SIZE, 0);
      env.begin();
      const a = interpret(p, env);
      const fa = env.fault;
      env.begin();
      const b = run(env);
      if (a !== b || fa !== env.fault) console.log('MISMATCH', name, i, a, b, fa, env.fault);
    }
  }
});
