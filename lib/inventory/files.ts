/**
 * How the offline readers read a folder of AWS CLI exports: text in the encodings a shell
 * redirect writes, JSON with the position of its first error, and every problem as the `unread`
 * source naming the file, fit for the person who exported it.
 */
import { lstat, readlink, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import { AuditorError } from '#lib/model/errors.ts';
import { unreadSource } from './failure.ts';
import type { Source, Unread } from './types.ts';

/** A file-level problem whose message is already fit for the reader; the file name is added by the caller. */
export class FileProblem extends AuditorError {
  constructor(
    message: string,
    readonly code: 'FileNotFound' | 'InvalidFile',
  ) {
    super(message);
  }
}

export function notFound(call: string, command: string): Unread {
  return unreadSource(call, `file not found (export it with: ${command} > ${call})`, 'FileNotFound');
}

export function invalid(call: string, error: unknown): Unread {
  const message = error instanceof Error ? error.message : String(error);
  // The normalizers already start their messages with the name we gave them.
  const reason = message.startsWith(call) ? message : `${call}: ${message}`;
  const code = error instanceof FileProblem ? error.code : 'InvalidFile';
  return unreadSource(call, reason, code);
}

/**
 * Why an entry that exists cannot be read as a file: a symbolic link whose target is missing, a
 * loop of links, a folder, a device or pipe, or no permission. Links are followed like any path.
 */
export async function unreadableEntry(absolute: string, error: unknown): Promise<FileProblem> {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    const target = await readlink(absolute).catch(() => null);
    if (target !== null) return new FileProblem(`is a symbolic link to ${target}, which does not exist`, 'InvalidFile');
  }
  if (code === 'ELOOP') return new FileProblem('is a loop of symbolic links', 'InvalidFile');
  if (code === 'EISDIR') return new FileProblem('is a folder, not a file', 'InvalidFile');
  return new FileProblem(`cannot be read: ${(error as Error).message}`, 'InvalidFile');
}

/** Reads a file as text, through symbolic links; `null` when nothing is there at all. */
export async function readText(absolute: string): Promise<string | null> {
  let buffer: Buffer;
  try {
    const info = await stat(absolute);
    if (info.isDirectory()) throw Object.assign(new Error('is a folder'), { code: 'EISDIR' });
    // A pipe or device would block or never end: only regular files are exports.
    if (!info.isFile()) throw new FileProblem('is not a regular file (a pipe, socket or device)', 'InvalidFile');
    buffer = await readFile(absolute);
  } catch (error) {
    if (error instanceof FileProblem) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && (await lstat(absolute).catch(() => null)) === null) return null;
    throw await unreadableEntry(absolute, error);
  }
  // Windows PowerShell 5 redirects (`>`) write UTF-16 with a byte order mark.
  if (buffer[0] === 0xff && buffer[1] === 0xfe) return buffer.subarray(2).toString('utf16le');
  if (buffer[0] === 0xfe && buffer[1] === 0xff) return Buffer.from(buffer.subarray(2)).swap16().toString('utf16le');
  const text = buffer.toString('utf8');
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}

/**
 * Where JSON text stops being valid, as an offset, or -1. Node 20's JSON.parse often omits the
 * position, and "line 412" is what lets someone fix a hand-edited export.
 */
function jsonErrorOffset(text: string): number {
  let i = 0;
  const stop = new Error();
  const fail = (): never => {
    throw stop;
  };
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const string = (): void => {
    i++;
    for (;;) {
      const c = text[i];
      if (c === undefined || c < ' ') fail();
      if (c === '"') {
        i++;
        return;
      }
      if (c === '\\') {
        const e = text[i + 1];
        if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else {
          i++;
          fail();
        }
      } else i++;
    }
  };
  const number = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (c === '{') {
          ws();
          if (text[i] !== '"') fail();
          string();
          ws();
          if (text[i] !== ':') fail();
          i++;
        }
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === close) {
          i++;
          return;
        } else fail();
      }
    }
    if (c === '"') {
      string();
      return;
    }
    number.lastIndex = i;
    if (number.test(text)) {
      i = number.lastIndex;
      return;
    }
    for (const literal of ['true', 'false', 'null']) {
      if (text.startsWith(literal, i)) {
        i += literal.length;
        return;
      }
    }
    fail();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return -1;
  } catch (error) {
    // Nesting deeper than the stack (`[[[[...`, thousands deep) overflows this recursive scan. The
    // position is only a hint: without it the reason still says "not valid JSON", where the
    // RangeError escaped as the file's reason ("Maximum call stack size exceeded").
    if (error instanceof RangeError) return -1;
    if (error !== stop) throw error;
    return i;
  }
}

