// A process that takes a cache lock, notes when it held it, and holds it a while: the cross-process
// half of lib/cache-lock.test.ts. Args: lock file, log file, hold ms [, "lease" dir].
import { appendFileSync } from 'node:fs';
import { leaseDir, withCacheLock } from '../cache-lock.ts';

const [lockFile, logFile, holdMs, leaseOn] = process.argv.slice(2);
if (leaseOn) await leaseDir(leaseOn);
await withCacheLock(lockFile!, `child ${process.pid}`, async () => {
  appendFileSync(logFile!, `begin ${process.pid} ${Date.now()}\n`);
  await new Promise((r) => setTimeout(r, Number(holdMs)));
  appendFileSync(logFile!, `end ${process.pid} ${Date.now()}\n`);
}, { log: (l) => appendFileSync(logFile!, `log ${process.pid} ${l}\n`) });
