// Three test tiers (tinygrad-style: sorted by what they need).
//   unit — Node, no GPU.           tests/unit/**
//   fuzz — Node, no GPU: a hostile client against a relay process.  tests/fuzz/**
//   gpu  — Node, Dawn (npm `webgpu`) on SwiftShader.  tests/gpu/**
//   e2e  — headless Debian Chromium against the built app on 127.0.0.1.  tests/e2e/**
//   cluster — Node, real PostgreSQL (Debian's, in a private directory), the S3
//             test server, relay replicas as child processes, HAProxy.  tests/cluster/**
// GPU tests run in forked processes: the Vulkan loader reads VK_ICD_FILENAMES
// from the real process environment, which a worker thread cannot change.
import { defineConfig } from 'vitest/config';
import { existsSync } from 'node:fs';

const swiftshaderIcd = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && existsSync(swiftshaderIcd)) {
  process.env.VK_ICD_FILENAMES = swiftshaderIcd;
}

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['tests/unit/**/*.test.ts'], environment: 'node', testTimeout: 60_000 } },
      // A hostile client against a relay child process (tests/fuzz/hostile-client.ts); `npm run fuzz` for long runs.
      { test: { name: 'fuzz', include: ['tests/fuzz/**/*.test.ts'], environment: 'node', pool: 'forks', testTimeout: 600_000 } },
      {
        test: {
          name: 'gpu',
          include: ['tests/gpu/**/*.test.ts'],
          pool: 'forks',
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'cluster',
          include: ['tests/cluster/**/*.test.ts'],
          pool: 'forks',
          // One cluster at a time: each is a database, a bucket and several relays on two cores.
          fileParallelism: false,
          testTimeout: 400_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['tests/e2e/**/*.test.ts'],
          pool: 'forks',
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
