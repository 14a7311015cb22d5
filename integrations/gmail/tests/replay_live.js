// Replays the .eml corpus through Code.gs against a running service, twice, and prints
// what happened as JSON. Used by test_apps_script.py; also handy by hand:
//   WEBHOOK_URL=http://127.0.0.1:8000/api/v1/inbound/emails/ WEBHOOK_SECRET=... \
//     node integrations/gmail/tests/replay_live.js
'use strict';

const { fixtureMailbox, liveWebhook, loadScript } = require('./harness');

const properties = liveWebhook();

// 20 s apart: the whole corpus lies inside the script's 10-minute overlap window, so
// the second run sends all of it again and the service must answer duplicates.
const mailbox = fixtureMailbox({ endMs: Date.now() - 30 * 1000, spacingMs: 20 * 1000 });
const world = loadScript({ mailbox, properties });
const first = world.script.forwardNewMail();
const watermarkAfterFirst = world.properties.getProperty('WATERMARK');
const second = world.script.forwardNewMail();

process.stdout.write(
  JSON.stringify({
    first,
    second,
    watermarkAfterFirst,
    watermark: world.properties.getProperty('WATERMARK'),
    labelled: mailbox.labelledThreadIds('ServiceDesk/Forwarded'),
    messages: mailbox.messages().map((m) => ({
      id: m.getId(),
      threadId: m.getThread().getId(),
      fixture: m.fixture,
      date: m.date,
    })),
    requests: world.requests.map((r) => ({ status: r.status, error: r.error || null })),
    logs: world.logs,
  })
);
