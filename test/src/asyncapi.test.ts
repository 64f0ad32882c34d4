// docs/asyncapi/twinhub.yaml is a valid AsyncAPI 3 document (the official parser says so) and
// cannot drift from the code: its MQTT channels are exactly the topics the binding builds, its
// operation and notification enums exactly the core's.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { Parser } from '@asyncapi/parser';
import { ALL_OPERATIONS, NOTIFICATION_OPERATIONS } from '@twinhub/core';
import { topics } from '@twinhub/binding-mqtt';

const SOURCE = fileURLToPath(new URL('../../docs/asyncapi/twinhub.yaml', import.meta.url));

describe('AsyncAPI document', async () => {
  const { document, diagnostics } = await new Parser().parse(readFileSync(SOURCE, 'utf8'), { source: SOURCE });
  // Severity 0 = error (Spectral's DiagnosticSeverity).
  const errors = diagnostics.filter((d) => d.severity === 0).map((d) => `${d.path.join('.')}: ${d.message}`);

  it('is valid AsyncAPI 3 (official parser, no errors)', () => {
    assert.deepEqual(errors, []);
    assert.ok(document, 'the parser produced a document');
    assert.equal(document.version(), '3.0.0');
  });

  it('has exactly the MQTT topics the binding publishes and accepts', () => {
    // Build every topic with placeholder levels, then name the levels as the document does.
    const placeholders = topics as Record<string, (...levels: string[]) => string>;
    const built = Object.values(placeholders).map((topic) =>
      (topic.length === 2 ? topic('THINGID', 'NAME') : topic('CLIENTID'))
        .replace('THINGID', '{thingId}')
        .replace('NAME', '{name}')
        .replace('CLIENTID', '{clientId}'),
    );
    const documented = document!
      .channels()
      .all()
      .filter((channel) =>
        channel
          .servers()
          .all()
          .some((server) => server.protocol() === 'mqtt'),
      )
      .map((channel) => channel.address());
    assert.deepEqual([...documented].sort(), [...built].sort());
  });

  it('lists every core operation and notification kind, and no other', () => {
    const schemas = document!.components().schemas();
    const enumOf = (id: string) => schemas.get(id)?.enum() as string[] | undefined;
    assert.deepEqual([...(enumOf('Operation') ?? [])].sort(), [...ALL_OPERATIONS].sort());
    assert.deepEqual([...(enumOf('NotificationOperation') ?? [])].sort(), [...NOTIFICATION_OPERATIONS].sort());
  });
});
