// Parsing a JSON or YAML file a user names (--config, sweep --file, --cost-model): one line on
// a mistake, naming the option and the file, and never quoting the file's text (V8's
// JSON.parse messages do). No I/O here: the text is read by src/host/settings_file.ts under
// src/host/files.ts's rules (at most 4 MiB of JSON or 64 KiB of YAML, INPUT_BYTES_MAX; a
// regular file or a pipe; UTF-8 with or without a byte-order mark) and handed in with `at`,
// the option and the file as messages name them. A key given twice in one object is refused
// in both formats.
//
// YAML (a name ending .yaml or .yml) is read with the failsafe schema: every scalar is text,
// exactly as on the command line, so `rps_cpus: 10` is the hex mask 10 (as sysfs reads it) and
// `0x10` stays 0x10, where YAML's core schema would turn them into the numbers 10 and 16.
// The YAML library's own limit (100 alias expansions: an alias bomb) ends in one line too; flow
// collections nested deeper than 64 are refused before it parses (it is slow on them).

import { type Document, isScalar, parseDocument, visit } from 'yaml';
import { ConfigError } from './schema.js';

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

/** The deepest nesting of flow collections ([ and {) a YAML settings file may have. */
const YAML_FLOW_DEPTH_MAX = 64;

/**
 * How deep YAML `text` nests flow collections (quoted text and comments skipped), counted
 * before the library parses it: it takes seconds and hundreds of MB on 30,000 levels.
 */
function yamlFlowDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '[' || c === '{') deepest = Math.max(deepest, ++depth);
    else if (c === ']' || c === '}') depth = Math.max(0, depth - 1);
    else if (c === '"' || c === "'") {
      const q = c;
      for (i++; i < text.length && text[i] !== q; i++) if (q === '"' && text[i] === '\\') i++;
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]))) while (i < text.length && text[i] !== '\n') i++;
  }
  return deepest;
}

/** The offset of the first key given twice in one mapping of `doc`, or -1 (one pass, a set per mapping). */
function yamlDuplicateKeyAt(doc: Document): number {
  let at = -1;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue; // a complex key is compared by no one
        const k = String(pair.key.value);
        if (seen.has(k)) {
          at = pair.key.range?.[0] ?? 0;
          return visit.BREAK;
        }
        seen.add(k);
      }
      return undefined;
    },
  });
  return at;
}

/** The contents of a YAML settings file's `text`, or a ConfigError "`at`: ..." (`at` names the option and the file). */
export function parseYamlText(at: string, text: string): unknown {
  if (yamlFlowDepth(text) > YAML_FLOW_DEPTH_MAX) throw new ConfigError(`${at}: nested more than ${YAML_FLOW_DEPTH_MAX} deep`);
  try {
    // uniqueKeys off: the library compares every pair of keys (minutes on 100,000); checked below in one pass.
    const doc = parseDocument(text, { schema: 'failsafe', uniqueKeys: false });
    const err = doc.errors[0];
    if (err !== undefined) {
      const pos = err.linePos?.[0];
      throw new ConfigError(`${at}: not valid YAML (${pos ? `line ${pos.line}, column ${pos.col}` : 'see the file'})`);
    }
    const dup = yamlDuplicateKeyAt(doc);
    if (dup >= 0) throw new ConfigError(`${at}: a key given twice (${lineCol(text, dup)})`);
    return doc.toJS();
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    // The library's guards: "Excessive alias count" (a ReferenceError), or the stack.
    if (e instanceof Error && /alias/i.test(e.message)) throw new ConfigError(`${at}: too many YAML aliases (more than 100 expansions)`);
    if (e instanceof RangeError) throw new ConfigError(`${at}: nested too deeply`);
    throw e;
  }
}

/** The contents of a JSON file's `text`, or a ConfigError "`at`: ..." (`at` names the option and the file). */
export function parseJsonText(at: string, text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${at}: not valid JSON (${where(text, (e as Error).message)})`);
  }
  const dup = duplicateKeyAt(text);
  if (dup >= 0) throw new ConfigError(`${at}: a key given twice (${lineCol(text, dup)})`);
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
    const c = text[i];
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
