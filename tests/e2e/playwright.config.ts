// Playwright runs the e2e specs against a real collector that `cargo xtask test`
// starts on a free port (SILLAGE_BASE_URL) with a temporary SQLite file
// (SILLAGE_DB), in the system Chromium: Playwright downloads no browser here.
import { defineConfig } from '@playwright/test';

const baseURL = process.env.SILLAGE_BASE_URL;
if (!baseURL) {
  throw new Error('SILLAGE_BASE_URL is not set: run the e2e tests through `cargo xtask test`');
}

export default defineConfig({
  testDir: '.',
  timeout: 30_000,
  retries: 0,
  // A focused test (`test.only`) fails the run instead of hiding the others.
  forbidOnly: true,
  workers: 1,
  reporter: 'list',
  // The audit reads what the whole run stored, so it runs last.
  projects: [
    { name: 'e2e', testMatch: '*.spec.ts', testIgnore: 'audit/**' },
    { name: 'audit', testMatch: 'audit/*.spec.ts', dependencies: ['e2e'] },
  ],
  use: {
    baseURL,
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
});
