/**
 * Service Desk forwarder for a Gmail inbox (Google Apps Script, V8 runtime).
 *
 * Every run (a time-driven trigger, see installTrigger) reads the inbox mail that
 * arrived since the watermark kept in the script properties, posts it to the service's
 * signed webhook as raw RFC 822 messages in batches of at most 50, and after each
 * batch the service accepted (HTTP 2xx):
 *   - labels the threads whose mail has all been delivered, and
 *   - moves the watermark to the newest mail of that batch.
 * A batch that fails stops the run: its mail is neither labelled nor passed by the
 * watermark, so the next run sends it again. Each run also re-reads OVERLAP_SECONDS
 * before the watermark; mail sent twice is harmless, the service stores it once.
 *
 * Script properties (Project Settings -> Script properties):
 *   WEBHOOK_URL     https://helpdesk.example.com/api/v1/inbound/emails/   (required)
 *   WEBHOOK_SECRET  the service's INBOUND_WEBHOOK_SECRET                   (required)
 *   WATERMARK       unix seconds of the newest delivered mail (kept by the script)
 *   FORWARDED_LABEL label for delivered threads (default "ServiceDesk/Forwarded";
 *                   set to "-" for none)
 */

var SERVICEDESK = {
  BATCH_SIZE: 50,
  // Re-read this much mail before the watermark: Gmail's search is per second and
  // mail can become visible a little after its date.
  OVERLAP_SECONDS: 600,
  // The first run (no watermark yet) forwards this much of the inbox's history.
  INITIAL_LOOKBACK_SECONDS: 24 * 3600,
  // One run stays well inside Apps Script's six-minute limit; the rest waits a minute.
  MAX_MESSAGES_PER_RUN: 500,
  SEARCH_PAGE_SIZE: 100,
  DEFAULT_LABEL: 'ServiceDesk/Forwarded',
  TRIGGER_MINUTES: 1,
};

/** The trigger's entry point: forward new inbox mail; returns what it did (for logs and tests). */
function forwardNewMail() {
  var lock = LockService.getScriptLock();
  if (!lock.tryLock(5000)) {
    console.warn('Another run is still forwarding mail; skipping this one.');
    return { skipped: true, delivered: 0, batches: 0, failed: false };
  }
  try {
    return forwardWithLock_();
  } finally {
    lock.releaseLock();
  }
}

function forwardWithLock_() {
  var properties = PropertiesService.getScriptProperties();
  var config = readConfig_(properties);
  var nowSeconds = Math.floor(Date.now() / 1000);
  var stored = Number(properties.getProperty('WATERMARK'));
  var watermark = stored > 0 ? stored : nowSeconds - SERVICEDESK.INITIAL_LOOKBACK_SECONDS;
  var since = watermark - SERVICEDESK.OVERLAP_SECONDS;

  var pending = collectMessages_(since).slice(0, SERVICEDESK.MAX_MESSAGES_PER_RUN);
  var label = forwardedLabel_(config.label);
  var lastIndexOfThread = {};
  var labelled = {};
  pending.forEach(function (entry, index) {
    lastIndexOfThread[entry.threadId] = index;
  });

  var summary = { delivered: 0, batches: 0, failed: false, watermark: watermark, outcomes: {} };
  for (var start = 0; start < pending.length; start += SERVICEDESK.BATCH_SIZE) {
    var batch = pending.slice(start, start + SERVICEDESK.BATCH_SIZE);
    var answer = postBatch_(config, batch);
    if (!answer.ok) {
      summary.failed = true;
      console.error('Webhook refused a batch (' + answer.error + '); it will be sent again.');
      break;
    }
    summary.batches += 1;
    summary.delivered += batch.length;
    countOutcomes_(answer.results, batch, summary.outcomes);
    labelDeliveredThreads_(pending, start + batch.length, lastIndexOfThread, label, labelled);
    var newest = Math.floor(batch[batch.length - 1].date.getTime() / 1000);
    if (newest > watermark) {
      watermark = newest;
      properties.setProperty('WATERMARK', String(watermark));
    }
  }
  summary.watermark = watermark;
  console.log(
    'Forwarded ' + summary.delivered + ' of ' + pending.length + ' message(s) in ' +
      summary.batches + ' batch(es); watermark ' + watermark
  );
  return summary;
}

function readConfig_(properties) {
  var url = (properties.getProperty('WEBHOOK_URL') || '').trim();
  var secret = properties.getProperty('WEBHOOK_SECRET') || '';
  if (!url || !secret) {
    throw new Error(
      'Set the script properties WEBHOOK_URL and WEBHOOK_SECRET (Project Settings -> ' +
        'Script properties) before running the forwarder.'
    );
  }
  var label = properties.getProperty('FORWARDED_LABEL');
  return { url: url, secret: secret, label: label === null ? SERVICEDESK.DEFAULT_LABEL : label };
}

