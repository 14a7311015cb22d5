// The Gmail script's behaviour against a fake webhook: signing, batching, the watermark,
// labelling, and what happens when delivery fails.
// Run: node --test integrations/gmail/tests/forward.test.js
'use strict';

const assert = require('node:assert/strict');
const net = require('node:net');
const { after, before, describe, test } = require('node:test');

const { Mailbox, fixtureMailbox, fixtureNames, loadScript, readFixture } = require('./harness');
const { startFakeWebhook } = require('./fake_webhook');

const SECRET = 'node-test-secret';
const LABEL = 'ServiceDesk/Forwarded';
const MINUTE = 60 * 1000;

/** `count` messages cycling through the fixtures, one minute apart, ending a minute ago. */
function bigMailbox(count, { perThread = 1 } = {}) {
  const mailbox = new Mailbox();
  const names = fixtureNames();
  const end = Date.now() - MINUTE;
  for (let i = 0; i < count; i++) {
    mailbox.add({
      id: `m${String(i).padStart(4, '0')}`,
      threadId: `t${Math.floor(i / perThread)}`,
      fixture: names[i % names.length],
      date: end - (count - i) * MINUTE,
    });
  }
  return mailbox;
}

function decodeRaw(item) {
  return Buffer.from(item.raw, 'base64').toString('utf8');
}

