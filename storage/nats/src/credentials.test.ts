// `credsFile`: the store signs the server's nonce with the NKey seed of a credentials file, on a real
// nats-server requiring NKey authentication. The user JWT part is not checked by such a server
// (only operator mode checks it; not tested here, see docs/cluster.md).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nkeys } from '@nats-io/transport-node';
import { StoreError } from '@twinhub/bucket';
import { NatsStore, withoutCredentials } from './index.js';
import { freePort, natsServerPath, natsSkipReason } from './testing.js';

const skip = natsSkipReason();

/** A credentials file as `nsc` writes it: the user JWT, then the user's NKey seed. */
function credsFile(jwt: string, seed: string): string {
  return `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n************************* IMPORTANT *************************\nNKEY Seed printed below can be used to sign and prove identity.\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`;
}

describe('NatsStore with a credentials file on a server requiring NKey authentication', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'twinhub-creds-'));
  const user = nkeys.createUser();
  const seed = new TextDecoder().decode(user.getSeed());
  let server: ChildProcess;
  let url: string;
  before(async () => {
    const port = await freePort();
    url = `nats://127.0.0.1:${port}`;
    const config = join(dir, 'server.conf');
    writeFileSync(
      config,
      `host: 127.0.0.1\nport: ${port}\njetstream { store_dir: "${join(dir, 'js')}" }\nauthorization { users: [ { nkey: ${user.getPublicKey()} } ] }\n`,
    );
    server = spawn(natsServerPath() as string, ['-c', config], { stdio: 'ignore' });
    // Ready once a connection is refused for lack of credentials rather than for lack of a listener.
    for (let i = 0; i < 100; i++) {
      const attempt = await NatsStore.open({ servers: url, timeoutMs: 500, compaction: false }).catch((error: unknown) => error);
      if (attempt instanceof StoreError && /auth/i.test(String(attempt.cause))) break;
      if (attempt instanceof NatsStore) await attempt.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
  after(() => {
    server?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('connects with the seed of the credentials file, refuses another key, names a missing file', async () => {
    const good = join(dir, 'user.creds');
    // A server without an operator does not read the JWT part; any token stands in for it.
    writeFileSync(good, credsFile('eyJ0eXAiOiJKV1QifQ.e30.unchecked', seed));
    const store = await NatsStore.open({ servers: url, credsFile: good, stream: 'creds', compaction: false });
    try {
      await store.batch([{ bucket: 'b', type: 'put', key: 'k', value: 'v' }]);
      assert.equal(await store.bucket('b').get('k'), 'v');
    } finally {
      await store.close();
    }

    const other = join(dir, 'other.creds');
    writeFileSync(other, credsFile('eyJ0eXAiOiJKV1QifQ.e30.unchecked', new TextDecoder().decode(nkeys.createUser().getSeed())));
    const refused = await NatsStore.open({ servers: url, credsFile: other, timeoutMs: 2000, compaction: false }).catch((error: unknown) => error);
    assert.ok(refused instanceof StoreError && refused.code === 'unavailable', String(refused));
    assert.ok(!String(refused.message).includes('SU'), 'the seed is not in the message');

    const missing = join(dir, 'missing.creds');
    await assert.rejects(
      () => NatsStore.open({ servers: url, credsFile: missing, compaction: false }),
      (error: unknown) => error instanceof StoreError && error.code === 'unavailable' && error.message.includes(missing),
    );
  });
});

describe('server URLs shown in errors and the start banner', () => {
  it('lose the user and password they may carry, and nothing else', async () => {
    assert.equal(withoutCredentials('nats://alice:s3cret@nats-1:4222'), 'nats://nats-1:4222');
    assert.equal(withoutCredentials('nats://token-only@nats-1:4222'), 'nats://nats-1:4222');
    assert.equal(withoutCredentials('nats://nats-1:4222'), 'nats://nats-1:4222');
    assert.equal(withoutCredentials('tls://[::1]:4443'), 'tls://[::1]:4443');
    // A store that cannot connect names where, without the secret.
    const store = new NatsStore({ servers: ['nats://alice:s3cret@127.0.0.1:1'], timeoutMs: 300 });
    const error = await store
      .bucket('b')
      .get('k')
      .then(
        () => undefined,
        (e: unknown) => e as StoreError,
      );
    await store.close();
    assert.ok(error instanceof StoreError, String(error));
    assert.match(error.message, /127\.0\.0\.1:1/);
    assert.doesNotMatch(error.message, /s3cret|alice/);
  });
});
