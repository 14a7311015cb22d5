// Runs Code.gs four times against a running service over a mailbox that holds a 40 MB
// mail, twelve 3 MB mails and a mail the service refuses (30 MB of text: too large even
// in the field form for a service that kept the old 25 MiB cap), and prints what
// happened as JSON. Used by test_apps_script.py:
//   WEBHOOK_URL=http://127.0.0.1:8000/api/v1/inbound/emails/ WEBHOOK_SECRET=... \
//     node integrations/gmail/tests/replay_large_live.js
'use strict';

const { Mailbox, buildMail, liveWebhook, loadScript } = require('./harness');

const properties = liveWebhook();

const MB = 1000 * 1000;
const MINUTE = 60 * 1000;

/** A mail of about `rawBytes` raw bytes: a short text and an attachment that makes it up. */
function sizedMail(slug, name, rawBytes, extra = {}) {
  const size = Math.max(0, Math.floor(((rawBytes - 1500) * 57) / 78));
  return buildMail({
    from: `${name} <${slug}@example.org>`,
    subject: `Scans from ${name}`,
    messageId: `<${slug}-${Date.now()}@mail.example.org>`,
    plain: `Hello,\nthe scans from ${name} are attached.\n`,
    attachments: size ? [{ name: `${slug}.pdf`, contentType: 'application/pdf', size }] : [],
    seed: slug,
    ...extra,
  });
}

const now = Date.now();
const mailbox = new Mailbox();
const add = (id, minutesAgo, spec) =>
  mailbox.add({ id, threadId: `thread-${id}`, date: now - minutesAgo * MINUTE, ...spec });
add('first', 60, { fixture: 'new_request.eml' });
add('big', 59, { mail: sizedMail('big.scanner', 'Big Scanner', 40 * MB) });
add('reply', 58, { fixture: 'gmail_reply_ru.eml' });
for (let i = 0; i < 12; i++) {
  add(`scan-${String(i).padStart(2, '0')}`, 57 - i, {
    mail: sizedMail(`scanner${i}`, `Scanner ${i}`, 3 * MB),
  });
}
// The mail before the refused one is far enough after the scans that the runs which
// retry the refused mail do not re-read (and re-post) the scans in their overlap window.
add('before-refused', 25, { mail: sizedMail('before', 'Before Refused', 2000) });
add('refused', 20, {
  mail: sizedMail('wall.of.text', 'Wall Of Text', 0, { plainPadding: 30 * MB }),
});
add('after', 19, { mail: sizedMail('after', 'After Refused', 2000) });
add('last', 18, { fixture: 'html_only.eml' });

const world = loadScript({ mailbox, properties });
// Record which mails each request carried, in which form.
const posts = [];
const fetch = world.script.UrlFetchApp.fetch;
world.script.UrlFetchApp = {
  fetch(target, params) {
    const items = JSON.parse(params.payload).messages.map((item) => ({
      id: item.id,
      form: item.raw === undefined ? 'field' : 'raw',
      ...(item.raw === undefined
        ? {
            user_email: item.user_email,
            title: item.title,
            message_id: item.message_id || null,
            description: item.description.length > 1000 ? null : item.description,
            attachments_omitted: item.attachments_omitted,
          }
        : {}),
    }));
    try {
      const response = fetch(target, params);
      posts.push({
        items,
        status: response.getResponseCode(),
        bytes: Buffer.byteLength(params.payload),
      });
      return response;
    } catch (error) {
      posts.push({ items, status: null, error: String(error) });
      throw error;
    }
  },
};

const runs = [];
for (let run = 0; run < 4; run++)
  runs.push(JSON.parse(JSON.stringify(world.script.forwardNewMail())));

process.stdout.write(
  JSON.stringify({
    runs,
    posts,
    order: mailbox
      .messages()
      .sort((a, b) => a.date - b.date)
      .map((m) => m.getId()),
    sizes: Object.fromEntries(mailbox.messages().map((m) => [m.getId(), Buffer.byteLength(m.raw)])),
    bigAttachment: mailbox.messages().find((m) => m.getId() === 'big').view.attachments[0],
    forwarded: mailbox.labelledThreadIds('ServiceDesk/Forwarded'),
    failed: mailbox.labelledThreadIds('ServiceDesk/Failed'),
    failures: JSON.parse(world.properties.getProperty('DELIVERY_FAILURES') || '{}'),
    logs: world.logs,
  })
);
