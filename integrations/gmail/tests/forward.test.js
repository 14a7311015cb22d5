// The Gmail script's behaviour against a fake webhook: signing, batching, the watermark,
// labelling, and what happens when delivery fails.
// Run: node --test integrations/gmail/tests/forward.test.js
'use strict';

const assert = require('node:assert/strict');
const net = require('node:net');
const { after, before, describe, test } = require('node:test');

const {
  Mailbox,
  buildMail,
  fixtureMailbox,
  fixtureNames,
  loadScript,
  readFixture,
} = require('./harness');
const { MiB, startFakeWebhook } = require('./fake_webhook');

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

// ---------------------------------------------------------------------------------------
// Large mail: nothing one mail does may hold up the others (API.md, "Large mail").
// ---------------------------------------------------------------------------------------

const MB = 1000 * 1000;
const FAILED = 'ServiceDesk/Failed';

/** A mail of about `rawBytes` raw bytes: a short text and one attachment that makes it up. */
function sizedMail(name, rawBytes, extra = {}) {
  const attachmentSize = Math.max(0, Math.floor(((rawBytes - 1500) * 57) / 78));
  return buildMail({
    from: `${name} <${name.toLowerCase().replace(/[^a-z0-9]/g, '.')}@example.org>`,
    subject: `Scans from ${name}`,
    messageId: `<${name.replace(/[^A-Za-z0-9]/g, '')}@mail.example.org>`,
    plain: `Hello,\nthe scans from ${name} are attached.\n`,
    attachments: attachmentSize
      ? [{ name: `${name}.pdf`, contentType: 'application/pdf', size: attachmentSize }]
      : [],
    seed: name,
    ...extra,
  });
}

/** Add `mails` ([{id, mail | fixture}]) one minute apart, ending a minute ago. */
function mailboxOf(mails) {
  const mailbox = new Mailbox();
  const end = Date.now() - MINUTE;
  mails.forEach((spec, i) => {
    mailbox.add({
      threadId: `thread-${spec.id}`,
      date: end - (mails.length - i) * MINUTE,
      ...spec,
    });
  });
  return mailbox;
}

function ids(mailbox) {
  return mailbox
    .messages()
    .sort((a, b) => a.date - b.date)
    .map((m) => m.getId());
}

function sha256(text) {
  return require('node:crypto')
    .createHash('sha256')
    .update(Buffer.from(text, 'utf8'))
    .digest('hex');
}

/** Every request the webhook got: none over its cap, every one signed. */
function assertRequestsFit(received, cap = 48 * MiB) {
  for (const request of received) {
    assert.ok(request.bytes <= cap, `request ${request.number} has ${request.bytes} bytes`);
    assert.equal(request.signatureValid, true);
  }
}

/** Code.gs over `mailbox`, posting to `webhook`. */
function forwarder(webhook, mailbox, properties = {}) {
  return loadScript({
    mailbox,
    properties: { WEBHOOK_URL: webhook.url, WEBHOOK_SECRET: SECRET, ...properties },
  });
}

