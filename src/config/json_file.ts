// Reading a JSON file a user names (--config, --cost-model): one line on a mistake, naming
// the option and the file, and never quoting the file's text (V8's JSON.parse messages do).

import { readFileSync } from 'node:fs';
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

/** The parsed contents of `file`, or a ConfigError "`option` `file`: ...". */
export function readJsonFile(option: string, file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${option} ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'unknown error'})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${option} ${file}: not valid JSON (${where(text, (e as Error).message)})`);
  }
}
