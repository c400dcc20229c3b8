// A QMP client over QEMU's unix socket: greeting, capabilities negotiation, commands with ids and
// deadlines, and events as typed objects. Messages are parsed losslessly: QMP's 64-bit integers
// (Hyper-V bugcheck parameters) arrive as bigint instead of rounded doubles.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { InfraFailure } from '../../../lib/errors.ts';
import { TimeoutError } from '../timeouts.ts';
import { parseJsonLossless, type LosslessJson } from './json-lossless.ts';

export type QmpObject = { [key: string]: LosslessJson };

export interface QmpEvent {
  readonly event: string;
  readonly data: QmpObject;
  /** QEMU's own clock for the event. */
  readonly at: Date;
}

export interface QmpGreeting {
  readonly version: { qemu: { major: number; minor: number; micro: number }; package: string };
  readonly capabilities: readonly string[];
}

/** QEMU answered a command with an error, or the QMP connection failed. Infrastructure, not product. */
export class QmpError extends InfraFailure {
  readonly command: string;
  readonly errorClass: string | undefined;
  constructor(command: string, detail: string, errorClass?: string, options?: { cause?: unknown }) {
    super(`QMP ${command}: ${errorClass ? `${errorClass}: ` : ''}${detail}`, options);
    this.command = command;
    this.errorClass = errorClass;
  }
}

interface Pending {
  command: string;
  resolve(value: LosslessJson): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

type EventListener = (event: QmpEvent) => void;
type CloseListener = (err: Error | undefined) => void;

export interface QmpConnectOptions {
  /** Keeps retrying while the socket does not exist or refuses, until this deadline. */
  readonly timeoutMs: number;
  /** Stops waiting at once (e.g. the QEMU process exited). */
  readonly signal?: AbortSignal;
  /** Default deadline for each command. */
  readonly commandTimeoutMs?: number;
}

export class QmpClient {
  readonly greeting: QmpGreeting;
  private readonly socket: net.Socket;
  private readonly pending = new Map<number, Pending>();
  private readonly eventListeners = new Set<EventListener>();
  private readonly closeListeners = new Set<CloseListener>();
  private readonly commandTimeoutMs: number;
  private nextId = 1;
  private closedWith: Error | undefined | null = null;