describe('forwardNewMail with large mail', () => {
  test('a 40 MB mail goes in the field form, its attachments listed as omitted; the mail around it arrives in order', async () => {
    const webhook = await startFakeWebhook({ secret: SECRET });
    try {
      const big = sizedMail('Big Scanner', 40 * MB, {
        inReplyTo: '<earlier@mail.example.org>',
        html: '<p>The <b>scans</b> are attached.</p>',
      });
      assert.ok(big.raw.length > 39.99 * MB && big.raw.length <= 40 * MB);
      const mailbox = mailboxOf([
        { id: 'before', fixture: 'new_request.eml' },
        { id: 'big', mail: big },
        { id: 'after', fixture: 'gmail_reply_ru.eml' },
      ]);
      const world = forwarder(webhook, mailbox);

      const summary = world.script.forwardNewMail();

      assert.equal(summary.failed, false);
      assert.equal(summary.fieldForm, 1);
      assert.deepEqual(await webhook.stored(), ['before', 'big', 'after']);
      const received = await webhook.received();
      assertRequestsFit(received);
      const item = received.flatMap((r) => r.messages).find((m) => m.id === 'big');
      assert.equal(item.raw, undefined);
      assert.equal(item.user_email, 'Big Scanner <big.scanner@example.org>');
      assert.equal(item.title, 'Scans from Big Scanner');
      assert.equal(item.message_id, '<BigScanner@mail.example.org>');
      assert.equal(item.in_reply_to, '<earlier@mail.example.org>');
      assert.equal(item.references, '<earlier@mail.example.org>');
      assert.equal(item.description, 'Hello,\nthe scans from Big Scanner are attached.\n');
      assert.equal(item.html, '<p>The <b>scans</b> are attached.</p>');
      assert.deepEqual(item.attachments_omitted, [
        {
          filename: 'Big Scanner.pdf',
          content_type: 'application/pdf',
          size: big.view.attachments[0].size,
        },
      ]);
      assert.equal(
        new Date(item.date).getTime(),
        mailbox.messages().find((m) => m.id === 'big').date
      );
      assert.deepEqual(mailbox.labelledThreadIds(LABEL), [
        'thread-after',
        'thread-before',
        'thread-big',
      ]);
    } finally {
      await webhook.stop();
    }
  });

  test('many 3 MB mails are packed by size: no request over the cap, each mail once, in order, byte for byte', async () => {
    const webhook = await startFakeWebhook({ secret: SECRET });
    try {
      const mails = [{ id: 'first', fixture: 'new_request.eml' }];
      for (let i = 0; i < 24; i++) {
        mails.push({
          id: `scan-${String(i).padStart(2, '0')}`,
          mail: sizedMail(`Sender ${i}`, 3 * MB),
        });
      }
      mails.push({ id: 'last', fixture: 'html_only.eml' });
      const mailbox = mailboxOf(mails);
      const world = forwarder(webhook, mailbox);

      const summary = world.script.forwardNewMail();

      assert.equal(summary.failed, false);
      assert.equal(summary.fieldForm, 0);
      assert.deepEqual(await webhook.stored(), ids(mailbox));
      const received = await webhook.received();
      assertRequestsFit(received, 45 * MiB);
      assert.ok(received.every((r) => r.status === 200));
      // Packed, not one by one: 3 MB is 4 MB of base64, eleven to a 45 MiB request (the
      // first also carries the small mail before them).
      assert.deepEqual(
        received.map((r) => r.messages.length),
        [12, 11, 3]
      );
      const byId = new Map(mailbox.messages().map((m) => [m.getId(), m]));
      for (const item of received.flatMap((r) => r.messages)) {
        assert.equal(item.rawSha256, sha256(byId.get(item.id).getRawContent()), item.id);
      }
      assert.equal(
        world.properties.getProperty('WATERMARK'),
        String(Math.floor(byId.get('last').date / 1000))
      );
    } finally {
      await webhook.stop();
    }
  });

  test('on 413 a batch is split in halves, and a mail refused alone goes again as text', async () => {
    // A service with a 1 MiB cap: 12 mails of 150 kB fit one 45 MiB batch but not its body.
    const webhook = await startFakeWebhook({ secret: SECRET, maxBodyBytes: MiB });
    try {
      const mails = [];
      for (let i = 0; i < 12; i++) {
        mails.push({
          id: `m${String(i).padStart(2, '0')}`,
          mail: sizedMail(`Small ${i}`, 150 * 1000),
        });
      }
      mails.splice(6, 0, { id: 'too-big-raw', mail: sizedMail('Photo', 2 * MB) });
      const mailbox = mailboxOf(mails);
      const world = forwarder(webhook, mailbox);

      const summary = world.script.forwardNewMail();

      assert.equal(summary.failed, false);
      assert.ok(summary.split >= 3, `split ${summary.split} times`);
      assert.equal(summary.fieldForm, 1);
      assert.deepEqual(await webhook.stored(), ids(mailbox));
      const received = await webhook.received();
      assert.equal(received[0].status, 413);
      assert.equal(received[0].messages, null);
      const accepted = received.filter((r) => r.status === 200).flatMap((r) => r.messages);
      assert.deepEqual(
        accepted.map((m) => m.id),
        ids(mailbox)
      );
      const photo = accepted.find((m) => m.id === 'too-big-raw');
      assert.equal(photo.raw, undefined);
      assert.equal(photo.attachments_omitted[0].filename, 'Photo.pdf');
      assert.equal(mailbox.labelledThreadIds(LABEL).length, 13);
    } finally {
      await webhook.stop();
    }
  });

  test('a mail the service refuses holds the mail after it for three runs, then is labelled ServiceDesk/Failed and passed over', async () => {
    const webhook = await startFakeWebhook({ secret: SECRET, refuseIds: { refused: 422 } });
    try {
      const mailbox = mailboxOf([
        { id: 'a', fixture: 'new_request.eml' },
        { id: 'b', fixture: 'html_only.eml' },
        { id: 'refused', fixture: 'gmail_reply_ru.eml' },
        { id: 'c', fixture: 'new_request.eml', threadId: 'thread-a' },
        { id: 'd', fixture: 'html_only.eml' },
      ]);
      const world = forwarder(webhook, mailbox);
      const refusedDate = String(
        Math.floor(mailbox.messages().find((m) => m.id === 'refused').date / 1000)
      );

      for (const run of [1, 2]) {
        const summary = world.script.forwardNewMail();
        assert.equal(summary.failed, true, `run ${run}`);
        assert.deepEqual([...summary.refused], ['refused']);
        assert.deepEqual(await webhook.stored(), ['a', 'b'], `run ${run}`);
        const failures = JSON.parse(world.properties.getProperty('DELIVERY_FAILURES'));
        assert.equal(failures.refused.runs, run);
        assert.ok(Number(world.properties.getProperty('WATERMARK')) < Number(refusedDate));
      }
      assert.deepEqual(mailbox.labelledThreadIds(FAILED), []);

      const third = world.script.forwardNewMail();

      assert.equal(third.failed, false);
      assert.deepEqual([...third.gaveUp], ['refused']);
      assert.deepEqual(await webhook.stored(), ['a', 'b', 'c', 'd']);
      assert.deepEqual(mailbox.labelledThreadIds(FAILED), ['thread-refused']);
      assert.deepEqual(mailbox.labelledThreadIds(LABEL), ['thread-a', 'thread-b', 'thread-d']);
      assert.ok(
        world.logs.some(
          (l) => l.level === 'error' && /labelled ServiceDesk\/Failed/.test(l.message)
        )
      );

      // Later runs pass over it (it is still inside the overlap window) and store nothing twice.
      const before = (await webhook.received()).length;
      const fourth = world.script.forwardNewMail();
      assert.equal(fourth.failed, false);
      const again = (await webhook.received())
        .slice(before)
        .flatMap((r) => r.messages.map((m) => m.id));
      assert.ok(!again.includes('refused'));
      assert.deepEqual(await webhook.stored(), ['a', 'b', 'c', 'd']);
      assert.equal(
        JSON.parse(world.properties.getProperty('DELIVERY_FAILURES')).refused.gaveUp,
        true
      );
    } finally {
      await webhook.stop();
    }
  });

  test('a mail too large to post even as text is never posted, and is passed over after three runs', async () => {
    const webhook = await startFakeWebhook({ secret: SECRET });
    try {
      const wall = sizedMail('Wall Of Text', 0, { plainPadding: 52 * MB });
      const mailbox = mailboxOf([
        { id: 'a', fixture: 'new_request.eml' },
        { id: 'wall', mail: wall },
        { id: 'b', fixture: 'html_only.eml' },
      ]);
      const world = forwarder(webhook, mailbox);

      const runs = [1, 2, 3].map(() => world.script.forwardNewMail());

      assert.deepEqual(
        runs.map((r) => [r.failed, [...r.refused], [...r.gaveUp]]),
        [
          [true, ['wall'], []],
          [true, ['wall'], []],
          [false, ['wall'], ['wall']],
        ]
      );
      assert.deepEqual(await webhook.stored(), ['a', 'b']);
      // Nothing over UrlFetchApp's limit was attempted: the stand-in would have thrown.
      assert.ok(world.requests.every((r) => r.status === 200 && r.bytes < MB));
      assert.deepEqual(mailbox.labelledThreadIds(FAILED), ['thread-wall']);
    } finally {
      await webhook.stop();
    }
  });

  test('network errors, 5xx, 401, 503 and 429 stop the run and never count against a mail', async () => {
    const webhook = await startFakeWebhook({
      secret: SECRET,
      statusFor: { 1: 503, 2: 401, 3: 500, 4: 429, 5: 502 },
    });
    try {
      const mailbox = mailboxOf([
        { id: 'a', fixture: 'new_request.eml' },
        { id: 'b', fixture: 'html_only.eml' },
      ]);
      const world = forwarder(webhook, mailbox);
      for (let run = 1; run <= 5; run++) {
        const summary = world.script.forwardNewMail();
        assert.equal(summary.failed, true);
        assert.equal(summary.split, 0);
        assert.deepEqual([...summary.refused], []);
      }
      world.properties.setProperty('WEBHOOK_URL', await closedPortUrl());
      assert.equal(world.script.forwardNewMail().failed, true);
      assert.equal(world.properties.getProperty('DELIVERY_FAILURES'), null);
      assert.equal(world.properties.getProperty('WATERMARK'), null);
      world.properties.setProperty('WEBHOOK_URL', webhook.url);

      const summary = world.script.forwardNewMail();

      assert.equal(summary.failed, false);
      assert.deepEqual(await webhook.stored(), ['a', 'b']);
      assert.deepEqual(mailbox.labelledThreadIds(FAILED), []);
      assert.equal((await webhook.received()).length, 6);
    } finally {
      await webhook.stop();
    }
  });

  test('RAW_LIMIT_BYTES and MAX_BATCH_BYTES come from the script properties', async () => {
    const webhook = await startFakeWebhook({ secret: SECRET });
    try {
      const mailbox = mailboxOf([
        { id: 'a', mail: sizedMail('One', 60 * 1000) },
        { id: 'b', mail: sizedMail('Two', 25 * 1000) },
        { id: 'c', mail: sizedMail('Three', 25 * 1000) },
      ]);
      const world = forwarder(webhook, mailbox, {
        RAW_LIMIT_BYTES: '50000',
        MAX_BATCH_BYTES: '40000',
      });

      world.script.forwardNewMail();

      const received = await webhook.received();
      assert.deepEqual(
        received.map((r) => r.messages.map((m) => [m.id, m.raw === undefined ? 'field' : 'raw'])),
        [
          [
            ['a', 'field'],
            ['b', 'raw'],
          ],
          [['c', 'raw']],
        ]
      );
    } finally {
      await webhook.stop();
    }
  });
});
