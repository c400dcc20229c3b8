// Every command of the CLI, in the order `fleetgate --help` lists them. A command module exports a
// function that adds its subcommand to the program.
import type { Command } from 'commander';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [];