/** Inbox mail dated at or after `sinceSeconds`, oldest first: [{message, thread, threadId, date}]. */
function collectMessages_(sinceSeconds) {
  var query = 'in:inbox after:' + Math.max(0, sinceSeconds);
  var sinceMillis = sinceSeconds * 1000;
  var found = [];
  var seen = {};
  for (var start = 0; ; start += SERVICEDESK.SEARCH_PAGE_SIZE) {
    var threads = GmailApp.search(query, start, SERVICEDESK.SEARCH_PAGE_SIZE);
    threads.forEach(function (thread) {
      thread.getMessages().forEach(function (message) {
        var id = message.getId();
        if (seen[id] || message.isDraft() || !message.isInInbox()) return;
        if (message.getDate().getTime() < sinceMillis) return;
        seen[id] = true;
        found.push({ message: message, thread: thread, threadId: thread.getId(), date: message.getDate() });
      });
    });
    if (threads.length < SERVICEDESK.SEARCH_PAGE_SIZE) break;
  }
  found.sort(function (a, b) {
    return a.date.getTime() - b.date.getTime() || (a.message.getId() < b.message.getId() ? -1 : 1);
  });
  return found;
}

/** POST one signed batch; {ok, results} on 2xx, {ok: false, error} on anything else. */
function postBatch_(config, batch) {
  var body = JSON.stringify({
    messages: batch.map(function (entry) {
      return {
        id: entry.message.getId(),
        raw: Utilities.base64Encode(entry.message.getRawContent(), Utilities.Charset.UTF_8),
      };
    }),
  });
  var timestamp = String(Math.floor(Date.now() / 1000));
  var response;
  try {
    response = UrlFetchApp.fetch(config.url, {
      method: 'post',
      contentType: 'application/json',
      payload: body,
      headers: {
        'X-Servicedesk-Timestamp': timestamp,
        'X-Servicedesk-Signature': sign_(config.secret, timestamp, body),
      },
      muteHttpExceptions: true,
      followRedirects: false,
    });
  } catch (error) {
    return { ok: false, error: String(error) };
  }
  var code = response.getResponseCode();
  if (code < 200 || code >= 300) {
    return { ok: false, error: 'HTTP ' + code + ': ' + response.getContentText().slice(0, 300) };
  }
  var results = [];
  try {
    results = JSON.parse(response.getContentText()).results || [];
  } catch (error) {
    console.warn('The webhook answered ' + code + ' without a JSON body.');
  }
  return { ok: true, results: results };
}

/** `sha256=<lowercase hex>` of HMAC-SHA256(secret, timestamp + "." + body). */
function sign_(secret, timestamp, body) {
  var digest = Utilities.computeHmacSha256Signature(
    timestamp + '.' + body,
    secret,
    Utilities.Charset.UTF_8
  );
  return (
    'sha256=' +
    digest
      .map(function (byte) {
        var hex = (byte & 0xff).toString(16);
        return hex.length === 1 ? '0' + hex : hex;
      })
      .join('')
  );
}

function countOutcomes_(results, batch, outcomes) {
  results.forEach(function (result) {
    outcomes[result.outcome] = (outcomes[result.outcome] || 0) + 1;
    if (result.outcome === 'rejected') {
      var entry = batch[result.index];
      console.warn(
        'The service rejected message ' + (entry ? entry.message.getId() : result.index) +
          ': ' + JSON.stringify(result.errors)
      );
    }
  });
}

function forwardedLabel_(name) {
  if (!name || name === '-') return null;
  return GmailApp.getUserLabelByName(name) || GmailApp.createLabel(name);
}

/** Label each thread, once, whose collected mail all lies before `deliveredCount`. */
function labelDeliveredThreads_(pending, deliveredCount, lastIndexOfThread, label, labelled) {
  if (!label) return;
  for (var i = 0; i < deliveredCount; i++) {
    var entry = pending[i];
    if (labelled[entry.threadId] || lastIndexOfThread[entry.threadId] >= deliveredCount) continue;
    labelled[entry.threadId] = true;
    entry.thread.addLabel(label);
  }
}

/** Run once by hand: installs the time-driven trigger (idempotent). */
function installTrigger() {
  var exists = ScriptApp.getProjectTriggers().some(function (trigger) {
    return trigger.getHandlerFunction() === 'forwardNewMail';
  });
  if (!exists) {
    ScriptApp.newTrigger('forwardNewMail')
      .timeBased()
      .everyMinutes(SERVICEDESK.TRIGGER_MINUTES)
      .create();
  }
  return !exists;
}

/** Removes the trigger installed by installTrigger. */
function uninstallTrigger() {
  ScriptApp.getProjectTriggers().forEach(function (trigger) {
    if (trigger.getHandlerFunction() === 'forwardNewMail') ScriptApp.deleteTrigger(trigger);
  });
}
