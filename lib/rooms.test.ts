// The rooms keep their walls (../shared/DESIGN.md "Rooms" and "Dependencies point one way"): every
// relative import of every source file is read and checked against the rules below, and the checker
// itself is shown to catch each kind of forbidden import.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../', import.meta.url));

interface Rule {
  /** Files this rule applies to (repo-relative path prefix). */
  from: string;
  /** Targets they must not import (repo-relative path prefixes). */
  not: string[];
  /** Files under `from` the rule does not apply to (test doubles drive the seam from outside). */
  except?: string[];
  why: string;
}

/** Test files may reach across rooms (a report test makes a run with the scheduler); sources may not. */
const RULES: readonly Rule[] = [
  { from: 'lib/', not: ['matrix/', 'images/', 'driver/', 'harness/', 'workloads/', 'reports/', 'runfolder/'], why: 'lib holds helpers every room shares and depends on none' },
  { from: 'runfolder/', not: ['harness/', 'reports/', 'images/', 'driver/', 'workloads/'], why: 'the run-folder contract is a room both harness and reports import' },
  { from: 'matrix/', not: ['harness/', 'images/', 'reports/', 'runfolder/'], why: 'matrix must not know about VMs' },
  { from: 'images/', not: ['harness/', 'reports/'], why: 'images must not run cells' },
  { from: 'driver/', not: ['harness/providers/', 'harness/run/', 'harness/cli/', 'reports/'], why: 'driver must not talk to a hypervisor' },
  { from: 'workloads/', not: ['harness/', 'reports/'], why: 'workloads must not import harness code that needs the controller' },
  { from: 'reports/', not: ['harness/'], why: 'reports read what harness wrote (files), never harness itself' },
  { from: 'harness/crash/', not: ['harness/providers/', 'harness/guest/', 'harness/run/', 'harness/cell/'], why: 'crash parsing never imports providers or guests' },
  { from: 'harness/run/', not: ['harness/cli/'], why: 'the scheduler does not depend on the command line' },
  {
    from: 'harness/cell/',
    not: ['harness/guest/linux/', 'harness/guest/windows/', 'harness/providers/qemu/', 'harness/providers/hyperv/', 'harness/providers/index.ts', 'harness/cell/test-doubles/'],
    why: 'the lifecycle runs against the provider, personality and channel seams, never one OS, one hypervisor or a test double',
    except: ['harness/cell/test-doubles/'],
  },
  { from: 'harness/guest/', not: ['harness/providers/qemu/', 'harness/providers/hyperv/', 'harness/run/'], why: 'a guest personality speaks to its guest, not to a hypervisor or the scheduler' },
  // A Hyper-V host is a Windows machine: its provider reuses the Windows PowerShell encoding and SSH
  // helpers of harness/guest/windows and guest/ssh to talk to the host (not to the guest).
  { from: 'harness/providers/', not: ['harness/guest/linux/', 'harness/cell/', 'harness/run/'], why: 'providers report what the hypervisor saw and know no lifecycle, scheduler or lab guest' },
];

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

/** Repo-relative targets of a file's relative imports. */
function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2];
    if (!spec || !spec.startsWith('.')) continue;
    out.push(path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)));
  }
  return out;
}

function violations(files: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [file, text] of files) {
    if (/\.test(?:-helper)?\.ts$/.test(file) || file.includes('/testdata/')) continue;
    for (const target of importsOf(file, text)) {
      for (const r of RULES) {
        if (!file.startsWith(r.from) || r.except?.some((e) => file.startsWith(e))) continue;
        const bad = r.not.find((p) => target.startsWith(p));
        if (bad) out.push(`${file} imports ${target}: ${r.why}`);
      }
    }
  }
  return out;
}

function sources(): Map<string, string> {
  const list = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts'], { cwd: REPO, encoding: 'utf8' }).split('\n').filter(Boolean);
  const m = new Map<string, string>();
  for (const f of list) {
    try {
      m.set(f, readFileSync(path.join(REPO, f), 'utf8'));
    } catch {
      // listed but deleted in the work tree
    }
  }
  return m;
}

t.test('no source file crosses a room wall', async (t) => {
  const files = sources();
  t.ok(files.size > 100, `${files.size} files read`);
  t.same(violations(files), []);
});

t.test('the checker catches each kind of forbidden import, and lets the allowed ones through', async (t) => {
  const check = (file: string, spec: string) => violations(new Map([[file, `import { x } from '${spec}';\n`]]));
  t.match(check('reports/html.ts', '../harness/run/scheduler.ts'), [/reports\/html\.ts imports harness\/run\/scheduler\.ts: reports read what harness wrote/]);
  t.match(check('harness/crash/linux.ts', '../guest/ssh/client.ts'), [/crash parsing never imports providers or guests/]);
  t.match(check('harness/crash/windows/kd.ts', '../../providers/qemu/qemu.ts'), [/crash parsing/]);
  t.match(check('images/lab/build.ts', '../../harness/providers/index.ts'), [/images must not run cells/]);
  t.match(check('harness/run/runners.ts', '../cli/commands/plan.ts'), [/scheduler does not depend on the command line/]);
  t.match(check('matrix/expand.ts', '../harness/run/types.ts'), [/matrix must not know about VMs/]);
  t.match(check('runfolder/summary.ts', '../harness/run/hosts.ts'), [/run-folder contract/]);
  t.match(violations(new Map([['workloads/spec.ts', "const m = await import('../harness/run/scheduler.ts');\n"]])), [/workloads must not import harness/], 'dynamic imports too');
  t.match(check('harness/cell/lifecycle.ts', '../guest/linux/lab-guest.ts'), [/lifecycle runs against the provider, personality and channel seams/]);
  t.match(check('harness/cell/lifecycle.ts', '../providers/index.ts'), [/never one OS, one hypervisor/], 'the lifecycle is given its provider, it does not make one');
  t.match(check('harness/cell/lifecycle.ts', './test-doubles/fake-provider.ts'), [/or a test double/]);
  t.match(check('harness/guest/linux/personality.ts', '../../providers/qemu/qemu.ts'), [/not to a hypervisor/]);
  t.match(check('harness/providers/qemu/qemu.ts', '../../cell/monitor.ts'), [/know no lifecycle/]);
  t.same(check('harness/cell/test-doubles/fake-personality.ts', './fake-provider.ts'), [], 'test doubles are outside the wall they drive');
  t.same(check('harness/cell/lifecycle.ts', '../providers/types.ts'), [], 'the provider seam itself is allowed');
  t.same(check('reports/base.ts', '../runfolder/results.ts'), [], 'reports may read the run-folder contract');
  t.same(check('harness/run/scheduler.ts', '../../runfolder/journal.ts'), [], 'and so may the harness');
  t.same(check('reports/gate.test.ts', '../harness/run/scheduler.ts'), [], 'tests may cross');
  t.same(check('harness/run/scheduler.ts', 'node:fs'), [], 'packages are not rooms');
});
