// A throw-away controller for the leftovers integration test: starts one VM, prints what it made as
// one JSON line, then idles until it is killed (kill -9 is the point).
import { QemuProvider } from '../qemu.ts';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const [imageDir, cellDir, name] = process.argv.slice(2) as [string, string, string];
const manifest = JSON.parse(await readFile(path.join(imageDir, 'manifest.json'), 'utf8'));
const vm = await new QemuProvider().start({ name, cellDir, image: { dir: imageDir, manifest }, waitFor: 'hypervisor' });
process.stdout.write(`${JSON.stringify({ pid: vm.pid, cellDir })}\n`);
setInterval(() => undefined, 1 << 30);
