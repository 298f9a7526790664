/** Commands registered before they exist say so and fail: no fake success. */
import { ErrorCode, SnapbackError } from '../../errors.js';
import { type Command, defineCommand } from '../command.js';

export function notBuilt(name: string, summary: string): Command {
  return defineCommand({
    name,
    summary: `${summary} (not built yet)`,
    usage: '',
    options: {},
    async run() {
      throw new SnapbackError(ErrorCode.FAILED_PRECONDITION, `\`snapback ${name}\` is not built yet`);
    },
  });
}
