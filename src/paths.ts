// Where the built package's files are, from any module. Every entry point the build bundles
// (bin, workers, leaf benches: see package.json's `bundle`) sits one folder below dist/, as
// this file does (dist/src/paths.js), so `../` from here is dist/ whether this module is its
// own file or inlined into a bundle.

/** The build's root (dist/). */
export const DIST_DIR = new URL('../', import.meta.url);
/** The package's root (what holds package.json and src/). */
export const PACKAGE_DIR = new URL('../', DIST_DIR);
/** The worker entry points (dist/workers/). */
export const WORKERS_DIR = new URL('workers/', DIST_DIR);
