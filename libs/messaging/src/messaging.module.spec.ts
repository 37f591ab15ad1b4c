import { describe, it } from '@jest/globals';

import { eventually } from '@herald/testing';

import { checkMessagingModule } from './testing/messaging-module.check';

describe('MessagingModule.forRoot({ engine: "memory" })', () => {
  it('provides every port token on the in-memory engine, ready at once, released at close', async () => {
    await checkMessagingModule({ engine: 'memory', namespace: 'module' }, eventually);
  });
});
