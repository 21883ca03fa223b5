import type { CliCommand } from './command.js';
import { dumpCommand } from './dumpCommand.js';
import { eventsCommand } from './eventsCommand.js';
import { genTypesCommand } from './genTypesCommand.js';
import { loadCommand } from './loadCommand.js';
import { metricsCommand } from './metricsCommand.js';
import { unpinCommand } from './unpinCommand.js';

/** The commands of load-kern-object, the default first; a new command is a module and a line here. */
export const COMMANDS: readonly CliCommand[] = [loadCommand, dumpCommand, unpinCommand, eventsCommand, metricsCommand, genTypesCommand];
