// A cell as `plan --json`, run.json and summary.json show it: its id and coordinates, without the
// resolved internals (workload references, faults) that only the harness needs.
import type { Cell } from './index.ts';

export function cellJson(c: Cell) {
  return {
    id: c.id,
    os: { release: c.os.release, build: c.os.build, ubr: c.os.ubr, kb: c.os.kb, month: c.os.month, family: c.os.family, patchLevel: c.os.patchLevel },
    driver: c.driver,
    driverPath: c.driverBuild.path,
    upgradeFrom: c.driverBuild.upgradeFrom,
    driverParams: c.driverBuild.params,
    verifier: c.verifier,
    workloads: c.workloads,
    coexist: c.coexist,
    repeat: c.repeat,
    tags: c.tags,
    ...(c.faults.length ? { faults: c.faults } : {}),
  };
}
