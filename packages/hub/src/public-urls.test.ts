// The public-URL rules for every binding: listen host × --public-url × TLS × --mqtt-public-url ×
// external broker, including IPv6 literals.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { publicUrls, type BindingUrls, type PublicUrlSettings } from './public-urls.js';

const machine = () => 'twin-box';
const listeningAt = (host: string, tls = false): BindingUrls => ({
  http: `${tls ? 'https' : 'http'}://${host}:8080`,
  ws: `${tls ? 'wss' : 'ws'}://${host}:8080/ws`,
  mqtt: `${tls ? 'mqtts' : 'mqtt'}://${host}:1883`,
});
const derive = (settings: PublicUrlSettings, listening: BindingUrls) => publicUrls(settings, listening, machine);

describe('publicUrls', () => {
  it('names a specific listen host as it is', () => {
    assert.deepEqual(derive({ host: '127.0.0.1' }, listeningAt('127.0.0.1')), {
      http: 'http://127.0.0.1:8080',
      ws: 'ws://127.0.0.1:8080/ws',
      mqtt: 'mqtt://127.0.0.1:1883',
    });
    assert.deepEqual(derive({ host: 'hub.lan' }, listeningAt('127.0.0.1')).mqtt, 'mqtt://hub.lan:1883');
  });

  it('names the machine, never 0.0.0.0 or ::, for an unspecified listen host', () => {
    const expected = { http: 'http://twin-box:8080', ws: 'ws://twin-box:8080/ws', mqtt: 'mqtt://twin-box:1883' };
    // The bindings report loopback (http, ws) or the raw address (the embedded broker) for these.
    assert.deepEqual(derive({ host: '0.0.0.0' }, { ...listeningAt('127.0.0.1'), mqtt: 'mqtt://0.0.0.0:1883' }), expected);
    assert.deepEqual(derive({ host: '::' }, { ...listeningAt('[::1]'), mqtt: 'mqtt://[::]:1883' }), expected);
  });

  it('puts IPv6 literal hosts in brackets (RFC 3986 §3.2.2)', () => {
    assert.deepEqual(derive({ host: '::1' }, listeningAt('[::1]')), { http: 'http://[::1]:8080', ws: 'ws://[::1]:8080/ws', mqtt: 'mqtt://[::1]:1883' });
    assert.equal(derive({ host: 'fe80::1' }, listeningAt('[fe80::1]')).http, 'http://[fe80::1]:8080');
  });

  it('follows TLS: https, wss and mqtts', () => {
    assert.deepEqual(derive({ host: '0.0.0.0' }, listeningAt('127.0.0.1', true)), {
      http: 'https://twin-box:8080',
      ws: 'wss://twin-box:8080/ws',
      mqtt: 'mqtts://twin-box:1883',
    });
  });

  it('uses --public-url for HTTP and WS, and its host with the broker port for MQTT', () => {
    for (const host of ['127.0.0.1', '0.0.0.0', '::', '::1']) {
      assert.deepEqual(derive({ host, publicUrl: 'https://hub.example.com' }, listeningAt('127.0.0.1')), {
        http: 'https://hub.example.com',
        ws: 'wss://hub.example.com/ws',
        mqtt: 'mqtt://hub.example.com:1883',
      });
    }
    // The broker's own TLS decides mqtt vs mqtts, not the proxy's scheme.
    assert.equal(derive({ host: '0.0.0.0', publicUrl: 'http://hub.example.com' }, listeningAt('127.0.0.1', true)).mqtt, 'mqtts://hub.example.com:1883');
  });

  it('keeps a public base path and port, drops a trailing slash, query and user info', () => {
    assert.deepEqual(derive({ host: '0.0.0.0', publicUrl: 'http://user:secret@hub.example.com:9000/twins/?x=1#top' }, listeningAt('127.0.0.1')), {
      http: 'http://hub.example.com:9000/twins',
      ws: 'ws://hub.example.com:9000/twins/ws',
      mqtt: 'mqtt://hub.example.com:1883',
    });
  });

  it('takes an IPv6 literal public host with its brackets', () => {
    assert.deepEqual(derive({ host: '::', publicUrl: 'https://[2001:db8::1]:8443' }, listeningAt('[::1]')), {
      http: 'https://[2001:db8::1]:8443',
      ws: 'wss://[2001:db8::1]:8443/ws',
      mqtt: 'mqtt://[2001:db8::1]:1883',
    });
  });

  it('lets --mqtt-public-url override the MQTT URL only', () => {
    for (const settings of [
      { host: '0.0.0.0' },
      { host: '0.0.0.0', publicUrl: 'https://hub.example.com' },
      { host: '127.0.0.1', mqttUrl: 'mqtt://broker.lan:1883' },
    ]) {
      const urls = derive({ ...settings, mqttPublicUrl: 'mqtts://mqtt.example.com:8883/' }, listeningAt('127.0.0.1'));
      assert.equal(urls.mqtt, 'mqtts://mqtt.example.com:8883');
      assert.equal(urls.http, derive(settings, listeningAt('127.0.0.1')).http);
    }
  });

  it('names the external broker in external mode, without its credentials', () => {
    const listening = { ...listeningAt('127.0.0.1'), mqtt: 'mqtt://hub:pw@broker.lan:1883' };
    for (const settings of [{ host: '0.0.0.0' }, { host: '127.0.0.1', publicUrl: 'https://hub.example.com' }]) {
      assert.equal(derive({ ...settings, mqttUrl: 'mqtt://hub:pw@broker.lan:1883' }, listening).mqtt, 'mqtt://broker.lan:1883');
    }
  });

  it('has no MQTT URL without the MQTT binding', () => {
    const { mqtt: _none, ...withoutMqtt } = listeningAt('127.0.0.1');
    assert.equal(derive({ host: '0.0.0.0', mqttPublicUrl: 'mqtt://mqtt.example.com:1883' }, withoutMqtt).mqtt, undefined);
  });

  it('defaults to os.hostname() for an unspecified host', async () => {
    const { hostname } = await import('node:os');
    assert.equal(publicUrls({ host: '0.0.0.0' }, listeningAt('127.0.0.1')).http, new URL(`http://${hostname()}:8080`).toString().replace(/\/$/, ''));
  });
});