  private constructor(socket: net.Socket, greeting: QmpGreeting, rest: string, commandTimeoutMs: number) {
    this.socket = socket;
    this.greeting = greeting;
    this.commandTimeoutMs = commandTimeoutMs;
    let buffer = '';
    const feed = (chunk: string): void => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line) this.onLine(line);
      }
    };
    socket.setEncoding('utf8');
    socket.on('data', feed);
    feed(rest);
    socket.on('error', (err) => this.handleClose(err));
    socket.on('close', () => this.handleClose(undefined));
    // An idle monitor connection must not keep the controller alive; pending waits hold it instead.
    socket.unref();
    socket.resume();
  }

  /** Connects, reads the greeting and leaves capabilities negotiation mode. */
  static async connect(path: string, options: QmpConnectOptions): Promise<QmpClient> {
    const deadline = Date.now() + options.timeoutMs;
    let lastError: unknown;
    for (;;) {
      options.signal?.throwIfAborted();
      if (Date.now() > deadline) {
        throw new QmpError('connect', `${path}: ${String(lastError ?? 'no greeting')} (waited ${options.timeoutMs} ms)`, undefined, {
          cause: lastError,
        });
      }
      try {
        const { socket, greeting, rest } = await openAndGreet(path, deadline - Date.now(), options.signal);
        const client = new QmpClient(socket, greeting, rest, options.commandTimeoutMs ?? options.timeoutMs);
        await client.execute('qmp_capabilities');
        return client;
      } catch (err) {
        lastError = err;
        const code = (err as NodeJS.ErrnoException).code;
        // The socket appears a moment after QEMU starts; anything else is a real failure.
        if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw wrap('connect', err);
        await sleep(50, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
      }
    }
  }

  get closed(): boolean {
    return this.closedWith !== null;
  }

  onEvent(listener: EventListener): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  onClose(listener: CloseListener): () => void {
    if (this.closedWith !== null) {
      listener(this.closedWith);
      return () => undefined;
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  private handleClose(arg: Error | undefined): void {
    if (this.closedWith !== null) return;
    this.closedWith = arg;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new QmpError(p.command, `connection closed before the answer${arg ? ` (${arg.message})` : ''}`));
    }
    this.pending.clear();
    for (const l of this.closeListeners) l(arg);
    this.closeListeners.clear();
  }

  /** Sends a command and resolves with its `return` value. */
  execute<T extends LosslessJson = LosslessJson>(
    command: string,
    args?: Record<string, unknown>,
    options: { timeoutMs?: number } = {},
  ): Promise<T> {
    if (this.closedWith !== null) return Promise.reject(new QmpError(command, 'connection is closed'));
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new QmpError(command, new TimeoutError('answer', timeoutMs).message));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: LosslessJson) => void, reject, timer });
      const message = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
      this.socket.write(`${JSON.stringify(message)}\n`);
    });
  }

  /**
   * Resolves with the first event named `name` (matching `match`) that arrives from now on. Register
   * before sending the command that causes it.
   */
  nextEvent(name: string, options: { timeoutMs: number; match?: (e: QmpEvent) => boolean }): Promise<QmpEvent> {
    return new Promise<QmpEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        offClose();
        reject(new QmpError(name, new TimeoutError(`event ${name}`, options.timeoutMs).message));
      }, options.timeoutMs);
      const off = this.onEvent((e) => {
        if (e.event !== name || (options.match && !options.match(e))) return;
        clearTimeout(timer);
        off();
        offClose();
        resolve(e);
      });
      const offClose = this.onClose((err) => {
        clearTimeout(timer);
        off();
        reject(new QmpError(name, `connection closed while waiting for the event${err ? ` (${err.message})` : ''}`));
      });
    });
  }

  close(): void {
    this.socket.destroy();
    this.handleClose(undefined);
  }

  private onLine(line: string): void {
    let msg: LosslessJson;
    try {
      msg = parseJsonLossless(line);
    } catch (err) {
      // A peer that sends garbage cannot be trusted with the rest of the stream either.
      this.socket.destroy();
      this.handleClose(new QmpError('read', `unparsable message ${JSON.stringify(line.slice(0, 200))}`, undefined, { cause: err }));
      return;
    }
    if (!isObject(msg)) return;
    if (typeof msg.event === 'string') {
      const ts = isObject(msg.timestamp) ? msg.timestamp : {};
      const seconds = typeof ts.seconds === 'number' ? ts.seconds : NaN;
      const micros = typeof ts.microseconds === 'number' ? ts.microseconds : 0;
      const at = Number.isFinite(seconds) ? new Date(seconds * 1000 + Math.floor(micros / 1000)) : new Date();
      const event: QmpEvent = { event: msg.event, data: isObject(msg.data) ? msg.data : {}, at };
      for (const l of [...this.eventListeners]) l(event);
      return;
    }
    const id = typeof msg.id === 'number' ? msg.id : undefined;
    const p = id === undefined ? undefined : this.pending.get(id);
    if (!p || id === undefined) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (isObject(msg.error)) {
      const cls = typeof msg.error.class === 'string' ? msg.error.class : undefined;
      const desc = typeof msg.error.desc === 'string' ? msg.error.desc : JSON.stringify(String(msg.error));
      p.reject(new QmpError(p.command, desc, cls));
    } else {
      p.resolve(msg.return ?? {});
    }
  }
}

export function isObject(v: LosslessJson | undefined): v is QmpObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function wrap(command: string, err: unknown): Error {
  if (err instanceof QmpError) return err;
  if (err instanceof Error && err.name === 'AbortError') return err;
  return new QmpError(command, err instanceof Error ? err.message : String(err), undefined, { cause: err });
}

function openAndGreet(
  path: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<{ socket: net.Socket; greeting: QmpGreeting; rest: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(path);
    let buffer = '';
    const done = (err: Error | null, value?: { greeting: QmpGreeting; rest: string }): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onEnd);
      if (err) {
        socket.destroy();
        reject(err);
      } else if (value) {
        socket.pause();
        resolve({ socket, ...value });
      }
    };
    const onAbort = (): void => done(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    const onError = (err: Error): void => done(err);
    const onEnd = (): void => done(new QmpError('connect', `${path}: closed before the greeting`));
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString('utf8');
      const nl = buffer.indexOf('\n');
      if (nl < 0) return;
      try {
        const msg = parseJsonLossless(buffer.slice(0, nl));
        if (!isObject(msg) || !isObject(msg.QMP)) throw new Error(`not a QMP greeting: ${buffer.slice(0, 200)}`);
        done(null, { greeting: msg.QMP as unknown as QmpGreeting, rest: buffer.slice(nl + 1) });
      } catch (err) {
        done(new QmpError('connect', err instanceof Error ? err.message : String(err)));
      }
    };
    const timer = setTimeout(() => done(new QmpError('connect', new TimeoutError(`greeting on ${path}`, timeoutMs).message)), Math.max(1, timeoutMs));
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onEnd);
  });
}
