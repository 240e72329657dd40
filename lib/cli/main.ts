import { Command, CommanderError } from 'commander';
import { VERSION } from '#lib/model/version.ts';
import { checksCommand } from './commands/checks.ts';
import { demoCommand } from './commands/demo.ts';
import { filesCommand } from './commands/files.ts';
import { findingsCommand } from './commands/findings.ts';
import { historyCommand } from './commands/history.ts';
import { runCommand } from './commands/run.ts';
import { runsCommand } from './commands/runs.ts';
import { type CommandContext, type Io, processIo } from './shared.ts';

export { DEMO_DIR, DEMO_NEXT_DIR, DEMO_ORGANIZATION_DIR, type Io } from './shared.ts';

/** The commands, in the order `--help` lists them: each file in commands/ defines one. */
const COMMANDS = [runCommand, findingsCommand, runsCommand, historyCommand, demoCommand, filesCommand, checksCommand];

function program(io: Io, done: CommandContext['done']): Command {
  const cli = new Command('account-auditor')
    .description('Audit an AWS account: root access keys, access key age, full-access users, DAX and ElastiCache service roles.')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .version(VERSION);
  // `--version` answers, but stays out of the help text, which scripts and docs quote.
  cli.options.find((option) => option.long === '--version')?.hideHelp();
  for (const command of COMMANDS) command(cli, { io, done });
  return cli;
}

/** Runs the command line; returns the exit code instead of exiting, so tests can call it. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let pending: Promise<number> | undefined;
  const cli = program(io, (code) => {
    pending = code;
  });
  try {
    await cli.parseAsync(argv);
    if (!pending) {
      io.stderr(cli.helpInformation());
      return 2;
    }
    return await pending;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version are not failures.
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0 ? 0 : 2;
    }
    const { reportFailure } = await import('./failure.ts');
    return reportFailure(error, io);
  }
}
