// The run configuration. The schema (every knob, its type, default and help) is
// src/config/schema.ts; resolving settings into a checked Config is src/config/resolve.ts.
// This module gathers both for the rest of the code.

export * from './config/schema.js';
export * from './config/resolve.js';
export { readJsonFile, readSettingsFile } from './config/json_file.js';
