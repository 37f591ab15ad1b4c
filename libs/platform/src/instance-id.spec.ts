import { describe, expect, it } from '@jest/globals';

import { processInstanceId } from './instance-id';

describe('processInstanceId', () => {
  it('names the host and process in at most 64 subject-safe characters', () => {
    for (const id of [processInstanceId(), processInstanceId(false)]) {
      expect(id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
      expect(id).toContain(`-${process.pid}`);
    }
    expect(processInstanceId(false).endsWith(`-${process.pid}`)).toBe(true);
  });

  it('tells two instances of one process apart unless asked for the stable name', () => {
    expect(processInstanceId()).not.toBe(processInstanceId());
    expect(processInstanceId(false)).toBe(processInstanceId(false));
  });
});
