/**
 * The pino root logger. Only entry points create it; everything else receives a child
 * (`logger.child({ component, checkpointId })`). Logs go to stderr so that `--json` output on stdout
 * stays machine-readable; they are pretty-printed only when a person is watching.
 */
import { type Logger, pino } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Pretty output; defaults to whether stderr is a terminal. */
  pretty?: boolean;
  destination?: pino.DestinationStream;
  /**
   * Append JSON lines to this file instead of writing to stderr (`--log-file`): a server started in the
   * background of a shell then leaves the terminal to the person's next commands. Written synchronously, so
   * that the last lines before a crash are there.
   */
  file?: string;
}

export function createRootLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  if (options.destination) return pino({ level }, options.destination);
  if (options.file !== undefined)
    return pino({ level }, pino.destination({ dest: options.file, mkdir: true, sync: true }));
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  if (pretty) {
    return pino({ level, transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } } });
  }
  return pino({ level }, pino.destination({ dest: 2, sync: true }));
}

/** A logger that discards everything, for library callers and tests that do not care. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
