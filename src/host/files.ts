// Every file rxsmp reads or writes for a user, under one set of rules (docs/cli.md, "Files"):
//
// Reading. Each input has a bound that suits its kind (INPUT_BYTES_MAX): a JSON settings file
// (--config, --cost-model, sweep --file; a whole run document is one) 4 MiB, a YAML one 64 KiB
// (the YAML library takes some 10 µs and kilobytes per key), a document file (report's and
// merge's inputs, a sweep file read back) 256 MiB, a capture (--pcap) 2 GiB. A regular file is checked against
// the bound by its size before a byte is read, then read up to that size; a pipe (a FIFO,
// `--config <(...)`, /dev/stdin) is read up to the bound and refused past it. Character
// devices (/dev/zero, /dev/urandom, a terminal), directories and sockets are refused; a
// capture must be a regular file (each run of a sweep reads it again). Text is UTF-8, a
// leading byte-order mark dropped.
//
// Writing (as curl -o, rsync and tcpdump -w do it, with their care):
//   - a file is written to a temporary file in its own directory (".NAME.rxsmp-PID-N.tmp"),
//     flushed to disk (fsync) and renamed over NAME only when complete: a failed write
//     leaves the old file (or none), never a torn one, and no temporary file;
//   - a symbolic link as the last component of NAME is refused (the link's target is never
//     written), as is a directory;
//   - an existing file is replaced only with --force (or when it is the command's own, as
//     a sweep file that sweep appends to);
//   - a character device or a FIFO (/dev/null, /dev/full, a pipe) is written in place: there
//     is no file to replace;
//   - every error (ENOSPC, EIO, EACCES, EROFS, EPIPE on stdout) is one line naming the option,
//     the file and the error (OutputError, exit status 2); the run's result is still printed.
// Whether a file can be written is checked before any work (checkOutputFile, checkOutputDir):
// by creating and removing a temporary file where the output will go.

import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readlinkSync,
  readSync,
  renameSync,
  type Stats,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { getSystemErrorMap } from 'node:util';
import { threadId } from 'node:worker_threads';
import { clip, clipPath, ConfigError } from '../config/schema.js';

// ------------------------------------------------------------------------ errors

/** A file that could not be written: one line, exit status 2 (a ConfigError for every catch that prints one). */
export class OutputError extends ConfigError {
  override name = 'OutputError';
}

const ERRNO_TEXT = getSystemErrorMap();

/** "ENOSPC: no space left on device" from a system error (or the error's message). */
export function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.errno === 'number' && typeof err.code === 'string') {
    const known = ERRNO_TEXT.get(err.errno);
    if (known !== undefined) return `${known[0]}: ${known[1]}`;
  }
  if (typeof err?.code === 'string') return err.code;
  return e instanceof Error ? clip(e.message) : 'unknown error';
}

/** `option FILE` as a message names it (the file name clipped). */
export const named = (option: string, file: string): string => `${option} ${clipPath(file)}`;

// ------------------------------------------------------------------------ reading

export type InputKind = 'settings' | 'yaml' | 'documents' | 'capture' | 'bpf';

const MiB = 1 << 20;
/** The most bytes rxsmp reads from one input file of each kind. */
export const INPUT_BYTES_MAX: Record<InputKind, number> = {
  settings: 4 * MiB,
  yaml: 64 * 1024,
  documents: 256 * MiB,
  // Node reads at most 2 GiB - 1 at once; a replay's frames are copied to shared memory too.
  capture: 2 ** 31 - 1,
  // A BPF object (clang -target bpf -c): programs of at most a million instructions and their maps' BTF.
  bpf: 64 * MiB,
};

const KIND_TEXT: Record<InputKind, string> = {
  settings: 'a settings file',
  yaml: 'a YAML file',
  documents: 'a document file',
  capture: 'a capture',
  bpf: 'a BPF object',
};

const sizeText = (n: number) => (n >= MiB ? `${+(n / MiB).toFixed(1)} MiB` : n >= 1024 ? `${+(n / 1024).toFixed(1)} KiB` : `${n} bytes`);

function typeOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * The bytes of input `file` of `kind`, or a ConfigError "`option` FILE: ..." (cannot read it,
 * not a regular file, larger than the bound).
 */
