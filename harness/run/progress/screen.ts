// Whether progress goes to a live terminal view or plain lines, decided once from the environment
// (Playwright's terminalScreen): CI or a stream that is not a TTY gets lines; FLEETGATE_FORCE_TTY=1
// (or HARNESS_FORCE_TTY=1) forces the live view, `0` forces lines. NO_COLOR turns colour off.
export interface Screen {
  tty: boolean;
  columns: number;
  color: boolean;
}

export function decideScreen(env: NodeJS.ProcessEnv, stream: { isTTY?: boolean; columns?: number }): Screen {
  const forced = env.FLEETGATE_FORCE_TTY ?? env.HARNESS_FORCE_TTY;
  let tty: boolean;
  if (forced === '1' || forced === 'true') tty = true;
  else if (forced === '0' || forced === 'false') tty = false;
  else tty = stream.isTTY === true && !env.CI;
  const columns = stream.columns && stream.columns > 20 ? stream.columns : 100;
  const color = tty && env.NO_COLOR === undefined;
  return { tty, columns, color };
}
