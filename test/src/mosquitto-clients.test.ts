// The README's Mosquitto command-line example, run for real: mosquitto_sub observes a property
// through the embedded broker with a viewer token, mosquitto_pub reports it with the agent's token.
// Skipped (with how to enable it) where the mosquitto-clients package is not installed.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { jsonRequest, lampTd } from '@twinhub/binding-http/testing';
import type { RunningHub } from '@twinhub/hub';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

const THING = 'urn:dev:ops:lamp-1';
const TOPIC = `things/${encodeURIComponent(THING)}/properties/brightness`;
const installed = spawnSync('mosquitto_sub', ['--help']).error === undefined;
const skip = installed ? false : 'mosquitto_sub/mosquitto_pub not installed: apt-get install mosquitto-clients (or run .ci/mosquitto.sh)';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], timeoutMs = 15_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('mosquitto command-line clients through the embedded broker', { skip }, () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let running: RunningHub;
  let tokens: Tokens;
  let broker: string[];

  before(async () => {
    data = await tempDataDir();
    running = await startTestHub(data.dir);
    tokens = await createTokens(running);
    const { hostname, port } = new URL(running.urls.mqtt!);
    broker = ['-h', hostname, '-p', port, '-V', 'mqttv311'];
    const created = await jsonRequest(running.urls.http, 'PUT', `/things/${encodeURIComponent(THING)}`, { token: tokens.agent, body: lampTd(THING) });
    assert.equal(created.status, 201, created.text);
  });

  after(async () => {
    await running.close();
    await data.remove();
  });

  it('observes with mosquitto_sub (viewer token) a value reported with mosquitto_pub (agent token)', async () => {
    // mosquitto_sub -h 127.0.0.1 -p 1883 -u viewer-1 -P "$VIEWER_TOKEN" -t 'things/urn%3Adev%3Aops%3Alamp-1/properties/brightness' -C 1
    const observed = run('mosquitto_sub', [...broker, '-u', 'viewer-1', '-P', tokens.viewer, '-t', TOPIC, '-C', '1', '-W', '10']);
    await new Promise((resolve) => setTimeout(resolve, 500)); // let the subscription land first
    // mosquitto_pub -h 127.0.0.1 -p 1883 -u agent-1 -P "$AGENT_TOKEN" -q 1 -t '.../properties/brightness/reported' -m 42
    const published = await run('mosquitto_pub', [...broker, '-u', 'agent-1', '-P', tokens.agent, '-q', '1', '-t', `${TOPIC}/reported`, '-m', '42']);
    assert.equal(published.code, 0, published.stderr);
    const result = await observed;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), '42');
    const read = await jsonRequest(running.urls.http, 'GET', `/things/${encodeURIComponent(THING)}/properties/brightness`, { token: tokens.viewer });
    assert.equal(read.body, 42, 'the report went through the core, not just the broker');
  });

  it('reads the current value as the retained message', async () => {
    const result = await run('mosquitto_sub', [...broker, '-u', 'viewer-1', '-P', tokens.viewer, '-t', TOPIC, '-C', '1', '-W', '5']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), '42');
  });

  it('refuses a wrong token and a viewer reporting a value', async () => {
    const refused = await run('mosquitto_sub', [...broker, '-u', 'viewer-1', '-P', 'th_wrong', '-t', TOPIC, '-C', '1', '-W', '5']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /not authori[sz]ed|bad user name or password/i);
    await run('mosquitto_pub', [...broker, '-u', 'viewer-1', '-P', tokens.viewer, '-q', '1', '-t', `${TOPIC}/reported`, '-m', '7']);
    const read = await jsonRequest(running.urls.http, 'GET', `/things/${encodeURIComponent(THING)}/properties/brightness`, { token: tokens.viewer });
    assert.equal(read.body, 42, 'a viewer cannot report values');
  });
});
