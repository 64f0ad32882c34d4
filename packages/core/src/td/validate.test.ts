import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isHubError, type HubError } from '../model/errors.js';
import type { ProblemDetailItem } from '../model/types.js';
import { validateThingDescription } from './validate.js';
import { lampTd } from './test-fixtures.js';

const LIMIT = 256 * 1024;

/** Runs validation expecting a 400 and returns its listed problems. */
function problemsOf(td: unknown, maxBytes = LIMIT): ProblemDetailItem[] {
  const error = catchHubError(() => validateThingDescription(td, maxBytes));
  assert.equal(error.status, 400, error.message);
  assert.ok(error.problem.errors && error.problem.errors.length > 0, 'a 400 lists its problems');
  return error.problem.errors;
}

function catchHubError(fn: () => unknown): HubError {
  try {
    fn();
  } catch (error) {
    assert.ok(isHubError(error), `expected a HubError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected validation to fail');
}

function messageAt(problems: ProblemDetailItem[], pointer: string): string {
  const found = problems.filter((p) => p.pointer === pointer);
  assert.equal(found.length, 1, `one problem at ${pointer}, got ${JSON.stringify(problems)}`);
  return found[0].message;
}

// `any` keeps the fixture edits short; each test breaks the TD on purpose.
// biome-ignore lint/suspicious/noExplicitAny: mutations reach deep into an arbitrary TD document
function mutate(change: (td: Record<string, any>) => void): Record<string, unknown> {
  const td = lampTd();
  change(td);
  return td;
}

describe('validateThingDescription', () => {
  it('accepts a complete lamp TD and returns it unchanged', () => {
    const td = lampTd();
    const result = validateThingDescription(td, LIMIT);
    assert.equal(result, td);
    assert.deepEqual(result, lampTd());
  });

  it('accepts JSON text and returns the parsed TD', () => {
    const result = validateThingDescription(JSON.stringify(lampTd()), LIMIT);
    assert.deepEqual(result, lampTd());
  });

  it('accepts a minimal TD without an id and with the TD 1.0 context', () => {
    const td = { '@context': 'https://www.w3.org/2019/wot/td/v1', title: 't', securityDefinitions: { nosec_sc: { scheme: 'nosec' } }, security: ['nosec_sc'] };
    assert.equal(validateThingDescription(td, LIMIT), td);
  });

  it('reports a missing title at /title', () => {
    const problems = problemsOf(mutate((td) => delete td.title));
    assert.equal(messageAt(problems, '/title'), "required property 'title' is missing");
  });

  it('reports a missing @context, security and securityDefinitions, each at its own pointer', () => {
    const problems = problemsOf(
      mutate((td) => {
        delete td['@context'];
        delete td.security;
        delete td.securityDefinitions;
      }),
    );
    assert.deepEqual(problems.map((p) => p.pointer).sort(), ['/@context', '/security', '/securityDefinitions']);
  });

  it('says which @context values are allowed', () => {
    const message = messageAt(
      problemsOf(
        mutate((td) => {
          td['@context'] = 'https://example.com/ctx';
        }),
      ),
      '/@context',
    );
    assert.match(message, /https:\/\/www\.w3\.org\/2022\/wot\/td\/v1\.1/);
    assert.match(message, /https:\/\/www\.w3\.org\/2019\/wot\/td\/v1/);
    assert.match(message, /array/);
  });

  it('lists the allowed data types for a wrong property type', () => {
    const problems = problemsOf(
      mutate((td) => {
        td.properties.brightness.type = 'float';
      }),
    );
    assert.deepEqual(problems, [
      {
        pointer: '/properties/brightness/type',
        message: 'must be equal to one of the allowed values: "boolean", "integer", "number", "string", "object", "array", "null"',
      },
    ]);
  });

  it('reports every problem at once, with the first one in the detail', () => {
    const error = catchHubError(() =>
      validateThingDescription(
        mutate((td) => {
          td.properties.brightness.minimum = 'zero';
          td.properties.status.observable = 'yes';
          delete td.actions.toggle.forms;
        }),
        LIMIT,
      ),
    );
    const problems = error.problem.errors ?? [];
    assert.equal(messageAt(problems, '/properties/brightness/minimum'), 'must be of type number');
    assert.equal(messageAt(problems, '/properties/status/observable'), 'must be of type boolean');
    assert.equal(messageAt(problems, '/actions/toggle/forms'), "required property 'forms' is missing");
    assert.equal(problems.length, 3);
    assert.match(error.problem.detail, /3 problems; first, at \/properties\//);
  });

  it('rejects an unknown security scheme, naming the known ones', () => {
    const problems = problemsOf(
      mutate((td) => {
        td.securityDefinitions.basic_sc = { scheme: 'magic' };
      }),
    );
    assert.equal(problems.length, 1, JSON.stringify(problems));
    assert.equal(problems[0].pointer, '/securityDefinitions/basic_sc/scheme');
    for (const scheme of ['nosec', 'basic', 'bearer', 'oauth2']) assert.match(problems[0].message, new RegExp(`"${scheme}"`));
    assert.match(problems[0].message, /or match pattern ".\+:\.\*"$/);
  });

  it('points at the wrong member of a known security scheme, not at its name', () => {
    const problems = problemsOf(
      mutate((td) => {
        td.securityDefinitions.basic_sc = { scheme: 'bearer', in: 'nowhere' };
      }),
    );
    assert.equal(problems.length, 1, JSON.stringify(problems));
    assert.deepEqual(problems[0], {
      pointer: '/securityDefinitions/basic_sc/in',
      message: 'must be equal to one of the allowed values: "header", "query", "body", "cookie", "auto"',
    });
  });

  it('checks a combo scheme against the combo definition only', () => {
    const problems = problemsOf(
      mutate((td) => {
        td.securityDefinitions.combo_sc = { scheme: 'combo', oneOf: ['basic_sc'] };
      }),
    );
    assert.match(messageAt(problems, '/securityDefinitions/combo_sc/oneOf'), /fewer than 2 items/);
    assert.equal(problems.length, 1, JSON.stringify(problems));
  });

  it('accepts a prefixed additional security scheme', () => {
    assert.doesNotThrow(() =>
      validateThingDescription(
        mutate((td) => {
          td.securityDefinitions.ace_sc = { scheme: 'ace:ACESecurityScheme', 'ace:as': 'coaps://as.example.com/token' };
        }),
        LIMIT,
      ),
    );
  });

  it('rejects security names that securityDefinitions does not define', () => {
    const problems = problemsOf(
      mutate((td) => {
        td.security = ['basic_sc', 'bearer_sc'];
        td.properties.status.forms[0].security = 'oauth_sc';
      }),
    );
    assert.match(messageAt(problems, '/security/1'), /"bearer_sc", which is not defined in securityDefinitions/);
    assert.match(messageAt(problems, '/properties/status/forms/0/security'), /"oauth_sc"/);
    assert.equal(problems.length, 2);
  });

  it('rejects an empty security array and empty securityDefinitions', () => {
    const problems = problemsOf(
      mutate((td) => {
        td.security = [];
        td.securityDefinitions = {};
      }),
    );
    assert.match(messageAt(problems, '/security'), /must be of type string, or must NOT have fewer than 1 items/);
    assert.match(messageAt(problems, '/securityDefinitions'), /fewer than 1 properties/);
  });

  it('rejects a form op that does not belong to the affordance kind', () => {
    const problems = problemsOf(
      mutate((td) => {
        td.actions.fade.forms[0].op = 'readproperty';
      }),
    );
    assert.match(messageAt(problems, '/actions/fade/forms/0/op'), /"invokeaction", "queryaction", "cancelaction", or be of type array/);
  });

  it('rejects a form without href', () => {
    const problems = problemsOf(
      mutate((td) => {
        delete td.events.overheating.forms[0].href;
      }),
    );
    assert.equal(messageAt(problems, '/events/overheating/forms/0/href'), "required property 'href' is missing");
  });

  it('rejects a bad created date', () => {
    const problems = problemsOf(
      mutate((td) => {
        td.created = 'yesterday';
      }),
    );
    assert.equal(messageAt(problems, '/created'), 'must be a valid "date-time" string');
  });

  it('rejects a Thing Model', () => {
    const problems = problemsOf(
      mutate((td) => {
        td['@type'] = ['saref:LightSwitch', 'tm:ThingModel'];
      }),
    );
    assert.match(messageAt(problems, '/@type'), /Thing Model/);
    assert.equal(problems.length, 1);
  });

  it('rejects a TD larger than the limit with 413, before validating it', () => {
    const td = mutate((t) => {
      t.description = 'x'.repeat(2000);
      delete t.title;
    });
    const error = catchHubError(() => validateThingDescription(td, 1500));
    assert.equal(error.status, 413);
    assert.match(error.problem.detail, /at most 1500/);
    assert.doesNotThrow(() =>
      validateThingDescription(
        mutate((t) => {
          t.description = 'x'.repeat(2000);
        }),
        4000,
      ),
    );
  });

  it('counts the limit in UTF-8 bytes of JSON text', () => {
    const text = JSON.stringify(
      mutate((t) => {
        t.description = '€'.repeat(1000);
      }),
    );
    assert.equal(catchHubError(() => validateThingDescription(text, text.length + 10)).status, 413);
    assert.doesNotThrow(() => validateThingDescription(text, Buffer.byteLength(text)));
  });

  it('rejects non-objects and broken JSON text with 400', () => {
    for (const input of [null, 42, 'null', [lampTd()], undefined]) {
      assert.deepEqual(problemsOf(input), [{ pointer: '', message: 'must be a JSON object' }], String(input));
    }
    assert.match(problemsOf('{"title": ')[0].message, /not valid JSON/);
  });

  for (const [id, reason] of [
    ['no-scheme-1234', /scheme/],
    ['urn:dev:lamp 1', /whitespace/],
    ['urn:dev:lamp\u0000', /control/],
    ['https://x.example/things#lamp', /'#'/],
    ['https://x.example/a/../b', /'\.\.'/],
    ['', /empty/],
    [`urn:${'x'.repeat(600)}`, /512/],
    [42, /string/],
  ] as const) {
    it(`rejects the id ${JSON.stringify(id).slice(0, 40)} at /id`, () => {
      const problems = problemsOf(
        mutate((td) => {
          td.id = id;
        }),
      );
      assert.match(messageAt(problems, '/id'), reason);
      assert.equal(problems.length, 1, JSON.stringify(problems));
    });
  }

  it('accepts ids with slashes and plus signs', () => {
    assert.doesNotThrow(() =>
      validateThingDescription(
        mutate((td) => {
          td.id = 'https://devices.example.com/lamps/a+b';
        }),
        LIMIT,
      ),
    );
  });

  for (const [name, pointer, reason] of [
    ['with space', '/properties/with space', /whitespace/],
    ['a/b', '/properties/a~1b', /'\/'/],
    ['a#b', '/properties/a#b', /'#'/],
    ['a+', '/properties/a+', /'\+'/],
    ['', '/properties/', /empty/],
    ['n'.repeat(129), `/properties/${'n'.repeat(129)}`, /128/],
  ] as const) {
    it(`rejects the property name ${JSON.stringify(name).slice(0, 20)}`, () => {
      const problems = problemsOf(
        mutate((td) => {
          td.properties[name] = td.properties.status;
        }),
      );
      assert.match(messageAt(problems, pointer), reason);
      assert.equal(problems.length, 1);
    });
  }

  it('checks action and event names too', () => {
    const problems = problemsOf(
      mutate((td) => {
        td.actions['do it'] = td.actions.toggle;
        td.events['x/y'] = td.events.overheating;
      }),
    );
    assert.deepEqual(
      problems.map((p) => p.pointer),
      ['/actions/do it', '/events/x~1y'],
    );
  });

  it('rejects a DataSchema the hub could not use to check values', () => {
    const problems = problemsOf(
      mutate((td) => {
        td.actions.fade.input.properties.level = { type: 'string', pattern: '([a-z' };
      }),
    );
    assert.match(messageAt(problems, '/actions/fade/input/properties/level/pattern'), /cannot be used to validate data/);
  });
});

describe('validateThingDescription: hardening', () => {
  /** JSON text of a TD whose property `p` nests `levels` object schemas (built as text: too deep for JSON.stringify). */
  function deepTdText(levels: number): string {
    const schema = `${'{"type":"object","properties":{"a":'.repeat(levels)}{"type":"string"}${'}}'.repeat(levels)}`;
    const lamp = JSON.stringify(lampTd());
    return `${lamp.slice(0, lamp.indexOf('"properties":{') + '"properties":{'.length)}"p":${schema.slice(0, -1)},"forms":[{"href":"p"}]},${lamp.slice(lamp.indexOf('"properties":{') + '"properties":{'.length)}`;
  }
  const deepTd = (levels: number) => JSON.parse(deepTdText(levels)) as Record<string, unknown>;

  it('refuses a TD nested 3,000 levels deep with a 400 naming the limit, as an object and as JSON text', () => {
    for (const input of [deepTd(3000), deepTdText(3000)]) {
      const error = catchHubError(() => validateThingDescription(input, 10 * LIMIT));
      assert.equal(error.status, 400);
      assert.match(error.problem.detail, /nested too deeply.*64 levels/);
      assert.match(error.problem.errors?.[0]?.pointer ?? '', /^\/properties\/p(\/properties\/a)+/);
    }
  });

  it('accepts 64 levels and refuses 65 (the root is level 1)', () => {
    // root, properties, p = 3 levels; each schema level adds 2 (properties, a); forms adds 2.
    assert.doesNotThrow(() => validateThingDescription(deepTd(30), LIMIT));
    const exactly64 = mutate((td) => {
      td.extra = JSON.parse(`${'['.repeat(63)}${']'.repeat(63)}`);
    });
    assert.doesNotThrow(() => validateThingDescription(exactly64, LIMIT));
    const deeper = mutate((td) => {
      td.extra = JSON.parse(`${'['.repeat(64)}${']'.repeat(64)}`);
    });
    assert.match(catchHubError(() => validateThingDescription(deeper, LIMIT)).problem.detail, /64 levels/);
  });

  for (const name of ['__proto__', 'constructor', 'prototype']) {
    it(`refuses ${name} as a property, action, event and uriVariable name`, () => {
      const named = (value: unknown) => JSON.parse(`{${JSON.stringify(name)}: ${JSON.stringify(value)}}`) as Record<string, unknown>;
      const problems = problemsOf(
        mutate((td) => {
          td.properties = { ...td.properties, ...named(td.properties.status) };
          td.actions = named(td.actions.toggle);
          td.events = named(td.events.overheating);
          td.properties.brightness.uriVariables = named({ type: 'string' });
        }),
      );
      for (const pointer of [`/properties/${name}`, `/actions/${name}`, `/events/${name}`, `/properties/brightness/uriVariables/${name}`]) {
        assert.match(messageAt(problems, pointer), /is reserved/);
      }
    });
  }

  for (const [label, name, reason] of [
    ['a lone high surrogate', 'a\ud800', /lone UTF-16 surrogate/],
    ['a lone low surrogate', '\udc00b', /lone UTF-16 surrogate/],
    ['a right-to-left override', 'abc\u202Edef', /invisible formatting/],
    ['a left-to-right isolate', '\u2066a', /invisible formatting/],
    ['a zero-width space', 'bright\u200Bness', /invisible formatting/],
    ['a zero-width joiner', 'a\u200Db', /invisible formatting/],
    ['a byte order mark', '\uFEFFa', /whitespace|invisible formatting/],
  ] as const) {
    it(`refuses an affordance name, uriVariable name and Thing ID with ${label}`, () => {
      const problems = problemsOf(
        mutate((td) => {
          td.id = `urn:dev:${name}`;
          td.events[name] = td.events.overheating;
          td.actions.fade.uriVariables = { [name]: { type: 'string' } };
        }),
      );
      assert.match(messageAt(problems, '/id'), reason);
      assert.match(messageAt(problems, `/events/${name}`), reason);
      assert.match(messageAt(problems, `/actions/fade/uriVariables/${name}`), reason);
    });
  }

  it('accepts a pattern with nested quantifiers: the hub runs patterns in linear time', () => {
    assert.doesNotThrow(() =>
      validateThingDescription(
        mutate((td) => {
          td.properties.status = { type: 'string', pattern: '^(a+)+$', forms: [{ href: 's' }] };
        }),
        LIMIT,
      ),
    );
  });

  it('accepts ECMA-262 \\u escapes (translated for RE2), including a surrogate pair', () => {
    assert.doesNotThrow(() =>
      validateThingDescription(
        mutate((td) => {
          td.properties.status = { type: 'string', pattern: '^[\\u0041-\\u005A]+\\uD83D\\uDE00\\u{1F600}$', forms: [{ href: 's' }] };
        }),
        LIMIT,
      ),
    );
  });

  it('refuses patterns RE2 cannot run (lookaround, backreferences) wherever a schema is, naming the pointer', () => {
    const lookahead = '^(?=a)a$';
    const backreference = '^(a)\\1$';
    const problems = problemsOf(
      mutate((td) => {
        td.schemaDefinitions = { code: { type: 'string', pattern: lookahead } };
        td.properties.config.properties.name.pattern = lookahead;
        td.properties.config.properties.tags.items.pattern = backreference;
        td.properties.config.oneOf = [{ type: 'object' }, { type: 'object', properties: { x: { type: 'string', pattern: '(?<=a)b' } } }];
        td.properties.config.patternProperties = { '^(?!x)': { type: 'string' }, '^y': { type: 'string', pattern: lookahead } };
        td.properties.brightness.uriVariables = { unit: { type: 'string', pattern: lookahead } };
        td.actions.fade.input.properties.level = { type: 'string', pattern: backreference };
        td.actions.fade.output.properties.reached = { type: 'string', pattern: lookahead };
        td.events.overheating.data.properties.celsius = { type: 'string', pattern: lookahead };
        td.events.overheating.subscription = { type: 'string', pattern: lookahead };
      }),
    );
    assert.deepEqual(problems.map((p) => p.pointer).sort(), [
      '/actions/fade/input/properties/level/pattern',
      '/actions/fade/output/properties/reached/pattern',
      '/events/overheating/data/properties/celsius/pattern',
      '/events/overheating/subscription/pattern',
      '/properties/brightness/uriVariables/unit/pattern',
      '/properties/config/oneOf/1/properties/x/pattern',
      '/properties/config/patternProperties/^(?!x)',
      '/properties/config/patternProperties/^y/pattern',
      '/properties/config/properties/name/pattern',
      '/properties/config/properties/tags/items/pattern',
      '/schemaDefinitions/code/pattern',
    ]);
    for (const problem of problems) assert.match(problem.message, /linear-time regular-expression engine \(RE2\)/);
  });
});
