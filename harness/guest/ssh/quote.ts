// Quoting for POSIX shells (sh, dash, bash, busybox ash). The guest runs every exec through the
// login shell, so any text that is not a literal of ours goes through quotePosix first.

/**
 * One shell word that the shell turns back into exactly `value`: wrapped in single quotes, with
 * each `'` written as `'\''`. Nothing is special inside single quotes, so this is safe for any
 * text. NUL cannot be passed through argv at all and is refused.
 */
export function quotePosix(value: string): string {
  if (value.includes('\0')) {
    throw new TypeError('a POSIX shell argument cannot contain NUL');
  }
  // Words made only of these characters need no quotes; leaving them bare keeps commands readable.
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A command line from argv: every element quoted. `posixCommand(['sha256sum', '--', path])`. */
export function posixCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new TypeError('posixCommand needs at least the program name');
  return argv.map(quotePosix).join(' ');
}
