// Objects the hot path reads by field: the Config and the layout's index tables.
//
// V8 keeps an object's first properties inside the object ("in-object") when its constructor
// assigns them; an object built key by key from an empty literal keeps 4 there, puts the rest
// in a separate backing store (one more load per field), and past a few dozen keyed stores
// turns into a dictionary, where every field read in optimised code is a generic lookup call.
// resolveConfig builds the Config key by key (64 keys: a dictionary) and the layout builds its
// tables with Object.fromEntries (4 in-object fields; softnet_data has 60). Measured on the
// inline bench (docs/design.md, "Objects the hot path holds"): 31-34 ns a packet for the
// dictionary Config, 5 ns for the out-of-object index fields.
//
// fastObject copies such an object into one made by a constructor that assigns every key as
// `this.key = ...`: V8's slack tracking sizes the instances for all of them, in-object, and
// every object with the same keys in the same order shares one hidden class (the constructor is
// made once per key list), so code optimised for one run's Config still fits the next run's.

type Ctor = new (src: Record<string, unknown>) => Record<string, unknown>;

const ctors = new Map<string, Ctor>();
const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** A copy of `o` (own enumerable keys, same order) with every property in-object and one hidden class per key list. */
export function fastObject<T extends object>(o: T): T {
  const keys = Object.keys(o);
  const sig = keys.join(',');
  let C = ctors.get(sig);
  if (C === undefined) {
    for (const k of keys) if (!IDENT.test(k)) throw new Error(`fastObject: '${k}' is not an identifier`);
    C = new Function('o', keys.map((k) => `this.${k} = o.${k};`).join('\n')) as unknown as Ctor;
    ctors.set(sig, C);
  }
  return new C(o as Record<string, unknown>) as T;
}
