#!/usr/bin/env node
// The `twinhub` command: `serve` runs the hub; `token create|list|revoke` and `clients
// list|create|delete` manage clients and tokens of the running hub over HTTP (or of a stopped
// hub's data folder); `repair` salvages a damaged data folder.

import { parseArgs } from 'node:util';
import { StoreError } from '@twinhub/bucket';
import { createHub, isHubError, ROLES } from '@twinhub/core';
import { clientsCommand, tokenCommand } from './admin-commands.js';
import { AdminError, httpTransport, localTransport } from './admin-transport.js';
import { repairLevelStore } from '@twinhub/storage-level';
import { withoutCredentials } from '@twinhub/storage-nats';
import { ConfigError, type Flags, resolveConfig, settingOptions, settingsHelp } from './config.js';
import { createLogger } from './logger.js';
import { openStore, startHub } from './server.js';
import { stopOnSignals } from './stop.js';

const USAGE = `Usage:
  twinhub serve [options]                               run the hub
  twinhub token create --role <role> --id <clientId>    issue a token (roles: ${ROLES.join(', ')}); --role only for a new client
  twinhub token list [clientId]                         list tokens (never the secrets)
  twinhub token revoke <tokenId|clientId>               revoke a token, or all of a client's
  twinhub clients list                                  list clients, their roles and token counts
  twinhub clients create --id <clientId> --role <role>  create a client (then: token create --id)
  twinhub clients delete <clientId>                     delete a client and revoke its tokens
  twinhub repair --data <dir>                           salvage a damaged data folder (hub stopped; see docs/storage.md)

token and clients commands talk to the running hub at --url (TWINHUB_URL, default
http://127.0.0.1:8080) with an admin token in TWINHUB_TOKEN (or --token); with --data <dir>
they open a stopped hub's data folder instead.

Options (each also read from the environment variable in brackets):
${settingsHelp()}
`;

async function serve(flags: Flags): Promise<void> {
  const config = resolveConfig(flags);
  const logger = createLogger(config.logLevel);
  const running = await startHub(config, logger);
  const lines = [`twinhub listening`, `  HTTP  ${running.urls.http}/things`, `  WS    ${running.urls.ws}`];
  if (running.urls.mqtt) lines.push(`  MQTT  ${running.urls.mqtt}`);
  if (running.metricsUrl) lines.push(`  metrics ${running.metricsUrl}`);
  const data =
    config.nats.length > 0
      ? `NATS JetStream ${config.nats.map(withoutCredentials).join(', ')} (cluster mode)`
      : config.memory
        ? '(in memory: nothing is kept after exit)'
        : config.dataDir;
  lines.push(`  data  ${data}`);
  if (running.firstAdminToken) {
    lines.push('', 'First start: an admin token was created. It is shown only this once (only its hash is stored):', `  ${running.firstAdminToken}`);
  }
  stopOnSignals(running, { logger, timeoutSeconds: config.shutdownTimeoutSeconds });
  // The banner says "ready": a supervisor may signal us as soon as it reads it, so the handlers
  // are installed first (otherwise such a SIGTERM kills the process without a graceful stop).
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * Runs a token or clients command: over HTTP on the running hub, or with --data on the folder
 * itself (the hub stopped: the embedded store allows one process at a time).
 */
async function admin(command: 'token' | 'clients', args: string[], flags: Flags): Promise<void> {
  const config = resolveConfig(flags);
  const [action, target] = args;
  const options = { ...(typeof flags.role === 'string' ? { role: flags.role } : {}), ...(typeof flags.id === 'string' ? { id: flags.id } : {}) };
  const runCommand = command === 'token' ? tokenCommand : clientsCommand;
  if (config.memory) throw new ConfigError(`a --memory hub keeps its clients in its own process: reach it with --url and an admin token`);
  if (flags.data === undefined) {
    if (!config.hubToken)
      throw new ConfigError(
        `${command} ${action ?? ''} talks to the hub at ${config.hubUrl}: give an admin token in TWINHUB_TOKEN (or --token), or use --data DIR while the hub is stopped`,
      );
    return runCommand(action, target, options, httpTransport(config.hubUrl, config.hubToken));
  }
  const logger = createLogger(config.logLevel);
  const hub = await createHub({ store: await openStore(config, logger), logger });
  try {
    await runCommand(action, target, options, localTransport(hub));
  } finally {
    await hub.close();
  }
}

async function repair(flags: Flags): Promise<void> {
  const config = resolveConfig(flags);
  if (config.memory) throw new ConfigError('repair needs a data folder, not --memory');
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`Repairing ${config.dataDir}: LevelDB keeps every record it can still read; whatever was damaged or lost stays lost.`);
  const report = await repairLevelStore(config.dataDir, { log: createLogger(config.logLevel).child({ module: 'storage' }) });
  const buckets = Object.entries(report.buckets).sort(([a], [b]) => (a < b ? -1 : 1));
  out(buckets.length === 0 ? 'The folder now holds no records.' : 'Records per bucket after the repair:');
  for (const [bucket, count] of buckets) out(`  ${bucket.padEnd(12)} ${count}`);
  if (report.expectedCommits !== undefined && report.expectedCommits > report.commits) {
    out(`Data was lost: ${report.expectedCommits - report.commits} of ${report.expectedCommits} acknowledged write batches could not be recovered.`);
  } else if (report.expectedCommits === undefined) {
    out('The folder had no integrity file, so what it held before cannot be compared: data may have been lost.');
  } else {
    out(`All ${report.commits} acknowledged write batches are present (damaged files may still have cost some records).`);
  }
  out('The integrity checks start afresh from this state; `twinhub serve` will open the folder again.');
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { ...settingOptions(), role: { type: 'string' }, id: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (command === 'serve') return serve(values);
  if (command === 'token' || command === 'clients') return admin(command, rest, values);
  if (command === 'repair') return repair(values);
  throw new ConfigError(`unknown command '${command}'\n\n${USAGE}`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  // A StoreError's message already says what happened and what to do (e.g. `twinhub repair`).
  const message =
    error instanceof ConfigError ||
    error instanceof AdminError ||
    error instanceof StoreError ||
    isHubError(error) ||
    (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
      ? (error as Error).message
      : `twinhub failed: ${(error as Error).message}`;
  process.stderr.write(`${message}\n`);
  process.exit(error instanceof ConfigError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1);
});
