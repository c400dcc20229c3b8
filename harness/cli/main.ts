// The fleetgate command line. Each command lives in commands/<name>.ts and registers itself on the
// program; this file is the only place that turns errors into exit codes and calls process.exit.
import { Command, CommanderError } from 'commander';
import { EXIT, FleetgateError } from '../../lib/errors.ts';
import { commands } from './commands/index.ts';

export function buildProgram(): Command {
  const program = new Command('fleetgate')
    .description('Fleet compatibility and safety test harness for a Windows file-system minifilter')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showHelpAfterError()
    .exitOverride();
  for (const register of commands) register(program);
  return program;
}

async function flush(stream: NodeJS.WriteStream): Promise<void> {
  // process.exit may truncate large output written to a pipe: wait until it is drained.
  await new Promise<void>((resolve) => stream.write('', () => resolve()));
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; a usage error was already printed by commander.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof FleetgateError) {
      process.stderr.write(`fleetgate: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`fleetgate: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 70;
  }
}

/** Runs the CLI on process.argv and exits with its code (called by fleetgate.js only). */
export async function runCli(): Promise<never> {
  const code = await main(process.argv);
  await flush(process.stdout);
  await flush(process.stderr);
  process.exit(code);
}
