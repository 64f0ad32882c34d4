// examples/agent.mjs and examples/consumer.mjs (both on @twinhub/client) against a live hub: the
// consumer reads, writes and toggles the lamp the example agent serves.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { RunningHub } from '@twinhub/hub';
import { eventually } from '@twinhub/testkit';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

describe('the examples on @twinhub/client', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let running: RunningHub;
  let tokens: Tokens;

  before(async () => {
    data = await tempDataDir();
    running = await startTestHub(data.dir, { mqtt: false });
    tokens = await createTokens(running);
  });
  after(async () => {
    await running.close();
    await data.remove();
  });

  it('the consumer reads, writes and toggles the lamp the agent serves', { timeout: 60_000 }, async () => {
    const agent = spawn(process.execPath, [`${EXAMPLES}agent.mjs`], {
      env: { ...process.env, TWINHUB_URL: running.urls.http, TWINHUB_AGENT_TOKEN: tokens.agent },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let agentLog = '';
    agent.stderr.setEncoding('utf8').on('data', (chunk: string) => (agentLog += chunk));
    try {
      await eventually(() => assert.match(agentLog, /agent ready/), 'the agent to register', 15_000);
      const consumer = spawn(process.execPath, [`${EXAMPLES}consumer.mjs`, '70'], {
        env: { ...process.env, TWINHUB_URL: running.urls.http, TWINHUB_TOKEN: tokens.operator },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      consumer.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      consumer.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      const [code] = (await once(consumer, 'exit')) as [number | null];
      assert.equal(code, 0, output);
      assert.match(output, /before: \{ brightness: 50, on: false \}/);
      assert.match(output, /write queued: (pending|delivered|running|completed) \(/);
      assert.match(output, /toggle output: true/);
      assert.match(output, /after: \{ brightness: 70, on: true \}/);
      assert.match(agentLog, /writeproperty brightness: done \(brightness 70/);
    } finally {
      agent.kill('SIGTERM');
      await once(agent, 'exit');
    }
  });
});
