// Picks the progress reporter once, from the environment (screen.ts): the live view on a terminal,
// plain lines in CI and pipes.
import { LineReporter } from './lines.ts';
import { LiveReporter } from './live.ts';
import type { Reporter } from './reporter.ts';
import { decideScreen } from './screen.ts';

export type { Reporter } from './reporter.ts';
export { ReporterMultiplexer } from './multiplexer.ts';
export { LineReporter } from './lines.ts';
export { LiveReporter } from './live.ts';
export { decideScreen, type Screen } from './screen.ts';

export function progressReporter(stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }, env: NodeJS.ProcessEnv = process.env): Reporter {
  const screen = decideScreen(env, stream);
  const write = (text: string): void => {
    stream.write(text);
  };
  return screen.tty ? new LiveReporter({ write, screen }) : new LineReporter(write);
}
