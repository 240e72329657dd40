import { type Command, Option } from 'commander';
import { type CommandContext, type Io, type ReadFlags, stateOptions } from '../shared.ts';

export function historyCommand(cli: Command, { io, done }: CommandContext): void {
  stateOptions(
    cli
      .command('history')
      .description('every change of status of one finding, oldest first')
      .argument('<finding-id>', 'as `findings` lists it: <account>#<check>#<resource>'),
  )
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action((findingId: string, flags: ReadFlags) => done(history(findingId, flags, io)));
}

async function history(findingId: string, flags: ReadFlags, io: Io): Promise<number> {
  const { renderHistory } = await import('#lib/report/render.ts');
  const { readState } = await import('../session.ts');
  return readState(flags, io, async (opened) => {
    const entries = await opened.store.history(findingId);
    return { json: entries, table: () => renderHistory(entries, io.columns) };
  });
}