export function parseJson(text: string): unknown {
  if (text.trim() === '') {
    throw new FileProblem('the file is empty (the export command probably failed: run it again and read its error)', 'InvalidFile');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const offset = jsonErrorOffset(text);
    const where =
      offset >= 0 ? ` at line ${text.slice(0, offset).split('\n').length}, column ${offset - text.lastIndexOf('\n', offset - 1)}` : '';
    // A CLI configured with `output = text` or `table` writes something that is not JSON at all.
    const hint = /^\s*[[{]/.test(text) ? '' : ' (export with --output json: the CLI may default to text or table)';
    throw new FileProblem(`not valid JSON${where}: ${(error as Error).message}${hint}`, 'InvalidFile');
  }
}

export const MISSING = Symbol('missing');

export async function readJson(absolute: string): Promise<unknown> {
  const text = await readText(absolute);
  return text === null ? MISSING : parseJson(text);
}

/** A zod failure as a FileProblem naming the first offending field and the command expected. */
export function shapeProblem(error: z.ZodError, command: string): FileProblem {
  const issue = error.issues[0];
  const at = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return new FileProblem(`${at}${issue?.message ?? 'unexpected shape'} (expected the output of ${command})`, 'InvalidFile');
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The normalizers treat their list keys as optional (an SDK page may omit them), which would read
 * `{}`, or another command's output saved under the wrong name, as "no clusters". Offline, the CLI
 * always writes the key, so its absence means the wrong file.
 */
export function requireKey(raw: unknown, key: string, command: string): void {
  if (!isRecord(raw) || !(key in raw)) {
    throw new FileProblem(`has no ${key}: this is not the output of ${command}`, 'InvalidFile');
  }
}

/** Runs one source's loader; whatever goes wrong becomes that source's `unread`, naming the file. */
export async function source<T>(call: string, load: () => Promise<T | Unread>): Promise<{ state: 'read'; data: T } | Unread> {
  try {
    const result = await load();
    if (isRecord(result) && result.state === 'unread') return result as Unread;
    return { state: 'read', data: result as T };
  } catch (error) {
    return invalid(call, error);
  }
}

/** Strict, because Buffer.from(x, 'base64') silently skips what is not base64 and returns garbage. */
export function decodeBase64(text: string, what: string): string {
  const compact = text.replace(/\s+/g, '');
  if (compact === '' || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) {
    throw new FileProblem(`${what} is not valid base64`, 'InvalidFile');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(compact, 'base64'));
  } catch {
    throw new FileProblem(`${what} is base64 but does not decode to text`, 'InvalidFile');
  }
}

/** Page and file names in numeric order: `-2` before `-10`. */
export const numericOrder = new Intl.Collator('en', { numeric: true });

/** One file of a region folder, as a value or the `unread` that explains why not (`command` exports it). */
export async function regionalFile<T>(
  dir: string,
  region: string,
  file: string,
  command: string,
  parse: (raw: unknown, call: string) => T,
): Promise<Source<T>> {
  const call = `${region}/${file}`;
  return source(call, async () => {
    const raw = await readJson(path.join(dir, region, file));
    if (raw === MISSING) return notFound(call, command);
    return parse(raw, call);
  });
}

/** The command of a regional file, for one region. */
export function inRegion(command: string, region: string): string {
  return command.replace('<region>', region);
}