export function readInput(option: string, file: string, kind: InputKind): Uint8Array {
  const where = named(option, file);
  const max = INPUT_BYTES_MAX[kind];
  let fd = -1;
  try {
    // What it is, before opening: a FIFO is opened as `cat` opens it (waiting for its writer;
    // opened without waiting, then closed, it would lose what the writer sent), anything but a
    // regular file or a FIFO is refused unopened (a terminal, a modem line).
    const st0 = statSync(file);
    const pipe = st0.isFIFO() && kind !== 'capture';
    if (!st0.isFile() && !pipe) {
      const why = kind === 'capture' && st0.isFIFO() ? 'a FIFO; a capture must be a regular file (each run reads it)' : typeOf(st0);
      throw new ConfigError(`${where}: cannot read it (${why})`);
    }
    fd = openSync(file, constants.O_RDONLY | constants.O_NOCTTY | (pipe ? 0 : constants.O_NONBLOCK));
    const st = fstatSync(fd);
    if (st.isFIFO() !== pipe || (!pipe && !st.isFile())) throw new ConfigError(`${where}: cannot read it (it changed as it was opened)`);
    if (st.size > max) throw new ConfigError(`${where}: ${sizeText(st.size)} is larger than ${KIND_TEXT[kind]} may be (${sizeText(max)})`);
    // A regular file is read to its end (its size, or more for a /proc file that says 0), never past the bound.
    return readUpTo(fd, st.isFile() ? st.size + 1 : 64 * 1024, where, max);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`${where}: cannot read it (${errnoText(e)})`);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** Read to the end, starting with a buffer of `first` bytes; more than `max` bytes is refused. */
function readUpTo(fd: number, first: number, where: string, max: number): Uint8Array {
  let buf = new Uint8Array(Math.max(1, Math.min(first, max + 1)));
  let n = 0;
  for (;;) {
    if (n === buf.length) {
      if (n > max) throw new ConfigError(`${where}: more than ${sizeText(max)}; larger than such files may be`);
      const bigger = new Uint8Array(Math.min(max + 1, buf.length * 2));
      bigger.set(buf);
      buf = bigger;
    }
    let got: number;
    try {
      got = readSync(fd, buf, n, buf.length - n, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      sleepMs(1);
      continue;
    }
    if (got === 0) break;
    n += got;
  }
  if (n > max) throw new ConfigError(`${where}: more than ${sizeText(max)}; larger than such files may be`);
  return buf.subarray(0, n);
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The text of input `file`: UTF-8, a byte-order mark dropped. Throws ConfigError. */
export function readInputText(option: string, file: string, kind: InputKind): string {
  const bytes = readInput(option, file, kind);
  try {
    return UTF8.decode(bytes).replace(/^\ufeff/, '');
  } catch {
    throw new ConfigError(`${named(option, file)}: not UTF-8 text`);
  }
}

const SLEEP = new Int32Array(new SharedArrayBuffer(4));
const sleepMs = (ms: number) => Atomics.wait(SLEEP, 0, 0, ms);

// ------------------------------------------------------------------------ writing

/** What an output's last component is now. */
type Target = 'none' | 'file' | 'device';

/**
 * What `file` is, or an OutputError for what rxsmp never writes: a symbolic link, a
 * directory, a socket or block device, and an existing file without `force`.
 */
function targetOf(option: string, file: string, force: boolean): Target {
  const where = named(option, file);
  let st: Stats | undefined;
  try {
    st = lstatSync(file, { throwIfNoEntry: false });
  } catch (e) {
    throw new OutputError(`${where}: cannot write it (${errnoText(e)})`);
  }
  if (st === undefined) return 'none';
  if (st.isSymbolicLink()) throw new OutputError(`${where}: is a symbolic link; rxsmp does not write through links (give the file itself)`);
  if (st.isDirectory()) throw new OutputError(`${where}: is a directory; give a file name`);
  if (st.isCharacterDevice() || st.isFIFO()) return 'device';
  if (!st.isFile()) throw new OutputError(`${where}: cannot write it (${typeOf(st)})`);
  if (!force) throw new OutputError(`${where}: exists; give --force to replace it`);
  return 'file';
}

let tmpSerial = 0;
/** Temporary files this thread has open, removed if the process exits before they are renamed. */
const pending = new Set<string>();
let exitHook = false;

/** A temporary name beside `file`: hidden, this process's and thread's, never an existing file. */
function tmpNameFor(file: string): string {
  const base = basename(file).slice(0, 100);
  return join(dirname(file), `.${base}.rxsmp-${process.pid}-${threadId}-${tmpSerial++}.tmp`);
}

function openTmp(file: string): { fd: number; tmp: string } {
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const t of pending) {
        try {
          unlinkSync(t);
        } catch {
          // gone already
        }
      }
    });
  }
  const tmp = tmpNameFor(file);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o666);
  pending.add(tmp);
  return { fd, tmp };
}

