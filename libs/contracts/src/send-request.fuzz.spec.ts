import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { parseSendRequest } from './event';
import { PUSH_TYPES } from './push-type';
import { ValidationError } from './validation.error';

/** Bodies a vault API could post to `/send`: mostly the envelope, with anything in its fields. */
const anything = fc.jsonValue({ maxDepth: 8 });
const envelope = fc.record(
  {
    type: fc.oneof(fc.constantFrom(...PUSH_TYPES), anything),
    payload: fc.oneof(
      fc.dictionary(
        fc.constantFrom(
          'UserId',
          'OrganizationId',
          'Id',
          'Date',
          'RevisionDate',
          'CollectionIds',
          'Reason',
          'Policy',
        ),
        fc.oneof(
          fc.uuid(),
          fc.date().map((date) => (Number.isNaN(date.getTime()) ? 'x' : date.toISOString())),
          anything,
        ),
      ),
      anything,
    ),
    contextId: fc.oneof(fc.uuid(), anything),
  },
  { requiredKeys: [] },
);

function deeplyNested(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let level = 0; level < depth; level += 1) value = level % 2 === 0 ? [value] : { Extra: value };
  return value;
}

describe('parseSendRequest under hostile bodies', () => {
  it('accepts a body or refuses it with a ValidationError, nothing else', () => {
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.oneof({ weight: 4, arbitrary: envelope }, { weight: 1, arbitrary: anything }),
        (body) => {
          try {
            parseSendRequest(body);
            accepted += 1;
          } catch (error) {
            expect(error).toBeInstanceOf(ValidationError);
          }
        },
      ),
      { numRuns: 5000, seed: 20261201 },
    );
    // The generator reaches valid events too, not only the first check.
    expect(accepted).toBeGreaterThan(0);
  });

  it('refuses a payload nested far too deep with a ValidationError, not a stack overflow', () => {
    for (const depth of [100, 10_000, 100_000]) {
      expect(() =>
        parseSendRequest({
          type: 5,
          payload: {
            UserId: '6f4ff0a4-5f5f-4c4b-9a55-2f1d3c0e8b11',
            Date: '2026-12-01T00:00:00Z',
            Extra: deeplyNested(depth),
          },
          contextId: null,
        }),
      ).toThrow(ValidationError);
    }
  });
});
