// The second app, examples/conversations, built on cairn-yew alone: a message survives a
// reload and reaches a second device (another isolated context) signed in to the same
// account, through the real server serving the example's build.
//
// Environment (set by `cargo xtask test`): CAIRN_CONVERSATIONS_DIST, the example's build
// (trunk, into <target>/conversations-dist), besides support.mjs's.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { collectErrors, launchBrowser, startServer } from './support.mjs';

const PASSWORD = 'correct horse battery';
let server;
let browser;

before(async () => {
  const dist = process.env.CAIRN_CONVERSATIONS_DIST;
  if (!dist) {
    throw new Error(
      'CAIRN_CONVERSATIONS_DIST is not set: it names the build of examples/conversations; run the end-to-end tests with `cargo xtask test`, which builds it',
    );
  }
  if (!existsSync(join(dist, 'index.html'))) {
    throw new Error(`CAIRN_CONVERSATIONS_DIST (${dist}) holds no index.html: build examples/conversations with \`cargo xtask build\``);
  }
  server = await startServer({ staticDir: dist });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A new device: an isolated context with the example open. */
async function device() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = collectErrors(page);
  await page.goto(server.url);
  await page.getByRole('heading', { name: 'Conversations', level: 1 }).waitFor();
  return { context, page, errors };
}

async function signIn(page, email, { newAccount = false } = {}) {
  const account = page.getByRole('region', { name: 'Account' });
  await account.getByLabel('Email').fill(email);
  await account.getByLabel('Password').fill(PASSWORD);
  await account.getByRole('button', { name: newAccount ? 'Create account' : 'Sign in' }).click();
  await account.getByText(`Signed in as ${email}`).waitFor();
}

const messages = (page) => page.getByRole('list', { name: 'Messages' });

test('a message survives a reload and reaches a second device on the same account', async () => {
  const email = `conversations-${Date.now()}@example.com`;
  const a = await device();
  await signIn(a.page, email, { newAccount: true });

  await a.page.getByLabel('New session title').fill('Trip planning');
  await a.page.getByRole('button', { name: 'Create session' }).click();
  // Creating a session opens it.
  await a.page.getByRole('heading', { name: 'Trip planning', level: 2 }).waitFor();
  await a.page.getByLabel('Your name').fill('Ana');
  await a.page.getByLabel('Message', { exact: true }).fill('Meet at the station at nine');
  await a.page.getByRole('button', { name: 'Send' }).click();
  await messages(a.page).getByText('Meet at the station at nine').waitFor();
  await messages(a.page).getByText('Ana', { exact: true }).waitFor();

  // Stored on the device: after a reload the session is open again with its message.
  await a.page.reload();
  await a.page.getByRole('heading', { name: 'Trip planning', level: 2 }).waitFor();
  await messages(a.page).getByText('Meet at the station at nine').waitFor();
  await a.page.getByRole('region', { name: 'Account' }).getByText(`Signed in as ${email}`).waitFor();
  // Pushed: nothing of it waits on this device any more.
  await a.page.getByRole('status').getByText('Everything is synced').waitFor();

  // Another device signs in to the account and finds the session and its message.
  const b = await device();
  await b.page.getByRole('heading', { name: 'No session open' }).waitFor();
  await signIn(b.page, email);
  const sessions = b.page.getByRole('navigation', { name: 'Sessions' });
  await sessions.getByRole('button', { name: 'Trip planning', exact: true }).click();
  await b.page.getByRole('heading', { name: 'Trip planning', level: 2 }).waitFor();
  await messages(b.page).getByText('Meet at the station at nine').waitFor();
  await messages(b.page).getByText('Ana', { exact: true }).waitFor();

  assert.deepEqual(a.errors, []);
  assert.deepEqual(b.errors, []);
  await a.context.close();
  await b.context.close();
});
