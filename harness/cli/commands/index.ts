// Every command of the CLI, in the order `fleetgate --help` lists them. A command module exports a
// function that adds its subcommand to the program.
import type { Command } from 'commander';
import { registerCatalog } from './catalog.ts';
import { registerLab } from './lab.ts';
import { registerMerge } from './merge.ts';
import { registerPlan } from './plan.ts';
import { registerRun } from './run.ts';
import { registerTriage } from './triage.ts';
import { registerCollect } from './collect.ts';
import { registerReport } from './report.ts';
import { registerGate } from './gate.ts';
import { registerExpect } from './expect.ts';
import { registerHistory } from './history.ts';
import { registerSignoff } from './signoff.ts';
import { registerImages } from './images.ts';
import { registerWarm } from './warm.ts';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerPlan, registerRun, registerMerge, registerCatalog, registerLab, registerTriage, registerCollect, registerReport, registerGate, registerExpect, registerHistory, registerSignoff, registerImages, registerWarm];
