// A lab driver package: the folder a matrix's `driver.path` names for a lab cell. It holds the module's
// C source and a `fleetgate.driver.yaml` saying what the lifecycle needs that no source says:
//
//   kind: lab-module
//   module: fgfilter          # the module name: /sys/module/<module>/, its parameters and triggers
//   source: fgfilter.c        # the one C file the module is built from (Kbuild comes from driver/lab)
//
// Errors name the file, the line and what was expected.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../../lib/errors.ts';
import { compileSchema, errorAt, readSource, validateOrThrow } from '../../lib/source-doc.ts';

export const LAB_PACKAGE_MANIFEST = 'fleetgate.driver.yaml';

export interface LabPackage {
  /** Absolute path of the package folder. */
  dir: string;
  /** Module name (a C identifier). */
  module: string;
  /** Absolute path of the C source. */
  source: string;
}

interface RawLabPackage {
  kind: 'lab-module';
  module: string;
  source: string;
}

const validate = compileSchema<RawLabPackage>({
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'module', 'source'],
  properties: {
    kind: { type: 'string', enum: ['lab-module'] },
    module: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,30}$', description: 'a lowercase module name ([a-z][a-z0-9_]*, at most 31 characters)' },
    source: { type: 'string', pattern: '^[A-Za-z0-9_.-]+\\.c$', description: 'a .c file name in the package folder' },
  },
});

export function readLabPackage(dir: string): LabPackage {
  const abs = path.resolve(dir);
  const file = path.join(abs, LAB_PACKAGE_MANIFEST);
  if (!existsSync(file)) throw new InputError({ file }, `file not found: a lab driver package needs ${LAB_PACKAGE_MANIFEST} (kind: lab-module, module, source)`);
  const src = readSource(file);
  const raw = validateOrThrow(src, validate);
  const source = path.join(abs, raw.source);
  if (!existsSync(source)) throw errorAt(src, ['source'], `source ${raw.source} is not in ${abs}`);
  return { dir: abs, module: raw.module, source };
}
