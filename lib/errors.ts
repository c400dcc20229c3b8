// Error types every room shares. Only harness/cli/main.ts turns them into exit codes; library code
// throws and never calls process.exit.
//
// Exit codes (the same table everywhere, the gate included):
//   0 pass, 1 product failure found, 2 inconclusive (infrastructure kept cells from a verdict),
//   64 usage or configuration error, 130 interrupted.

export const EXIT = {
  ok: 0,
  productFailure: 1,
  inconclusive: 2,
  usage: 64,
  interrupted: 130,
} as const;

/** Base of every error fleetgate raises on purpose. */
export class FleetgateError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.usage, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Where in an input something is: a file plus a line/column (1-based) or a byte offset. */
export interface SourcePlace {
  file: string;
  line?: number;
  column?: number;
  offset?: number;
}

export function formatPlace(place: SourcePlace): string {
  if (place.line !== undefined) {
    return `${place.file}:${place.line}${place.column !== undefined ? `:${place.column}` : ''}`;
  }
  if (place.offset !== undefined) {
    return `${place.file} at offset 0x${place.offset.toString(16)}`;
  }
  return place.file;
}

/**
 * Bad external input (matrix YAML, INF, dump, tool output, guest output): names the file, the place
 * and what was expected. Exit code 64 when it reaches the CLI.
 */
export class InputError extends FleetgateError {
  readonly place: SourcePlace;
  readonly detail: string;
  constructor(place: SourcePlace, detail: string, options?: { cause?: unknown }) {
    super(`${formatPlace(place)}: ${detail}`, EXIT.usage, options);
    this.place = place;
    this.detail = detail;
  }
}

/** Bad command-line usage (unknown flag value, missing argument). Exit code 64. */
export class UsageError extends FleetgateError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

/**
 * The harness or a host failed, not the product (QEMU missing, port taken, SSH refused before boot
 * finished, a Hyper-V API error). Never counted as a product result; retried elsewhere.
 */
export class InfraFailure extends FleetgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.inconclusive, options);
  }
}
