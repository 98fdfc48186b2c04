// Assertions at the shared-memory protocol boundaries (docs/design.md, "Assertions").
//
// A hand-off between two sides of shared memory (driver and device, a lock's holder and the
// next, the skb pool and its users, a backlog's list and its counter) is checked on both sides.
// The cheap checks (per burst, per lock, on a slow path) are always on; the per-packet ones run
// under --debug-asserts, read once at set-up into a boolean field of the object that checks.
//
// A failed assertion throws an AssertionFailure whose message is one line: "assertion: " and
// what broke, where (CPU, queue, index) and which side. The run ends as a failure: exit status
// 5 and that line on stderr (cli/tools.ts exitStatusOf), a failing verdict in the fuzz campaign.
// From a worker thread the error arrives as a plain Error (a class does not cross threads): the
// coordinator recognises the prefix (assertionOf).

export const ASSERTION_PREFIX = 'assertion: ';
/** The exit status of a run that failed an assertion (docs/cli.md, "Exit status"). */
export const EXIT_ASSERTION = 5;

export class AssertionFailure extends Error {
  override name = 'AssertionFailure';
  constructor(what: string) {
    super(what.startsWith(ASSERTION_PREFIX) ? what : ASSERTION_PREFIX + what);
  }
}

/** Throw the failure `what` (without the prefix). Called on the failing branch only. */
export function assertion_failed(what: string): never {
  throw new AssertionFailure(what);
}

/** An error that came from a worker (its run's failed reply) as an AssertionFailure, else null. */
export function assertionOf(e: unknown): AssertionFailure | null {
  if (e instanceof AssertionFailure) return e;
  const m = e instanceof Error ? e.message : typeof e === 'string' ? e : '';
  return m.startsWith(ASSERTION_PREFIX) ? new AssertionFailure(m.split('\n')[0]) : null;
}