async function closedPortUrl() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/api/v1/inbound/emails/`;
}

describe('forwardNewMail', () => {
  let webhook;

  before(async () => {
    webhook = await startFakeWebhook({ secret: SECRET, failRequests: [] });
  });

  after(async () => {
    await webhook.stop();
  });

  test('posts every inbox message as signed raw mail in batches of at most 50', async () => {
    const mailbox = bigMailbox(120);
    const world = loadScript({
      mailbox,
      properties: { WEBHOOK_URL: webhook.url, WEBHOOK_SECRET: SECRET },
    });
    const before = (await webhook.received()).length;

    const summary = world.script.forwardNewMail();

    const received = (await webhook.received()).slice(before);
    assert.deepEqual(
      received.map((r) => r.messages.length),
      [50, 50, 20]
    );
    for (const request of received) {
      assert.equal(request.method, 'POST');
      assert.match(request.contentType, /^application\/json/);
      assert.equal(request.signatureValid, true);
    }
    const sent = received.flatMap((r) => r.messages);
    assert.deepEqual(
      sent.map((item) => item.id),
      mailbox.messages().map((m) => m.getId())
    );
    sent.forEach((item, i) => assert.equal(decodeRaw(item), mailbox.messages()[i].getRawContent()));
    assert.equal(summary.delivered, 120);
    assert.equal(summary.failed, false);
    const newest = Math.floor(mailbox.messages()[119].date / 1000);
    assert.equal(world.properties.getProperty('WATERMARK'), String(newest));
    assert.equal(mailbox.labelledThreadIds(LABEL).length, 120);
  });

  test('the raw field decodes to the exact fixture text', async () => {
    const mailbox = new Mailbox();
    mailbox.add({ id: 'one', fixture: 'gmail_reply_ru.eml', date: Date.now() - MINUTE });
    const world = loadScript({
      mailbox,
      properties: { WEBHOOK_URL: webhook.url, WEBHOOK_SECRET: SECRET },
    });
    const before = (await webhook.received()).length;
    world.script.forwardNewMail();
    const [request] = (await webhook.received()).slice(before);
    assert.equal(decodeRaw(request.messages[0]), readFixture('gmail_reply_ru.eml'));
  });

  test('a second run re-sends only the overlap window and never passes the watermark back', async () => {
    const mailbox = fixtureMailbox({ endMs: Date.now() - 2 * 3600 * 1000 });
    const world = loadScript({
      mailbox,
      properties: { WEBHOOK_URL: webhook.url, WEBHOOK_SECRET: SECRET },
    });
    world.script.forwardNewMail();
    const watermark = world.properties.getProperty('WATERMARK');
    mailbox.add({ id: 'late', fixture: 'new_request.eml', date: Date.now() - MINUTE });
    const before = (await webhook.received()).length;

    const summary = world.script.forwardNewMail();

    const received = (await webhook.received()).slice(before);
    const ids = received.flatMap((r) => r.messages.map((m) => m.id));
    // Mail older than watermark - 10 minutes is not read again.
    assert.ok(ids.length < fixtureNames().length, `re-sent ${ids.length} messages`);
    assert.equal(ids.at(-1), 'late');
    assert.ok(Number(world.properties.getProperty('WATERMARK')) > Number(watermark));
    assert.equal(summary.failed, false);
  });

  test('mail outside the inbox, drafts and mail before the look-back window are not sent', async () => {
    const now = Date.now();
    const mailbox = new Mailbox();
    mailbox.add({ id: 'old', fixture: 'new_request.eml', date: now - 25 * 3600 * 1000 });
    mailbox.add({ id: 'archived', fixture: 'new_request.eml', date: now - MINUTE, inInbox: false });
    mailbox.add({ id: 'draft', fixture: 'new_request.eml', date: now - MINUTE, draft: true });
    mailbox.add({ id: 'fresh', fixture: 'new_request.eml', date: now - MINUTE });
    const world = loadScript({
      mailbox,
      properties: { WEBHOOK_URL: webhook.url, WEBHOOK_SECRET: SECRET },
    });
    const before = (await webhook.received()).length;
    world.script.forwardNewMail();
    const received = (await webhook.received()).slice(before);
    assert.deepEqual(
      received.flatMap((r) => r.messages.map((m) => m.id)),
      ['fresh']
    );
  });

  test('without WEBHOOK_URL or WEBHOOK_SECRET it refuses to run and sends nothing', () => {
    for (const properties of [{ WEBHOOK_URL: webhook.url }, { WEBHOOK_SECRET: SECRET }, {}]) {
      const world = loadScript({ mailbox: bigMailbox(3), properties });
      assert.throws(() => world.script.forwardNewMail(), /WEBHOOK_URL and WEBHOOK_SECRET/);
      assert.equal(world.requests.length, 0);
    }
  });

  test('a run that finds the lock held does nothing', () => {
    const world = loadScript({
      mailbox: bigMailbox(3),
      properties: { WEBHOOK_URL: webhook.url, WEBHOOK_SECRET: SECRET },
      lockHeld: true,
    });
    assert.equal(world.script.forwardNewMail().skipped, true);
    assert.equal(world.requests.length, 0);
  });

  test('installTrigger installs one time-driven trigger, however often it runs', () => {
    const world = loadScript();
    assert.equal(world.script.installTrigger(), true);
    assert.equal(world.script.installTrigger(), false);
    assert.equal(world.triggers.length, 1);
    assert.equal(world.triggers[0].handler, 'forwardNewMail');
    world.script.uninstallTrigger();
    assert.equal(world.triggers.length, 0);
  });

  test('the signature is HMAC-SHA256 of timestamp.body in lowercase hex', () => {
    const world = loadScript();
    const signature = world.script.sign_('key', '1700000000', '{"messages":[]}');
    assert.equal(
      signature,
      'sha256=' +
        require('node:crypto')
          .createHmac('sha256', 'key')
          .update('1700000000.{"messages":[]}')
          .digest('hex')
    );
  });
});

describe('forwardNewMail when delivery fails', () => {
  test('a refused batch stops the run, keeps the watermark and leaves its mail unmarked', async () => {
    const webhook = await startFakeWebhook({ secret: SECRET, failRequests: [2] });
    try {
      // Threads of three messages: thread t16 spans the first two batches.
      const mailbox = bigMailbox(120, { perThread: 3 });
      const world = loadScript({
        mailbox,
        properties: { WEBHOOK_URL: webhook.url, WEBHOOK_SECRET: SECRET },
      });

      const summary = world.script.forwardNewMail();

      assert.equal(summary.failed, true);
      assert.equal(summary.delivered, 50);
      assert.equal((await webhook.received()).length, 2);
      const messages = mailbox.messages();
      assert.equal(
        world.properties.getProperty('WATERMARK'),
        String(Math.floor(messages[49].date / 1000))
      );
      const labelled = mailbox.labelledThreadIds(LABEL);
      assert.equal(labelled.length, 16);
      assert.ok(!labelled.includes('t16'), 'a thread with undelivered mail stays unmarked');
      assert.ok(world.logs.some((l) => l.level === 'error' && /HTTP 500/.test(l.message)));

      // The next run sends everything not yet delivered.
      const retry = world.script.forwardNewMail();
      assert.equal(retry.failed, false);
      const sent = (await webhook.received()).slice(2).flatMap((r) => r.messages.map((m) => m.id));
      for (const message of messages.slice(50)) assert.ok(sent.includes(message.getId()));
      assert.equal(mailbox.labelledThreadIds(LABEL).length, 40);
      assert.equal(
        world.properties.getProperty('WATERMARK'),
        String(Math.floor(messages[119].date / 1000))
      );
    } finally {
      await webhook.stop();
    }
  });

  test('an unreachable service advances nothing and marks nothing', async () => {
    const mailbox = bigMailbox(10);
    const world = loadScript({
      mailbox,
      properties: { WEBHOOK_URL: await closedPortUrl(), WEBHOOK_SECRET: SECRET },
    });
    const summary = world.script.forwardNewMail();
    assert.equal(summary.failed, true);
    assert.equal(summary.delivered, 0);
    assert.equal(world.requests.length, 1);
    assert.equal(world.properties.getProperty('WATERMARK'), null);
    assert.deepEqual(mailbox.labelledThreadIds(LABEL), []);
  });

  test('a wrong secret is refused by the service and nothing is marked', async () => {
    const webhook = await startFakeWebhook({ secret: SECRET, failRequests: [] });
    try {
      const mailbox = bigMailbox(5);
      const world = loadScript({
        mailbox,
        properties: { WEBHOOK_URL: webhook.url, WEBHOOK_SECRET: 'wrong' },
      });
      const summary = world.script.forwardNewMail();
      assert.equal(summary.failed, true);
      assert.equal(world.properties.getProperty('WATERMARK'), null);
      assert.deepEqual(mailbox.labelledThreadIds(LABEL), []);
      assert.equal((await webhook.received())[0].signatureValid, false);
    } finally {
      await webhook.stop();
    }
  });
});
