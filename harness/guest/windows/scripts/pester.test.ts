// Runs every Pester test file of the project (*.Tests.ps1) in pwsh with the pinned Pester, and shows
// each Pester test as an assertion here, so npm test's counts include them and a failure names the test.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { powerShellTools, pwshSkip } from '../../../../lib/pwsh.ts';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const skip = pwshSkip({ pester: true });

t.test('Pester: the scripts\' own logic', { skip }, async (t) => {
  const tools = powerShellTools();
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.Tests.ps1'], { cwd: REPO, encoding: 'utf8' }).split('\n').filter(Boolean).map((f) => path.join(REPO, f));
  t.ok(files.length >= 1, `${files.length} Pester file(s)`);
  const script = [
    "$ErrorActionPreference = 'Stop'",
    `Import-Module '${tools.pester!.replace(/'/g, "''")}'`,
    '$c = New-PesterConfiguration',
    `$c.Run.Path = @(${files.map((f) => `'${f.replace(/'/g, "''")}'`).join(', ')})`,
    '$c.Run.PassThru = $true',
    "$c.Output.Verbosity = 'None'",
    '$r = Invoke-Pester -Configuration $c',
    '$r.Tests | ForEach-Object { [pscustomobject]@{ name = $_.ExpandedPath; result = [string]$_.Result; error = [string]($_.ErrorRecord | Select-Object -First 1) } | ConvertTo-Json -Compress }',
  ].join('\n');
  const r = spawnSync(tools.pwsh!, ['-NoProfile', '-NonInteractive', '-Command', '-'], { input: script, encoding: 'utf8', timeout: 300_000, cwd: REPO });
  t.equal(r.status, 0, `pwsh ran Pester: ${r.stderr.slice(-800)}`);
  const tests = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { name: string; result: string; error: string });
  t.ok(tests.length >= 15, `${tests.length} Pester tests ran`);
  for (const x of tests) t.equal(x.result, 'Passed', `${x.name}${x.error ? `: ${x.error}` : ''}`);
  t.comment(`Pester: ${tests.filter((x) => x.result === 'Passed').length} passed, ${tests.filter((x) => x.result === 'Failed').length} failed, ${tests.filter((x) => x.result !== 'Passed' && x.result !== 'Failed').length} other`);
});
