// Reading a JSON or YAML file a user names (--config, sweep --file, --cost-model): one line on
// a mistake, naming the option and the file, and never quoting the file's text (V8's
// JSON.parse messages do).
//
// YAML (a name ending .yaml or .yml) is read with the failsafe schema: every scalar is text,
// exactly as on the command line, so `rps_cpus: 10` is the hex mask 10 (as sysfs reads it) and
// `0x10` stays 0x10, where YAML's core schema would turn them into the numbers 10 and 16.

import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { ConfigError } from './schema.js';

/** Where in the text a JSON.parse error points, as "line L, column C", if it says. */
function where(text: string, message: string): string {
  if (/end of JSON input/i.test(message)) return 'it ends early';
  const m = /position (\d+)/.exec(message);
  if (!m) return 'see the file';
  const before = text.slice(0, Number(m[1]));
  const line = before.split('\n').length;
  return `line ${line}, column ${before.length - before.lastIndexOf('\n')}`;
}

function readText(option: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${option} ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'unknown error'})`);
  }
}

/** Is `file` YAML (by its name)? */
export const isYamlFile = (file: string): boolean => /\.ya?ml$/i.test(file);

/** The contents of a settings file, YAML or JSON by its name, or a ConfigError "`option` `file`: ...". */
export function readSettingsFile(option: string, file: string): unknown {
  if (!isYamlFile(file)) return readJsonFile(option, file);
  const text = readText(option, file);
  const doc = parseDocument(text, { schema: 'failsafe', uniqueKeys: true });
  const err = doc.errors[0];
  if (err !== undefined) {
    const at = err.linePos?.[0];
    const where = at ? `line ${at.line}, column ${at.col}` : 'see the file';
    const what = err.code === 'DUPLICATE_KEY' ? 'a key given twice' : 'not valid YAML';
    throw new ConfigError(`${option} ${file}: ${what} (${where})`);
  }
  return doc.toJS();
}

/** The parsed contents of `file`, or a ConfigError "`option` `file`: ...". */
export function readJsonFile(option: string, file: string): unknown {
  const text = readText(option, file);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${option} ${file}: not valid JSON (${where(text, (e as Error).message)})`);
  }
}
