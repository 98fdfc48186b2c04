// The one error a BPF object can raise while it is read, checked or given its maps' contents:
// one line that says what is wrong with the object (the CLI prefixes `--xdp FILE:` and exits 2
// before any worker starts). Where the kernel's verifier or libbpf would refuse the same
// object, the message says what they would have said, in words.

export class BpfLoadError extends Error {
  override name = 'BpfLoadError';
}

/** Throw a BpfLoadError unless `ok`. */
export function loadCheck(ok: boolean, message: () => string): asserts ok {
  if (!ok) throw new BpfLoadError(message());
}
