// Configurations that differ in named options: `knob=value` assignments (compare's --a/--b),
// `knob=v1,v2,...` axes (sweep's --set), their validation before anything runs, and the
// statistics compare and sweep print (medians, min..max, quartiles). Names are the run
// options' names, kebab or snake case (`rps-cpus`, `rps_cpus`, `duration` for duration_s).

import { knobNamed, type RawSettings } from '../config/resolve.js';
import { ConfigError, KNOBS, optionName, parseKnob, show, type Config, type KnobKey } from '../config/schema.js';
import { resolveConfig } from './configure.js';
import { loadCostModel } from '../cpu/cost_model.js';
import { checkHostCpus } from '../host/host.js';

/** One `knob=value`: the knob it names and the value's text as given. */
export interface Assignment {
  key: KnobKey;
  text: string;
}

/** `knob=value` (the value may contain '=' and ','): a ConfigError naming `option` if it is not one. */
export function parseAssignment(option: string, item: string, checkValue = true): Assignment {
  const eq = item.indexOf('=');
  if (eq <= 0 || eq === item.length - 1) throw new ConfigError(`${option}: ${show(item)} is not knob=value (e.g. rps-cpus=3)`);
  const name = item.slice(0, eq).trim();
  const key = knobNamed(name);
  if (key === undefined) throw new ConfigError(`${option}: ${show(name)} is not an option of rxsmp run (see rxsmp run --help)`);
  if (key === 'mode') throw new ConfigError(`${option}: --mode cannot differ between runs here; give it once for all`);
  const text = item.slice(eq + 1).trim();
  if (checkValue) parseKnob(key, text); // the value alone; across knobs it is checked with the rest
  return { key, text };
}

/** Settings as options given by name ({ 'stack-cost-ns': 2000, gro: false }), as the library takes them. */
export function settingsFromNamed(option: string, named: Readonly<Record<string, string | number | boolean>>): RawSettings {
  const raw: RawSettings = new Map();
  for (const [name, value] of Object.entries(named)) {
    const key = knobNamed(name);
    if (key === undefined) throw new ConfigError(`${option}: ${show(name)} is not an option of rxsmp run (see rxsmp run --help)`);
    raw.set(key, typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value));
  }
  return raw;
}

/**
 * The whole configuration of one variant: the base settings with the variant's on top, checked
 * as `rxsmp run` checks them (schema, cross-field rules, cost model file, host pinning). A
 * mistake names the variant (`--a rps-cpus=9: --rps-cpus: mask 9 names CPU 3, ...`).
 */
export function variantConfig(base: RawSettings, variant: readonly Assignment[], label: string): Config {
  const raw: RawSettings = new Map(base);
  // A list knob (--xdp-map) given twice in one variant adds up, as the flag repeated does for run.
  const seen = new Set<string>();
  for (const a of variant) {
    const list = KNOBS[a.key].kind.list;
    raw.set(a.key, list !== undefined && seen.has(a.key) ? `${String(raw.get(a.key))}${list}${a.text}` : a.text);
    seen.add(a.key);
  }
  try {
    const cfg = resolveConfig(raw);
    loadCostModel(cfg.cost_model);
    checkHostCpus(cfg);
    return cfg;
  } catch (e) {
    if (e instanceof ConfigError && label !== '') throw new ConfigError(`${label}: ${e.message}`);
    throw e;
  }
}

/** `rps-cpus=3 stack-cost-ns=2000`: a variant as the user would type it again. */
export function variantLabel(variant: readonly Assignment[]): string {
  return variant.length === 0 ? '(base)' : variant.map((a) => `${optionName(a.key).slice(2)}=${a.text}`).join(' ');
}

// ------------------------------------------------------------------------ statistics

/** Order statistics of a sample: median, min..max and the quartiles (the spread users read). */
export interface Spread {
  n: number;
  median: number;
  min: number;
  max: number;
  /** First and third quartiles (linear interpolation between order statistics, numpy's default). */
  q1: number;
  q3: number;
}

/** The q-quantile of sorted numbers, by linear interpolation (Hyndman and Fan type 7). */
function quantileSorted(s: readonly number[], q: number): number {
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (h - lo) * (s[hi] - s[lo]);
}

export function spread(xs: readonly number[]): Spread {
  if (xs.length === 0) return { n: 0, median: 0, min: 0, max: 0, q1: 0, q3: 0 };
  const s = [...xs].sort((a, b) => a - b);
  return {
    n: s.length,
    median: quantileSorted(s, 0.5),
    min: s[0],
    max: s[s.length - 1],
    q1: quantileSorted(s, 0.25),
    q3: quantileSorted(s, 0.75),
  };
}
