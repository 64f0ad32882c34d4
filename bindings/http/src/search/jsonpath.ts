// JSONPath (RFC 9535) over the array of TDs a client may see, on the core's json-p3 environment
// whose match() and search() run on RE2 (linear time), so no pattern in a query can backtrack for ever.

import { linearJsonPath } from '@twinhub/core';
import { JSONPathError, type JSONPathEnvironment, type JSONValue } from 'json-p3';
import { badQuery, MAX_RESULT_BYTES, resultTooLarge, tooCostly, type Answer, type TdObject } from './protocol.js';

// Descendant segments visit at most this many nested levels (TDs are shallow).
const environment = linearJsonPath(64);

/**
 * Runs `query` over `tds` and answers the matched values as a JSON array. Values are serialized
 * as they are found, so an answer that would pass the size limit stops early instead of growing.
 */
export function runJsonPath(query: string, tds: TdObject[]): Answer {
  let compiled: ReturnType<JSONPathEnvironment['compile']>;
  try {
    compiled = environment.compile(query);
  } catch (error) {
    // json-p3 names the fault and where: "unclosed bracketed selection ('$.foo[':6)".
    const reason = error instanceof JSONPathError ? error.message : String(error);
    return { ok: false, problem: badQuery(`invalid JSONPath query (RFC 9535): ${reason}; the number after the colon is the offset in the query`) };
  }
  const parts: string[] = [];
  let bytes = 2;
  try {
    for (const node of compiled.lazyQuery(tds as JSONValue)) {
      const json = JSON.stringify(node.value);
      bytes += Buffer.byteLength(json) + 1;
      if (bytes > MAX_RESULT_BYTES) return { ok: false, problem: resultTooLarge(undefined) };
      parts.push(json);
    }
  } catch (error) {
    if (error instanceof JSONPathError) return { ok: false, problem: tooCostly(`the JSONPath query could not be evaluated: ${error.message}`) };
    throw error;
  }
  return { ok: true, contentType: 'application/json', body: `[${parts.join(',')}]` };
}
