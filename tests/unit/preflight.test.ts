// The preflight before npm test (scripts/preflight.mjs): with nothing
// missing it does nothing; as root with apt-get it installs exactly the
// missing packages; otherwise it stops with one command naming them and why.
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript without type declarations (it runs before npm ci)
import { missingPackages, planFor, REQUIREMENTS } from '../../scripts/preflight.mjs';

interface Requirement {
  package: string;
  why: string;
  present: () => boolean;
}

const fake = (name: string, present: boolean): Requirement => ({ package: name, why: `needed for ${name}`, present: () => present });

describe('preflight', () => {
  it('names chromium, libvulkan1, postgresql and haproxy among what the tiers need', () => {
    expect((REQUIREMENTS as Requirement[]).map((r) => r.package)).toEqual(['chromium', 'libvulkan1', 'postgresql', 'haproxy']);
  });

  it('does nothing when everything is present', () => {
    const missing = missingPackages([fake('chromium', true), fake('libvulkan1', true)]);
    expect(planFor(missing, { isRoot: false, hasApt: true })).toEqual({ action: 'none' });
  });

  it('installs exactly the missing packages as root with apt-get', () => {
    const missing = missingPackages([fake('chromium', false), fake('libvulkan1', true)]);
    expect(planFor(missing, { isRoot: true, hasApt: true })).toEqual({ action: 'install', packages: ['chromium'] });
  });

  it('stops with one command and the reasons when it cannot install', () => {
    const missing = missingPackages([fake('chromium', false), fake('libvulkan1', false)]);
    const plan = planFor(missing, { isRoot: false, hasApt: true });
    expect(plan.action).toBe('stop');
    expect(plan.message).toContain('  sudo apt-get install -y chromium libvulkan1\n');
    expect(plan.message).toContain('chromium: needed for chromium');
    expect(planFor(missing, { isRoot: true, hasApt: false }).message).toMatch(/package manager/);
  });
});