function dropTmp(fd: number | undefined, tmp: string): void {
  try {
    if (fd !== undefined) closeSync(fd);
  } catch {
    // the error that brought us here is the one to report
  }
  try {
    unlinkSync(tmp);
  } catch {
    // never created, or gone
  }
  pending.delete(tmp);
}

/** Write all of `data` at the file position, retrying partial writes (and EAGAIN on a pipe). */
function writeAll(fd: number, data: Uint8Array): void {
  let o = 0;
  while (o < data.length) {
    try {
      o += writeSync(fd, data, o, data.length - o);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      sleepMs(1);
    }
  }
}

const bytesOf = (data: string | Uint8Array) => (typeof data === 'string' ? Buffer.from(data, 'utf8') : data);

/**
 * Before any work: can `file` be written under the rules above? Its directory must exist and
 * take a new file (checked by creating and removing one). `regular`: a device or FIFO is
 * refused, for this reason (a file the command reads back). Throws OutputError.
 */
export function checkOutputFile(option: string, file: string, o: { force: boolean; regular?: string }): void {
  if (file === '') throw new OutputError(`${option}: give a file name`);
  const t = targetOf(option, file, o.force);
  const where = named(option, file);
  if (t === 'device' && o.regular !== undefined) throw new OutputError(`${where}: not a regular file; ${o.regular}`);
  if (t === 'device') {
    try {
      closeSync(openSync(file, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // A FIFO with no reader yet (ENXIO) will have one by the time it is written.
      if (code !== 'ENXIO') throw new OutputError(`${where}: cannot write it (${errnoText(e)})`);
    }
    return;
  }
  let tmp: { fd: number; tmp: string } | undefined;
  try {
    tmp = openTmp(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? `no directory ${clipPath(dirname(file))}`
        : code === 'ENOTDIR'
          ? `${clipPath(dirname(file))} is not a directory`
          : errnoText(e);
    throw new OutputError(`${where}: cannot write it (${why})`);
  }
  dropTmp(tmp.fd, tmp.tmp);
}

/**
 * Before any work: directory `dir` (made with its parents) takes the files `names` (paths
 * under it, e.g. net/softnet_stat), each checked as checkOutputFile does. Throws OutputError.
 */
export function checkOutputDir(option: string, dir: string, names: readonly string[], force: boolean): void {
  try {
    mkdirSync(dir, { recursive: true });
    for (const n of names) if (dirname(n) !== '.') mkdirSync(join(dir, dirname(n)), { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OutputError(
      `${named(option, dir)}: cannot write there (${code === 'EEXIST' || code === 'ENOTDIR' ? 'not a directory' : errnoText(e)})`,
    );
  }
  for (const n of names) checkOutputFile(option, join(dir, n), { force });
}

/**
 * Write `data` to `file` under the rules above (a temporary file renamed into place, or a
 * device written in place). `force`: an existing file is replaced (the caller checked the
 * rule before the work, or the file is its own). Throws OutputError; no temporary file is left.
 */
export function writeOutputFile(option: string, file: string, data: string | Uint8Array, force = true): void {
  const s = new OutputStream(option, file, force);
  s.write(bytesOf(data));
  s.close();
}

/**
 * An output written in pieces (the --tap capture as the run goes): the same rules as
 * writeOutputFile. The first failed write is kept; later writes are dropped, close() removes
 * the temporary file and throws it (the old file, if any, untouched).
 */
export class OutputStream {
  private fd: number | undefined;
  private readonly tmp: string | undefined;
  private readonly mode: number | undefined;
  private failure: OutputError | undefined;
  private closed = false;

  constructor(
    readonly option: string,
    readonly file: string,
    force = true,
  ) {
    const t = targetOf(option, file, force);
    try {
      if (t === 'device') {
        this.fd = openSync(file, constants.O_WRONLY | constants.O_NOCTTY);
        return;
      }
      this.mode = t === 'file' ? statSync(file).mode & 0o7777 : undefined;
      const { fd, tmp } = openTmp(file);
      this.fd = fd;
      this.tmp = tmp;
    } catch (e) {
      throw this.error(e);
    }
  }

  private error(e: unknown): OutputError {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? `no directory ${clipPath(dirname(this.file))}` : errnoText(e);
    const kept = this.tmp === undefined ? '' : this.mode !== undefined ? '; the old file is kept' : '; nothing written';
    return new OutputError(`${named(this.option, this.file)}: cannot write it (${why})${kept}`);
  }

  /** The first write error, if a write failed. */
  get failed(): OutputError | undefined {
    return this.failure;
  }

  /** Append `data`; false (and nothing written) once a write has failed. */
  write(data: Uint8Array): boolean {
    if (this.failure !== undefined || this.closed) return false;
    try {
      writeAll(this.fd!, data);
      return true;
    } catch (e) {
      this.failure = this.error(e);
      return false;
    }
  }

  /** Flush and put the file in place; throws the first failure (the temporary file removed). */
  close(): void {
    if (this.closed) {
      if (this.failure !== undefined) throw this.failure;
      return;
    }
    this.closed = true;
    const fd = this.fd!;
    this.fd = undefined;
    if (this.tmp === undefined) {
      try {
        closeSync(fd);
      } catch (e) {
        this.failure ??= this.error(e);
      }
      if (this.failure !== undefined) throw this.failure;
      return;
    }
    if (this.failure === undefined) {
      try {
        if (this.mode !== undefined) fchmodSync(fd, this.mode);
        fsyncSync(fd);
        closeSync(fd);
        renameSync(this.tmp, this.file);
        pending.delete(this.tmp);
        return;
      } catch (e) {
        this.failure = this.error(e);
        dropTmp(undefined, this.tmp);
        throw this.failure;
      }
    }
    dropTmp(fd, this.tmp);
    throw this.failure;
  }

  /** Give up: the temporary file removed, nothing put in place. */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.tmp !== undefined) dropTmp(this.fd, this.tmp);
    else if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * A command's own append-only file (sweep's JSON Lines, which a resumed sweep extends): opened
 * for appending, never through a link, created if absent. Each append is whole or not at all:
 * a failed one is cut off again (ftruncate), so the file never ends in a torn line. The first
 * failure is an OutputError, thrown again by every later append.
 */
export class AppendFile {
  private fd: number | undefined;
  private failure: OutputError | undefined;

  constructor(
    readonly option: string,
    readonly file: string,
  ) {
    try {
      this.fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o666);
    } catch (e) {
      throw this.error(e);
    }
  }

  private error(e: unknown): OutputError {
    return new OutputError(`${named(this.option, this.file)}: cannot write it (${errnoText(e)}); the lines written before are kept`);
  }

  append(text: string): void {
    if (this.failure !== undefined) throw this.failure;
    const fd = this.fd!;
    let size = 0;
    try {
      size = fstatSync(fd).size;
      writeAll(fd, bytesOf(text));
    } catch (e) {
      this.failure = this.error(e);
      try {
        ftruncateSync(fd, size);
      } catch {
        // the write's error is the one to report; a torn line is repaired when the sweep resumes
      }
      throw this.failure;
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      fsyncSync(fd);
      closeSync(fd);
    } catch (e) {
      this.failure ??= this.error(e);
      throw this.failure;
    }
  }
}

// ------------------------------------------------------------------------ outputs that fail late

/**
 * Output failures found after the work was done (a --tap that filled the disk, a profile a
 * worker could not write): the run's result is printed first, then each of these as one line,
 * and the exit status is 2. Per thread; the CLI takes them after printing the result.
 */
const late: OutputError[] = [];

export function deferOutputFailure(e: OutputError): void {
  late.push(e);
}

/** The failures deferred so far (and forget them). */
export function takeOutputFailures(): OutputError[] {
  return late.splice(0);
}

// ------------------------------------------------------------------------ stdout

let stdoutError: string | undefined;

/** What stdout is, for a message: its file (/dev/full) or pipe, when the system says. */
function stdoutName(): string {
  try {
    const t = readlinkSync('/proc/self/fd/1');
    return t.startsWith('/') ? ` (${clipPath(t)})` : t.startsWith('pipe:') ? ' (a pipe)' : '';
  } catch {
    return '';
  }
}

/**
 * Make a failed write to stdout (a full disk, a closed pipe: `rxsmp run | head -1`) one line
 * on stderr and exit status 2, not a stack trace; later writes to stdout are dropped. The
 * command goes on: the files it was asked to write are still written.
 */
export function guardStdout(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (stdoutError !== undefined) return;
    stdoutError = `rxsmp: stdout${stdoutName()}: cannot write (${errnoText(e)})`;
    process.stderr.write(stdoutError + '\n');
    process.exitCode = 2;
  });
}

/** Did a write to stdout fail? */
export const stdoutFailed = (): boolean => stdoutError !== undefined;
