// Preflight, the first step of `npm test` (and of .ci/run): checks that this
// machine has what the test tiers need before any tier starts, so a fresh
// Debian machine never fails deep inside a tier. Missing Debian packages are
// installed through apt when running as root; otherwise it stops at once with
// the one command to run.
//
//   Node ≥ 20.19                       every tier
//   node_modules (npm ci)              every tier
//   chromium                           e2e (headless Chromium), and gpu: its SwiftShader
//                                      Vulkan driver gives Node's Dawn a WebGPU adapter
//   libvulkan1                         gpu: the Vulkan loader Dawn opens
//   postgresql                         cluster: its own PostgreSQL in a private directory,
//                                      socket only (Debian's cluster on 5432 is not used)
//   haproxy                            cluster: the load balancer in front of relay replicas
//
// A tier that needs another system package adds a row to REQUIREMENTS.
// Plain JavaScript with no dependencies: it must run before `npm ci` has.
// Usage: node scripts/preflight.mjs [--system]   (--system: packages only, before npm ci)
// Leaves out: other systems' package managers (it names the packages, and stops).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** What a tier needs from Debian: a check and the package that satisfies it. */
export const REQUIREMENTS = [
  {
    package: 'chromium',
    why: 'browser tests, and the SwiftShader driver that gives Node a WebGPU adapter',
    present: () => existsSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium') && existsSync('/usr/lib/chromium/vk_swiftshader_icd.json'),
  },
  {
    package: 'libvulkan1',
    why: 'the Vulkan loader the GPU tests open',
    present: () => ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1'].some(existsSync) || ldconfigHas('libvulkan.so.1'),
  },
  {
    package: 'postgresql',
    why: 'the cluster tests start their own PostgreSQL (initdb, postgres) in a private directory',
    present: () => postgresBinDirectory() !== null,
  },
  {
    package: 'haproxy',
    why: 'the cluster tests put HAProxy in front of relay replicas',
    present: () => existsSync('/usr/sbin/haproxy') || spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0,
  },
];

/** Debian installs PostgreSQL's server programs under /usr/lib/postgresql/<major>/bin. */
function postgresBinDirectory() {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const found = readdirSync(root).find((major) => existsSync(join(root, major, 'bin', 'initdb')));
  return found === undefined ? null : join(root, found, 'bin');
}

function ldconfigHas(library) {
  try {
    return execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).includes(`${library} `);
  } catch {
    return false;
  }
}

/** The packages whose check fails. */
export function missingPackages(requirements = REQUIREMENTS) {
  return requirements.filter((r) => !r.present());
}

/** What to do about them: install (root with apt-get) or stop with one command. */
export function planFor(missing, { isRoot, hasApt }) {
  if (missing.length === 0) return { action: 'none' };
  const names = missing.map((r) => r.package).join(' ');
  if (isRoot && hasApt) return { action: 'install', packages: missing.map((r) => r.package) };
  const why = missing.map((r) => `  ${r.package}: ${r.why}`).join('\n');
  const command = hasApt ? `sudo apt-get install -y ${names}` : `install ${names} with your system's package manager (Debian: apt-get install -y ${names})`;
  return { action: 'stop', message: `npm test needs packages this machine lacks:\n${why}\nRun:\n  ${command}\nthen npm test again.` };
}

function nodeVersionProblem(version = process.versions.node) {
  const [major, minor] = version.split('.').map(Number);
  return major > 20 || (major === 20 && minor >= 19) ? null : `npm test needs Node.js 20.19 or newer; this is ${version}. Install a newer Node.js, then npm test again.`;
}

function main() {
  const systemOnly = process.argv.includes('--system');
  const nodeProblem = nodeVersionProblem();
  if (nodeProblem) {
    console.error(`preflight: ${nodeProblem}`);
    process.exit(1);
  }
  const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  const plan = planFor(missingPackages(), { isRoot: process.getuid?.() === 0, hasApt });
  if (plan.action === 'stop') {
    console.error(`preflight: ${plan.message}`);
    process.exit(1);
  }
  if (plan.action === 'install') {
    console.log(`preflight: installing ${plan.packages.join(', ')} with apt-get`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [['update', '-qq'], ['install', '-y', '-qq', ...plan.packages]]) {
      const result = spawnSync('apt-get', args, { stdio: 'inherit', env });
      if (result.status !== 0) {
        console.error(`preflight: apt-get ${args.join(' ')} failed (exit ${result.status}); install ${plan.packages.join(' ')} by hand, then npm test again.`);
        process.exit(1);
      }
    }
    const still = missingPackages();
    if (still.length) {
      console.error(`preflight: still missing after apt-get: ${still.map((r) => r.package).join(', ')}`);
      process.exit(1);
    }
  }
  if (!systemOnly && !existsSync(join(ROOT, 'node_modules', '.package-lock.json'))) {
    console.error('preflight: the npm dependencies are not installed. Run:\n  npm ci\nthen npm test again.');
    process.exit(1);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
