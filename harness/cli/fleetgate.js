#!/usr/bin/env node
// Entry point of the `fleetgate` command: the sources are TypeScript, run through tsx's loader so a
// fresh clone needs no build step. Everything else lives in main.ts.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('./main.ts');
await runCli();
