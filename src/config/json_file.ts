// Reading a JSON or YAML file a user names (--config, sweep --file, --cost-model): one line on
// a mistake, naming the option and the file, and never quoting the file's text (V8's
// JSON.parse messages do). The file is read under src/host/files.ts's rules: at most 1 MiB
// (INPUT_BYTES_MAX.settings), a regular file or a pipe, UTF-8 with or without a byte-order
// mark. A key given twice in one object is refused in both formats.
//
// YAML (a name ending .yaml or .yml) is read with the failsafe schema: every scalar is text,
// exactly as on the command line, so `rps_cpus: 10` is the hex mask 10 (as sysfs reads it) and
// `0x10` stays 0x10, where YAML's core schema would turn them into the numbers 10 and 16.
// The YAML library's own limits (100 aliases: an alias bomb; nesting deeper than the stack)
// end in one line too.

import { parseDocument } from 'yaml';
import { ConfigError } from './schema.js';
import { named, readInputText } from '../host/files.js';

/** "line L, column C" of offset `at` in `text`. */
function lineCol(text: string, at: number): string {
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  return `line ${line}, column ${before.length - before.lastIndexOf('\n')}`;
}

/** Where in the text a JSON.parse error points, as "line L, column C", if it says. */
function where(text: string, message: string): string {
  if (/end of JSON input/i.test(message)) return 'it ends early';
  const m = /position (\d+)/.exec(message);
  return m ? lineCol(text, Number(m[1])) : 'see the file';
}

/** Is `file` YAML (by its name)? */
export const isYamlFile = (file: string): boolean => /\.ya?ml$/i.test(file);

/** The contents of a settings file, YAML or JSON by its name, or a ConfigError "`option` `file`: ...". */
export function readSettingsFile(option: string, file: string): unknown {
  if (!isYamlFile(file)) return readJsonFile(option, file);
  const text = readInputText(option, file, 'settings');
  const at = named(option, file);
  try {
    const doc = parseDocument(text, { schema: 'failsafe', uniqueKeys: true });
    const err = doc.errors[0];
    if (err !== undefined) {
      const pos = err.linePos?.[0];
      const where = pos ? `line ${pos.line}, column ${pos.col}` : 'see the file';
      const what = err.code === 'DUPLICATE_KEY' ? 'a key given twice' : 'not valid YAML';
      throw new ConfigError(`${at}: ${what} (${where})`);
    }
    return doc.toJS();
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    // The library's guards: "Excessive alias count" (a ReferenceError), or the stack.
    if (e instanceof Error && /alias/i.test(e.message)) throw new ConfigError(`${at}: too many YAML aliases (more than 100 expansions)`);
    if (e instanceof RangeError) throw new ConfigError(`${at}: nested too deeply`);
    throw e;
  }
}

/** The parsed contents of `file`, or a ConfigError "`option` `file`: ...". */
export function readJsonFile(option: string, file: string): unknown {
  const text = readInputText(option, file, 'settings');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${named(option, file)}: not valid JSON (${where(text, (e as Error).message)})`);
  }
  const dup = duplicateKeyAt(text);
  if (dup >= 0) throw new ConfigError(`${named(option, file)}: a key given twice (${lineCol(text, dup)})`);
  return value;
}

/**
 * Where the first key given twice in one object of valid JSON `text` starts, or -1. JSON.parse
 * keeps the last of them silently; YAML refuses them, and so does this, for both formats to
 * read alike. One pass, no recursion (an object's keys on a stack of sets).
 */
export function duplicateKeyAt(text: string): number {
  const open: (Set<string> | null)[] = []; // a set per enclosing object, null per array
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      const start = i;
      i++;
      while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      const keys = open[open.length - 1];
      if (keys) {
        let j = i;
        while (text[j] === ' ' || text[j] === '\t' || text[j] === '\n' || text[j] === '\r') j++;
        if (text[j] === ':') {
          const key = JSON.parse(text.slice(start, i)) as string;
          if (keys.has(key)) return start;
          keys.add(key);
        }
      }
      continue;
    }
    if (c === '{') open.push(new Set());
    else if (c === '[') open.push(null);
    else if (c === '}' || c === ']') open.pop();
    i++;
  }
  return -1;
}
