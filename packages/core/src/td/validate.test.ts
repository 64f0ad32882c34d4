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
    const problems = problemsOf(mutate((td) => { delete td['@context']; delete td.security; delete td.securityDefinitions; }));
    assert.deepEqual(problems.map((p) => p.pointer).sort(), ['/@context', '/security', '/securityDefinitions']);
  });

  it('says which @context values are allowed', () => {
    const message = messageAt(problemsOf(mutate((td) => { td['@context'] = 'https://example.com/ctx'; })), '/@context');
    assert.match(message, /https:\/\/www\.w3\.org\/2022\/wot\/td\/v1\.1/);
    assert.match(message, /https:\/\/www\.w3\.org\/2019\/wot\/td\/v1/);
    assert.match(message, /array/);
  });

  it('lists the allowed data types for a wrong property type', () => {
    const problems = problemsOf(mutate((td) => { td.properties.brightness.type = 'float'; }));
    assert.deepEqual(problems, [{
      pointer: '/properties/brightness/type',
      message: 'must be equal to one of the allowed values: "boolean", "integer", "number", "string", "object", "array", "null"',
    }]);
  });

  it('reports every problem at once, with the first one in the detail', () => {
    const error = catchHubError(() => validateThingDescription(mutate((td) => {
      td.properties.brightness.minimum = 'zero';
      td.properties.status.observable = 'yes';
      delete td.actions.toggle.forms;
    }), LIMIT));
    const problems = error.problem.errors ?? [];
    assert.equal(messageAt(problems, '/properties/brightness/minimum'), 'must be of type number');
    assert.equal(messageAt(problems, '/properties/status/observable'), 'must be of type boolean');
    assert.equal(messageAt(problems, '/actions/toggle/forms'), "required property 'forms' is missing");
    assert.equal(problems.length, 3);
    assert.match(error.problem.detail, /3 problems; first, at \/properties\//);
  });

  it('rejects an unknown security scheme, naming the known ones', () => {
    const problems = problemsOf(mutate((td) => { td.securityDefinitions.basic_sc = { scheme: 'magic' }; }));
    assert.equal(problems.length, 1, JSON.stringify(problems));
    assert.equal(problems[0].pointer, '/securityDefinitions/basic_sc/scheme');
    for (const scheme of ['nosec', 'basic', 'bearer', 'oauth2']) assert.match(problems[0].message, new RegExp(`"${scheme}"`));
    assert.match(problems[0].message, /or match pattern ".\+:\.\*"$/);
  });

  it('points at the wrong member of a known security scheme, not at its name', () => {
    const problems = problemsOf(mutate((td) => { td.securityDefinitions.basic_sc = { scheme: 'bearer', in: 'nowhere' }; }));
    assert.equal(problems.length, 1, JSON.stringify(problems));
    assert.deepEqual(problems[0], {
      pointer: '/securityDefinitions/basic_sc/in',
      message: 'must be equal to one of the allowed values: "header", "query", "body", "cookie", "auto"',
    });
  });

  it('checks a combo scheme against the combo definition only', () => {
    const problems = problemsOf(mutate((td) => { td.securityDefinitions.combo_sc = { scheme: 'combo', oneOf: ['basic_sc'] }; }));
    assert.match(messageAt(problems, '/securityDefinitions/combo_sc/oneOf'), /fewer than 2 items/);
    assert.equal(problems.length, 1, JSON.stringify(problems));
  });

  it('accepts a prefixed additional security scheme', () => {
    assert.doesNotThrow(() => validateThingDescription(mutate((td) => {
      td.securityDefinitions.ace_sc = { scheme: 'ace:ACESecurityScheme', 'ace:as': 'coaps://as.example.com/token' };
    }), LIMIT));
  });

  it('rejects security names that securityDefinitions does not define', () => {
    const problems = problemsOf(mutate((td) => {
      td.security = ['basic_sc', 'bearer_sc'];
      td.properties.status.forms[0].security = 'oauth_sc';
    }));
    assert.match(messageAt(problems, '/security/1'), /"bearer_sc", which is not defined in securityDefinitions/);
    assert.match(messageAt(problems, '/properties/status/forms/0/security'), /"oauth_sc"/);
    assert.equal(problems.length, 2);
  });

  it('rejects an empty security array and empty securityDefinitions', () => {
    const problems = problemsOf(mutate((td) => { td.security = []; td.securityDefinitions = {}; }));
    assert.match(messageAt(problems, '/security'), /must be of type string, or must NOT have fewer than 1 items/);
    assert.match(messageAt(problems, '/securityDefinitions'), /fewer than 1 properties/);
  });

  it('rejects a form op that does not belong to the affordance kind', () => {
    const problems = problemsOf(mutate((td) => { td.actions.fade.forms[0].op = 'readproperty'; }));
    assert.match(messageAt(problems, '/actions/fade/forms/0/op'), /"invokeaction", "queryaction", "cancelaction", or be of type array/);
  });

  it('rejects a form without href', () => {
    const problems = problemsOf(mutate((td) => { delete td.events.overheating.forms[0].href; }));
    assert.equal(messageAt(problems, '/events/overheating/forms/0/href'), "required property 'href' is missing");
  });

  it('rejects a bad created date', () => {
    const problems = problemsOf(mutate((td) => { td.created = 'yesterday'; }));
    assert.equal(messageAt(problems, '/created'), 'must be a valid "date-time" string');
  });

  it('rejects a Thing Model', () => {
    const problems = problemsOf(mutate((td) => { td['@type'] = ['saref:LightSwitch', 'tm:ThingModel']; }));
    assert.match(messageAt(problems, '/@type'), /Thing Model/);
    assert.equal(problems.length, 1);
  });

  it('rejects a TD larger than the limit with 413, before validating it', () => {
    const td = mutate((t) => { t.description = 'x'.repeat(2000); delete t.title; });
    const error = catchHubError(() => validateThingDescription(td, 1500));
    assert.equal(error.status, 413);
    assert.match(error.problem.detail, /at most 1500/);
    assert.doesNotThrow(() => validateThingDescription(mutate((t) => { t.description = 'x'.repeat(2000); }), 4000));
  });

  it('counts the limit in UTF-8 bytes of JSON text', () => {
    const text = JSON.stringify(mutate((t) => { t.description = '€'.repeat(1000); }));
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
      const problems = problemsOf(mutate((td) => { td.id = id; }));
      assert.match(messageAt(problems, '/id'), reason);
      assert.equal(problems.length, 1, JSON.stringify(problems));
    });
  }

  it('accepts ids with slashes and plus signs', () => {
    assert.doesNotThrow(() => validateThingDescription(mutate((td) => { td.id = 'https://devices.example.com/lamps/a+b'; }), LIMIT));
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
      const problems = problemsOf(mutate((td) => { td.properties[name] = td.properties.status; }));
      assert.match(messageAt(problems, pointer), reason);
      assert.equal(problems.length, 1);
    });
  }

  it('checks action and event names too', () => {
    const problems = problemsOf(mutate((td) => { td.actions['do it'] = td.actions.toggle; td.events['x/y'] = td.events.overheating; }));
    assert.deepEqual(problems.map((p) => p.pointer), ['/actions/do it', '/events/x~1y']);
  });

  it('rejects a DataSchema the hub could not use to check values', () => {
    const problems = problemsOf(mutate((td) => { td.actions.fade.input.properties.level = { type: 'string', pattern: '([a-z' }; }));
    assert.match(messageAt(problems, '/actions/fade/input'), /cannot be used to validate data/);
  });
});
