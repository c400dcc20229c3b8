// Golden corpus for the Linux console reader (the syzkaller way): each testdata/linux/*.log starts with
// header lines (TITLE, KIND, MODULE, FUNCTION, CORRUPTED), a blank line, then the raw console log as
// the lab guest printed it. UPDATE_GOLDEN=1 rewrites the headers from what the parser says now; read the
// diff before committing it.
import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseLinuxConsole } from './linux.ts';

const dir = fileURLToPath(new URL('./testdata/linux/', import.meta.url));
const KEYS = ['TITLE', 'KIND', 'MODULE', 'FUNCTION', 'CORRUPTED'] as const;

function split(text: string): { head: Record<string, string>; log: string } {
  const blank = text.indexOf('\n\n');
  const head: Record<string, string> = {};
  for (const line of text.slice(0, blank).split('\n')) {
    const m = /^([A-Z]+): ?(.*)$/.exec(line);
    if (m) head[m[1]!] = m[2]!;
  }
  return { head, log: text.slice(blank + 2) };
}

const files = readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
t.ok(files.length >= 5, `${files.length} golden console logs`);
for (const f of files) {
  t.test(f, async (t) => {
    const text = readFileSync(join(dir, f), 'utf8');
    const { head, log } = split(text);
    const r = parseLinuxConsole(log);
    const got: Record<string, string> = r
      ? { TITLE: r.title, KIND: r.kind, MODULE: r.module ?? '', FUNCTION: r.function ?? '', CORRUPTED: r.corrupted ? 'Y' : 'N' }
      : { TITLE: '', KIND: '', MODULE: '', FUNCTION: '', CORRUPTED: '' };
    if (process.env.UPDATE_GOLDEN === '1') {
      writeFileSync(join(dir, f), `${KEYS.map((k) => `${k}: ${got[k]}`).join('\n')}\n\n${log}`);
      t.pass('updated');
      return;
    }
    for (const k of KEYS) t.equal(got[k], head[k] ?? '', `${k}`);
  });
}

t.test('a clean boot log has no crash', async (t) => {
  const clean = '[    0.000000] Linux version 6.1.0-56-cloud-amd64\nfleetgate-lab: ready (sshd on 10.0.2.15:22, uptime 5.2s)\n';
  t.equal(parseLinuxConsole(clean), null);
});

t.test('titles carry no addresses, CPU numbers or timestamps', async (t) => {
  for (const f of files) {
    const r = parseLinuxConsole(split(readFileSync(join(dir, f), 'utf8')).log);
    if (!r) continue;
    t.notMatch(r.title, /0x[0-9a-f]{6,}|CPU#\d|\[\s*\d+\.\d+\]/, `${f}: ${r.title}`);
  }
});
