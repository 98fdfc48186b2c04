// The one command-line tokenizer of every subcommand and the synopsis and --help they print,
// all driven by option tables whose types are the configuration schema's kinds
// (src/config/schema.ts); the commands themselves are one table (COMMANDS, cli/main.ts).
// node:util.parseArgs splits the words; the rules are here:
//   - a flag that takes a value and has none: "--cpus: expected a value (an integer from 1 to 64)"
//   - on/off flags alone mean on (`--gro`), `--gro off` and `--gro=off` work, `--no-gro` is off
//   - a single-valued flag given twice is an error naming both values; list flags add up
//   - an unknown flag or a stray word is one line naming it
// Every mistake is a ConfigError (one line, exit status 2) before anything starts.

import { parseArgs } from 'node:util';
import {
  clip,
  ConfigError,
  invalid,
  isDerived,
  KNOBS,
  onOff,
  optionName,
  parseKind,
  show,
  closest,
  didYouMean,
  GROUPS,
  type Derived,
  type Group,
  type Kind,
  type Knob,
  type KnobKey,
} from '../config/schema.js';

/** One option of a command: its flag (without dashes), its type, help and default. */
export interface OptionSpec<T = unknown> {
  readonly flag: string;
  readonly kind: Kind<T>;
  readonly help: string;
  /** The default, or words for one that depends on other options; undefined: none. */
  readonly default?: T | Derived;
  /** A one-letter alias (-h, -V). */
  readonly short?: string;
  /** A test-only switch: accepted, never listed in --help. */
  readonly hidden?: boolean;
  /** Its --help group (run's options; a command's own options have none). */
  readonly group?: Group;
  /** Shown without brackets in the synopsis (the command says so when it is missing). */
  readonly required?: boolean;
}

export const option = <T>(flag: string, kind: Kind<T>, help: string, dflt?: T | Derived, short?: string): OptionSpec<T> => ({
  flag,
  kind,
  help,
  ...(dflt === undefined ? {} : { default: dflt }),
  ...(short === undefined ? {} : { short }),
});

/** The run configuration's knobs as options of a command, in the schema's order. */
export function knobOptions(): OptionSpec[] {
  return (Object.keys(KNOBS) as KnobKey[]).map((k) => {
    const o: Knob<unknown> = KNOBS[k];
    const spec = { ...option(optionName(k).slice(2), o.kind as Kind<unknown>, o.help, o.default), group: o.group };
    return o.hidden ? { ...spec, hidden: true } : spec;
  });
}

/** The text each given option carried (lists joined), keyed by flag. */
export type Given = Map<string, string>;

/**
 * Split argv by the options' rules. Returns the text of each option given; values are checked
 * by the caller (optionValue, or the configuration's resolveConfig). Throws ConfigError.
 */
