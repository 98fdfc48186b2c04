// Reading a settings file a user names (--config, sweep --file, --cost-model) under the input
// rules of files.ts; config/json_file.ts parses the text it read (one line on a mistake,
// naming the option and the file).

import { isYamlFile, parseJsonText, parseYamlText } from '../config/json_file.js';
import { named, readInputText } from './files.js';

/** The contents of a settings file, YAML or JSON by its name, or a ConfigError "`option` `file`: ...". */
export function readSettingsFile(option: string, file: string): unknown {
  if (!isYamlFile(file)) return readJsonFile(option, file);
  return parseYamlText(named(option, file), readInputText(option, file, 'yaml'));
}

/** The parsed contents of JSON `file`, or a ConfigError "`option` `file`: ...". */
export function readJsonFile(option: string, file: string): unknown {
  return parseJsonText(named(option, file), readInputText(option, file, 'settings'));
}
