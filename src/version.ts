// The package's version, read once from package.json (--version, run documents' producers, queued jobs).
import { readFileSync } from 'node:fs';
import { PACKAGE_DIR } from './paths.js';

export const VERSION: string = (JSON.parse(readFileSync(new URL('package.json', PACKAGE_DIR), 'utf8')) as { version: string }).version;
