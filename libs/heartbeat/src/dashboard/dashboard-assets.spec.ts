import { Script } from 'node:vm';

import { describe, expect, it } from '@jest/globals';

import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from './dashboard-assets';

/** What the Content-Security-Policy `default-src 'self'; script-src 'self'` lets the page do. */
describe('the dashboard assets', () => {
  it('load their script and stylesheet by relative URL, and nothing else', () => {
    expect([...DASHBOARD_HTML.matchAll(/<script\b[^>]*>/g)].map((match) => match[0])).toEqual([
      '<script src="dashboard.js" defer>',
    ]);
    expect([...DASHBOARD_HTML.matchAll(/<link\b[^>]*>/g)].map((match) => match[0])).toEqual([
      '<link rel="stylesheet" href="dashboard.css" />',
    ]);
    expect(DASHBOARD_HTML).toMatch(/<script src="dashboard.js" defer><\/script>/);
    expect(`${DASHBOARD_HTML}${DASHBOARD_CSS}${DASHBOARD_JS}`).not.toMatch(
      /https?:|\/\/[a-z]|@import|url\(/i,
    );
  });

  it('have no inline style or event handler', () => {
    expect(DASHBOARD_HTML).not.toMatch(/\sstyle=|\son[a-z]+=|<style/i);
    expect(DASHBOARD_JS).not.toMatch(
      /innerHTML|outerHTML|insertAdjacentHTML|document\.write|setAttribute\('style'/,
    );
  });

  it('hold a script that parses, and fetches info and history relatively', () => {
    expect(() => new Script(DASHBOARD_JS)).not.toThrow();
    expect(DASHBOARD_JS).toContain("getJson('info')");
    expect(DASHBOARD_JS).toContain("getJson('history?minutes=60')");
  });

  it('mark every element the e2e test reads', () => {
    for (const id of [
      'total-gateways',
      'total-connections',
      'total-users',
      'total-deliveries-per-second',
      'chart-connections',
      'chart-deliveries',
      'push-outcomes',
      'dead-letters',
      'updated-at',
    ]) {
      expect(DASHBOARD_HTML).toContain(`data-testid="${id}"`);
    }
    expect(DASHBOARD_JS).toContain("row.setAttribute('data-testid', 'gateway-row')");
    expect(DASHBOARD_JS).toContain("row.setAttribute('data-gateway-id'");
  });
});
