import { type Command, CommandError, type Output, processOutput, UsageError, wantsHelp } from './cli';
import { doctorCommand } from './commands/doctor';
import { installationCommand } from './commands/installation';
import { publishCommand } from './commands/publish';
import { statusCommand } from './commands/status';
import { tokenCommand } from './commands/token';
import { vaultwardenCommand } from './commands/vaultwarden';

export const COMMANDS: readonly Command[] = [
  tokenCommand,
  publishCommand,
  statusCommand,
  installationCommand,
  doctorCommand,
  vaultwardenCommand,
];

function overview(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return [
    'herald <command> [options]   (from a checkout: npm run herald -- <command> [options])',
    '',
    'Commands:',
    ...COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    "herald <command> --help shows a command's options.",
  ].join('\n');
}

/** Runs one command line; returns the exit code (0 done, 1 failed, 2 called wrongly). */
export async function runCli(args: string[], output: Output = processOutput): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((command) => command.name === rest[0]) : undefined;
    output.out(topic ? topic.usage : overview());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) {
    output.err(`herald: unknown command "${name}"\n\n${overview()}`);
    return 2;
  }
  if (wantsHelp(rest)) {
    output.out(command.usage);
    return 0;
  }
  try {
    return await command.run(rest, output);
  } catch (error) {
    if (error instanceof UsageError) {
      output.err(
        `herald ${command.name}: ${error.message}\n(herald ${command.name} --help shows how to call it)`,
      );
      return 2;
    }
    if (error instanceof CommandError) {
      output.err(`herald ${command.name}: ${error.message}`);
      return 1;
    }
    output.err(
      `herald ${command.name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    return 1;
  }
}
