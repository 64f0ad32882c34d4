import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, defaultConfig, resolveConfig, settingsHelp } from './config.js';

describe('hub configuration', () => {
  it('uses safe defaults: embedded store in ./data, loopback only, embedded MQTT', () => {
    const config = resolveConfig({}, {});
    assert.deepEqual(config, defaultConfig());
    assert.equal(config.dataDir, './data');
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.mqtt, true);
  });

  it('reads TWINHUB_* variables and lets flags override them', () => {
    const env = { TWINHUB_DATA: '/var/lib/twinhub', TWINHUB_HTTP_PORT: '9000', TWINHUB_MAX_QUEUED_ACTIONS: '5', TWINHUB_NO_MQTT: 'true' };
    const fromEnv = resolveConfig({}, env);
    assert.equal(fromEnv.dataDir, '/var/lib/twinhub');
    assert.equal(fromEnv.httpPort, 9000);
    assert.equal(fromEnv.limits.maxQueuedRequestsPerThing, 5);
    assert.equal(fromEnv.mqtt, false);
    const overridden = resolveConfig({ data: './elsewhere', 'http-port': '0', 'action-ttl': '60' }, env);
    assert.equal(overridden.dataDir, './elsewhere');
    assert.equal(overridden.httpPort, 0);
    assert.equal(overridden.requestTtlSeconds, 60, 'the old --action-ttl name still works');
  });

  it('refuses malformed numbers and a TLS key without a certificate, naming the setting', () => {
    assert.throws(
      () => resolveConfig({ 'http-port': 'eighty' }, {}),
      (error: unknown) => error instanceof ConfigError && /--http-port/.test(error.message),
    );
    assert.throws(() => resolveConfig({}, { TWINHUB_MAX_PAYLOAD_BYTES: '-1' }), /TWINHUB_MAX_PAYLOAD_BYTES/);
    assert.throws(() => resolveConfig({ 'tls-key': 'key.pem' }, {}), /--tls-cert and --tls-key go together/);
  });

  it('reads public URLs and refuses ones that cannot be form hrefs', () => {
    const config = resolveConfig({ 'public-url': 'https://hub.example.com' }, { TWINHUB_MQTT_PUBLIC_URL: 'mqtts://mqtt.example.com:8883' });
    assert.equal(config.publicUrl, 'https://hub.example.com');
    assert.equal(config.mqttPublicUrl, 'mqtts://mqtt.example.com:8883');
    assert.throws(
      () => resolveConfig({ 'public-url': 'hub.example.com' }, {}),
      /--public-url \(TWINHUB_PUBLIC_URL\) must be an absolute http:\/\/ or https:\/\/ URL/,
    );
    assert.throws(() => resolveConfig({}, { TWINHUB_PUBLIC_URL: 'ftp://hub.example.com' }), /TWINHUB_PUBLIC_URL/);
    assert.throws(() => resolveConfig({ 'mqtt-public-url': 'https://hub.example.com' }, {}), /--mqtt-public-url .* mqtt:\/\/ or mqtts:\/\//);
  });

  it('takes an MQTT 5 share group only as a valid ShareName (no /, + or #)', () => {
    assert.equal(resolveConfig({}, {}).mqttShareGroup, 'twinhub');
    assert.equal(resolveConfig({ 'mqtt-share-group': 'hubs-eu' }, {}).mqttShareGroup, 'hubs-eu');
    for (const bad of ['a/b', 'a+', '#']) assert.throws(() => resolveConfig({ 'mqtt-share-group': bad }, {}), /--mqtt-share-group .* no '\/', '\+' or '#'/);
    assert.throws(() => resolveConfig({}, { TWINHUB_MQTT_SHARE_GROUP: 'x/y' }), /TWINHUB_MQTT_SHARE_GROUP/);
  });

  it('reads --cors-origin repeated or TWINHUB_CORS_ORIGIN comma-separated, as browsers serialize origins', () => {
    assert.deepEqual(resolveConfig({}, {}).corsOrigins, []);
    assert.deepEqual(resolveConfig({}, { TWINHUB_CORS_ORIGIN: 'https://a.example, http://B.example:80/' }).corsOrigins, [
      'https://a.example',
      'http://b.example',
    ]);
    assert.deepEqual(
      resolveConfig({ 'cors-origin': ['https://c.example:8443', 'http://localhost:5173'] }, { TWINHUB_CORS_ORIGIN: 'https://a.example' }).corsOrigins,
      ['https://c.example:8443', 'http://localhost:5173'],
    );
    for (const bad of ['*', 'null', 'app.example', 'https://app.example/ui', 'ftp://app.example']) {
      assert.throws(() => resolveConfig({ 'cors-origin': [bad] }, {}), /--cors-origin \(TWINHUB_CORS_ORIGIN\) must be an http:\/\/ or https:\/\/ origin/, bad);
    }
    assert.throws(() => resolveConfig({ 'http-port': ['1', '2'] }, {}), /--http-port may be given once/);
  });

  it('documents every setting with its environment variable', () => {
    const help = settingsHelp();
    for (const name of ['--data', 'TWINHUB_DATA', '--mqtt-url', '--mqtt-public-url', 'TWINHUB_MQTT_PUBLIC_URL', '--max-send-buffer-bytes', 'TWINHUB_LOG_LEVEL'])
      assert.ok(help.includes(name), name);
    for (const line of help.split('\n')) assert.match(line, /^ {2}--\S+( <value>)? +\S/, `flag and help are separated: ${line}`);
  });
});