export function tokenize(command: string, specs: readonly OptionSpec[], argv: string[]): Given {
  const byFlag = new Map(specs.map((s) => [s.flag, s]));
  const byShort = new Map(specs.filter((s) => s.short !== undefined).map((s) => [s.short!, s]));
  const { tokens } = parseArgs({
    args: argv,
    options: Object.fromEntries(
      specs.map((s) => [s.flag, { type: s.kind.bare === undefined ? 'string' : 'boolean', ...(s.short ? { short: s.short } : {}) }]),
    ),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const given = new Map<string, string[]>();
  const consumed = new Set<number>();
  for (let t = 0; t < tokens.length; t++) {
    const tok = tokens[t];
    if (tok.kind === 'option-terminator') continue;
    if (tok.kind === 'positional') {
      if (consumed.has(t)) continue;
      const prev = tokens[t - 1];
      const after = prev?.kind === 'option' && prev.value === undefined ? (byFlag.get(prev.name) ?? byShort.get(prev.name)) : undefined;
      const hint =
        prev?.kind === 'option' && after?.kind.bare !== undefined && after.kind.expected !== ''
          ? ` after ${prev.rawName} (which takes ${after.kind.expected}, or nothing)`
          : '';
      throw new ConfigError(`unexpected argument '${clip(tok.value, hint === '' ? undefined : 40)}'${hint}; options start with --`);
    }
    const spec = byFlag.get(tok.name) ?? byShort.get(tok.name);
    const negates = spec === undefined && tok.name.startsWith('no-') ? byFlag.get(tok.name.slice(3)) : undefined;
    let text: string;
    if (spec !== undefined && spec.kind.bare !== undefined) {
      // An on/off option: a value inline, or the next word if it is one of its values (`--gro off`),
      // or alone (a stray word after it is then blamed on itself, not on the option).
      const next = tokens[t + 1];
      if (tok.value !== undefined) text = tok.value;
      else if (next?.kind === 'positional' && parseKind(spec.kind, next.value).ok) {
        text = next.value;
        consumed.add(t + 1);
      } else text = spec.kind.bare;
    } else if (spec !== undefined) {
      // A value option: parseArgs takes the next word even if it is the next flag; that is a missing value.
      if (tok.value === undefined || (!tok.inlineValue && tok.value.startsWith('--'))) {
        throw new ConfigError(`${clip(tok.rawName)}: expected a value (${spec.kind.expected})`);
      }
      text = tok.value;
    } else if (negates?.kind.negated !== undefined) {
      if (tok.value !== undefined)
        throw new ConfigError(`${clip(tok.rawName)} takes no value (it means --${negates.flag} ${negates.kind.negated})`);
      text = negates.kind.negated;
    } else {
      const near = closest(
        tok.name,
        specs.filter((x) => !x.hidden).map((x) => x.flag),
      );
      throw new ConfigError(
        `unknown option ${clip(tok.rawName)}${near.length ? `; ${didYouMean(near)}` : ''} (rxsmp ${command} --help${command === 'run' ? '-all' : ''} lists them)`,
      );
    }
    const s = (spec ?? negates)!;
    const before = given.get(s.flag);
    if (before === undefined) given.set(s.flag, [text]);
    else if (s.kind.list !== undefined) before.push(text);
    else throw new ConfigError(`--${s.flag} given twice: ${show(before[0])} and ${show(text)}; give it once`);
  }
  return new Map([...given].map(([flag, texts]) => [flag, texts.join(byFlag.get(flag)!.kind.list ?? '')]));
}

/** The checked value of an option that is not a configuration knob, or its default. */
export function optionValue<T>(spec: OptionSpec<T>, given: Given): T {
  const text = given.get(spec.flag);
  if (text === undefined) {
    if (spec.default === undefined || isDerived(spec.default))
      throw new Error(`--${spec.flag} has no plain default; read given.get() instead`);
    return spec.default;
  }
  const r = parseKind(spec.kind, text);
  if (!r.ok) throw invalid('--' + spec.flag, show(text), spec.kind, r.why);
  return r.value;
}

function showDefault(spec: OptionSpec): string {
  const d = spec.default;
  if (d === undefined) return '';
  if (isDerived(d)) return `default: ${d.derived}`;
  return `default: ${spec.kind.show ? spec.kind.show(d) : String(d)}`;
}

const isSwitch = (k: Kind<unknown>) => k.bare === 'on' && k.negated === 'off';
/** -h/--help, --help-all: a flag that prints and exits, not an option of the work. */
const isHelpFlag = (s: OptionSpec) => s.kind.bare !== undefined && s.kind.expected === '';

/** One row of the command table (cli/main.ts): what `rxsmp NAME` is, takes and runs. */
export interface Command {
  readonly name: string;
  /** What it does, in one line (`rxsmp --help`). */
  readonly summary: string;
  /** Words before the options in the synopsis (merge's and report's FILE...). */
  readonly operands?: string;
  /** Its own options: the tokenizer's table, the synopsis and --help come from them. */
  readonly options: readonly OptionSpec[];
  /**
   * It takes run's options (the configuration's knobs) too: 'grouped' mixes them into its own
   * options' groups in --help (run), else the words that introduce them there. Either way
   * the synopsis ends with them ([options]), and `commandOptions` gives the tokenizer both.
   */
  readonly runOptions?: string;
  /** --help's paragraph between the synopsis and the options. */
  readonly about: string;
  /**
   * Runs it on its arguments (after the command word) with the options its tokenizer takes
   * (commandOptions of this row); the exit status. --help never reaches it.
   */
  readonly main: (argv: string[], specs: readonly OptionSpec[]) => Promise<number>;
}

/**
 * A command's synopsis, from its options: each in brackets unless required, a repeatable one
 * marked so, an on/off option by the word that changes its default (`--no-shrink`).
 */
export function synopsis(c: Pick<Command, 'name' | 'operands' | 'options' | 'runOptions'>): string {
  const words = [`rxsmp ${c.name}`, ...(c.operands === undefined ? [] : [c.operands])];
  for (const s of c.options) {
    if (s.hidden || isHelpFlag(s)) continue;
    const k = s.kind;
    const word =
      isSwitch(k) && k.metavar === 'on|off'
        ? `--${s.default === true ? 'no-' : ''}${s.flag}`
        : `--${s.flag}${k.bare !== undefined ? `[=${k.metavar}]` : ` ${k.metavar}`}`;
    if (s.required) words.push(k.list !== undefined ? `${word} [--${s.flag} ...]` : word);
    else words.push(k.list !== undefined ? `[${word}]...` : `[${word}]`);
  }
  if (c.runOptions !== undefined) words.push(c.runOptions === 'grouped' ? '[options]' : '[options of run]');
  return words.join(' ');
}

/** Every option a command's tokenizer takes: its own, and run's when it takes them (run: the knobs first). */
export const commandOptions = (c: Pick<Command, 'options' | 'runOptions'>): OptionSpec[] =>
  c.runOptions === undefined
    ? [...c.options]
    : c.runOptions === 'grouped'
      ? [...knobOptions(), ...c.options]
      : [...c.options, ...knobOptions()];

/** A command's --help (`all`: --help-all, every one of run's options described), generated from its row. */
export function commandUsage(c: Command, all = false): string {
  const own = c.options.filter((s) => !s.hidden);
  const knobs = c.runOptions === undefined ? [] : knobOptions();
  const tables =
    c.runOptions === 'grouped'
      ? groupedHelp([...knobs, ...own], all)
      : optionsHelp(own) + (knobs.length > 0 ? `\n\n${c.runOptions}:\n${groupedHelp(knobs, false)}` : '');
  const switches = [...own, ...knobs].some((s) => isSwitch(s.kind)) ? `\n\n${SWITCHES_NOTE}` : '';
  return `usage: ${synopsis(c)}\n\n${c.about}\n\n${tables}${switches}\n\n${EXIT_CODES}`;
}

/**
 * --help for a command's options: flag and placeholder, what it does, then what it accepts
 * and its default. On/off options show only their default (SWITCHES_NOTE says how they read).
 */
export function optionsHelp(specs: readonly OptionSpec[]): string {
  const pad = 32;
  return specs
    .filter((s) => !s.hidden)
    .map((s) => {
      const k = s.kind;
      const head = `  ${s.short ? `-${s.short}, ` : ''}--${s.flag}${k.metavar === '' ? '' : k.bare !== undefined ? `[=${k.metavar}]` : ' ' + k.metavar}`;
      const first = head.length < pad ? head.padEnd(pad) + ' ' + s.help : head + '\n' + ' '.repeat(pad + 1) + s.help;
      const accepts =
        isSwitch(k) || k.expected === ''
          ? ''
          : k.bare !== undefined
            ? `${k.expected} (alone: ${k.bare}; --no-${s.flag}: ${k.negated})`
            : k.expected;
      const more = [accepts, showDefault(s)].filter((x) => x !== '').join('; ');
      return more === '' ? first : first + '\n' + ' '.repeat(pad + 1) + more;
    })
    .join('\n');
}

/**
 * --help for run's options by group (GROUPS' order): the common group described in full, the
 * others by name only, wrapped, unless `all` (--help-all) describes every one.
 */
export function groupedHelp(specs: readonly OptionSpec[], all: boolean): string {
  const out: string[] = [];
  for (const [g, title] of Object.entries(GROUPS) as [Group, string][]) {
    const mine = specs.filter((s) => s.group === g && !s.hidden);
    if (mine.length === 0) continue;
    if (all || g === 'common') {
      out.push(`${title}:`, optionsHelp(mine), '');
      continue;
    }
    const lines = [''];
    for (const f of mine.map((s) => `--${s.flag}`)) {
      if (lines.at(-1)!.length + f.length > 90) lines.push('');
      lines[lines.length - 1] += (lines.at(-1) === '' ? '' : ' ') + f;
    }
    out.push(`${title}:`, ...lines.map((l) => `  ${l}`));
  }
  if (!all) out.push('', "'rxsmp run --help-all' describes every option.");
  return out.join('\n').trimEnd();
}

export const SWITCHES_NOTE = 'On/off options ([=on|off]) alone mean on; --X off, --X=off and --no-X mean off.';

/** -h/--help: a flag alone, no value. */
export const HELP_OPTION = option(
  'help',
  { ...onOff(), metavar: '', expected: '', negated: undefined },
  'print this help and exit',
  undefined,
  'h',
);

/** Exit statuses, as every command's --help and docs/cli.md list them. */
export const EXIT_CODES = `exit status:
  0    ok
  1    a check failed (conservation, or --check-order found a flow out of order; fuzz: a failing run)
  2    usage: a bad option, value or file (one line on stderr; nothing ran)
  3    the watchdog fired (no packet moved for --watchdog-s)
  4    --queue: the campaign could not finish (Redis lost past --queue-retry-s, or a job failed on the workers)
  5    an assertion failed: a shared-memory protocol broke (one line on stderr: what, where, which side)
  130  interrupted (SIGINT), 143 terminated (SIGTERM)`;
