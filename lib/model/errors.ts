/**
 * The one base of the auditor's own errors. `exitCode` is what the command line exits with when
 * the error ends a run: 2 for bad input or an audit that could not complete (the same code as an
 * incomplete audit, so scripts treat both as "not checked").
 */
export class AuditorError extends Error {
  readonly exitCode: number;

  constructor(message: string, options: { cause?: unknown; exitCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? 2;
  }
}
