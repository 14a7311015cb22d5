/**
 * Service Desk forwarder for a Gmail inbox (Google Apps Script, V8 runtime).
 *
 * Every run (a time-driven trigger, see installTrigger) reads the inbox mail that
 * arrived since the watermark kept in the script properties and posts it, oldest first,
 * to the service's signed webhook. Each mail goes as its raw RFC 822 text, or, when that
 * is over RAW_LIMIT_BYTES, in the field form (sender, subject, thread headers, plain and
 * HTML text, and the attachments it leaves out). Batches hold at most 50 mails and
 * MAX_BATCH_BYTES of JSON; a mail large on its own is posted alone. After each batch the
 * service accepted (HTTP 2xx) the script
 *   - labels the threads whose mail has all been delivered, and
 *   - moves the watermark to the newest mail of that batch.
 *
 * What the service refuses:
 *   - 413 (too large): the batch is split in halves and each half posted again; a mail
 *     refused alone in the raw form is sent again in the field form;
 *   - 400 or 422 for a mail posted alone, or 413 for its field form, or a field form
 *     over UrlFetchApp's 50 MB: the mail failed this run. The run ends there, so the mail
 *     after it keeps its order; after 3 such runs the mail is labelled
 *     ServiceDesk/Failed and passed over, and the mail after it goes on.
 *   - anything else (no answer, 5xx, 401, 503, 404, 429, ...) says nothing about the
 *     mail: the run ends and the next run sends the same mail again.
 * Each run also re-reads OVERLAP_SECONDS before the watermark; mail sent twice is
 * harmless, the service stores it once.
 *
 * Script properties (Project Settings -> Script properties):
 *   WEBHOOK_URL      https://helpdesk.example.com/api/v1/inbound/emails/   (required)
 *   WEBHOOK_SECRET   the service's INBOUND_WEBHOOK_SECRET                   (required)
 *   WATERMARK        unix seconds of the newest delivered mail (kept by the script)
 *   FORWARDED_LABEL  label for delivered threads (default "ServiceDesk/Forwarded";
 *                    set to "-" for none)
 *   RAW_LIMIT_BYTES  raw mail above this goes in the field form (default 31457280, 30 MiB)
 *   MAX_BATCH_BYTES  JSON bytes of one request (default 47185920, 45 MiB: under the
 *                    service's 48 MiB INBOUND_MAX_BODY_BYTES and UrlFetchApp's 50 MB)
 *   DELIVERY_FAILURES  runs each refused mail has failed (kept by the script)
 */

var SERVICEDESK = {
  BATCH_SIZE: 50,
  RAW_LIMIT_BYTES: 30 * 1024 * 1024,
  MAX_BATCH_BYTES: 45 * 1024 * 1024,
  // UrlFetchApp refuses a payload over 50 MB (read strictly: decimal megabytes).
  UPLOAD_LIMIT_BYTES: 50 * 1000 * 1000,
  // Runs a mail the service refuses may hold up the mail after it.
  MAX_FAILED_RUNS: 3,
  FAILED_LABEL: 'ServiceDesk/Failed',
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
  // Statuses that refuse the mail itself (its size or content); every other failure is
  // the service's or the network's and is retried on the next run.
  REFUSING_STATUSES: [400, 413, 422],
  // Headers the field form passes on for the service's automatic-mail detection.
  AUTOMATIC_HEADERS: [
    'Auto-Submitted',
    'Precedence',
    'List-Id',
    'List-Unsubscribe',
    'X-Autoreply',
    'X-Autorespond',
    'X-Auto-Response-Suppress',
    'Return-Path',
  ],
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
  var failures = readFailures_(properties, since);

  var pending = collectMessages_(since)
    .filter(function (entry) {
      var failure = failures[entry.message.getId()];
      return !(failure && failure.gaveUp);
    })
    .slice(0, SERVICEDESK.MAX_MESSAGES_PER_RUN);
  var run = {
    config: config,
    properties: properties,
    failures: failures,
    pending: pending,
    label: forwardedLabel_(config.label),
    lastIndexOfThread: {},
    labelled: {},
    failedThreads: {},
    watermark: watermark,
    summary: {
      delivered: 0,
      batches: 0,
      failed: false,
      watermark: watermark,
      outcomes: {},
      fieldForm: 0,
      split: 0,
      refused: [],
      gaveUp: [],
    },
  };
  pending.forEach(function (entry, index) {
    entry.index = index;
    run.lastIndexOfThread[entry.threadId] = index;
  });

  var next = 0;
  var carried = null;
  while (next < pending.length) {
    var batch = [];
    var bytes = 0;
    while (next < pending.length && batch.length < SERVICEDESK.BATCH_SIZE) {
      var item = carried || prepareItem_(config, pending[next]);
      carried = null;
      if (batch.length && bytes + item.bytes + 1 > config.maxBatchBytes) {
        carried = item;
        break;
      }
      batch.push(item);
      bytes += item.bytes + 1;
      next += 1;
    }
    if (!deliver_(run, batch)) {
      run.summary.failed = true;
      break;
    }
  }
  run.summary.watermark = run.watermark;
  saveFailures_(properties, failures);
  console.log(
    'Forwarded ' + run.summary.delivered + ' of ' + pending.length + ' message(s) in ' +
      run.summary.batches + ' batch(es); watermark ' + run.watermark
  );
  return run.summary;
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
  return {
    url: url,
    secret: secret,
    label: label === null ? SERVICEDESK.DEFAULT_LABEL : label,
    rawLimitBytes: positiveNumber_(properties, 'RAW_LIMIT_BYTES', SERVICEDESK.RAW_LIMIT_BYTES),
    maxBatchBytes: positiveNumber_(properties, 'MAX_BATCH_BYTES', SERVICEDESK.MAX_BATCH_BYTES),
  };
}

function positiveNumber_(properties, name, fallback) {
  var value = Number(properties.getProperty(name));
  return value > 0 ? value : fallback;
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

/**
 * One mail as a batch item: {entry, form, json, bytes}. The raw form when the mail's
 * raw text is at most RAW_LIMIT_BYTES and its item fits a request, else the field form.
 */
function prepareItem_(config, entry) {
  var raw = entry.message.getRawContent();
  // A string's UTF-8 size is at least its length: a long one is over without encoding.
  if (raw.length <= config.rawLimitBytes) {
    var encoded = Utilities.base64Encode(raw, Utilities.Charset.UTF_8);
    var padding = encoded.slice(-2).split('=').length - 1;
    var rawBytes = (encoded.length / 4) * 3 - padding;
    var json = JSON.stringify({ id: entry.message.getId(), raw: encoded });
    if (rawBytes <= config.rawLimitBytes && json.length <= config.maxBatchBytes) {
      return { entry: entry, form: 'raw', json: json, bytes: json.length };
    }
  }
  raw = null;
  return fieldItem_(entry);
}

/** The field form of a mail: its text and headers, and the attachments it leaves out. */
function fieldItem_(entry) {
  var message = entry.message;
  var item = {
    id: message.getId(),
    user_email: message.getFrom(),
    title: message.getSubject(),
    description: message.getPlainBody(),
    html: message.getBody(),
    date: message.getDate().toISOString(),
    attachments_omitted: message
      .getAttachments({ includeInlineImages: true, includeAttachments: true })
      .map(function (attachment) {
        return {
          filename: attachment.getName(),
          content_type: attachment.getContentType(),
          size: attachment.getSize(),
        };
      }),
  };
  var threadHeaders = {
    message_id: 'Message-ID',
    in_reply_to: 'In-Reply-To',
    references: 'References',
  };
  Object.keys(threadHeaders).forEach(function (field) {
    var value = message.getHeader(threadHeaders[field]);
    if (value) item[field] = value;
  });
  var headers = {};
  SERVICEDESK.AUTOMATIC_HEADERS.forEach(function (name) {
    var value = message.getHeader(name);
    if (value) headers[name] = value;
  });
  if (Object.keys(headers).length) item.headers = headers;
  var json = JSON.stringify(item);
  return { entry: entry, form: 'field', json: json, bytes: utf8Length_(json) };
}

/** Bytes of a string in UTF-8 (a lone surrogate counts 3, as its replacement character). */
function utf8Length_(text) {
  var bytes = text.length;
  for (var i = 0; i < text.length; i++) {
    var code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      var low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        bytes += 2;
        i += 1;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}

/**
 * Post `items` (consecutive mails); true when all of them are done with (delivered, or
 * given up after their last failed run), false when the run must stop here.
 */
function deliver_(run, items) {
  var bytes = items.reduce(function (total, item) {
    return total + item.bytes + 1;
  }, 16);
  var answer =
    bytes > SERVICEDESK.UPLOAD_LIMIT_BYTES
      ? { ok: false, status: 413, error: bytes + ' bytes: over what UrlFetchApp can post' }
      : postBatch_(run.config, items);
  if (answer.ok) {
    accept_(run, items, answer.results);
    return true;
  }
  var refused = answer.status && SERVICEDESK.REFUSING_STATUSES.indexOf(answer.status) !== -1;
  if (!refused) {
    console.error(
      'The webhook did not take a batch (' + answer.error + '); it will be sent again.'
    );
    return false;
  }
  if (items.length > 1) {
    run.summary.split += 1;
    var half = Math.ceil(items.length / 2);
    console.warn(
      'The webhook refused a batch of ' + items.length + ' (' + answer.error + '); ' +
        'posting it in halves.'
    );
    return deliver_(run, items.slice(0, half)) && deliver_(run, items.slice(half));
  }
  var item = items[0];
  if (answer.status === 413 && item.form === 'raw') {
    console.warn(
      'The webhook refused message ' + item.entry.message.getId() + ' as too large; ' +
        'sending its text.'
    );
    return deliver_(run, [fieldItem_(item.entry)]);
  }
  return fail_(run, item, answer.error);
}

/** Record what the service answered for delivered `items`; label and move the watermark. */
function accept_(run, items, results) {
  var summary = run.summary;
  summary.batches += 1;
  summary.delivered += items.length;
  items.forEach(function (item) {
    if (item.form === 'field') summary.fieldForm += 1;
    delete run.failures[item.entry.message.getId()];
  });
  countOutcomes_(results, items, summary.outcomes);
  passed_(run, items[items.length - 1].entry);
}

/** A mail refused on its own this run: stop here, or, after its last run, label it and go on. */
function fail_(run, item, error) {
  var message = item.entry.message;
  var id = message.getId();
  var failure = run.failures[id] || { runs: 0, date: Math.floor(item.entry.date.getTime() / 1000) };
  failure.runs += 1;
  failure.error = String(error).slice(0, 100);
  run.failures[id] = failure;
  run.summary.refused.push(id);
  if (failure.runs < SERVICEDESK.MAX_FAILED_RUNS) {
    console.error(
      'The webhook refused message ' + id + ' (' + error + '), run ' + failure.runs + ' of ' +
        SERVICEDESK.MAX_FAILED_RUNS + '; it and the mail after it will be sent again.'
    );
    return false;
  }
  failure.gaveUp = true;
  run.summary.gaveUp.push(id);
  run.failedThreads[item.entry.threadId] = true;
  var label = GmailApp.getUserLabelByName(SERVICEDESK.FAILED_LABEL) ||
    GmailApp.createLabel(SERVICEDESK.FAILED_LABEL);
  item.entry.thread.addLabel(label);
  console.error(
    'The webhook refused message ' + id + ' in ' + failure.runs + ' runs (' + error + '); ' +
      'labelled ' + SERVICEDESK.FAILED_LABEL + ' and passed over.'
  );
  saveFailures_(run.properties, run.failures);
  passed_(run, item.entry);
  return true;
}

/** Everything up to `entry` is done with: label finished threads and move the watermark. */
function passed_(run, entry) {
  labelDeliveredThreads_(run, entry.index + 1);
  var newest = Math.floor(entry.date.getTime() / 1000);
  if (newest > run.watermark) {
    run.watermark = newest;
    run.properties.setProperty('WATERMARK', String(newest));
  }
}

/** Failed-run counts by Gmail id, without mail the search no longer reaches. */
function readFailures_(properties, sinceSeconds) {
  var failures = {};
  try {
    failures = JSON.parse(properties.getProperty('DELIVERY_FAILURES') || '{}') || {};
  } catch (error) {
    console.warn('DELIVERY_FAILURES was not JSON; starting the counts again.');
  }
  Object.keys(failures).forEach(function (id) {
    if (!(failures[id].date >= sinceSeconds)) delete failures[id];
  });
  return failures;
}

function saveFailures_(properties, failures) {
  var value = JSON.stringify(failures);
  if (value === (properties.getProperty('DELIVERY_FAILURES') || '{}')) return;
  if (value === '{}') properties.deleteProperty('DELIVERY_FAILURES');
  else properties.setProperty('DELIVERY_FAILURES', value);
}

/** POST one signed batch; {ok, results} on 2xx, {ok: false, status?, error} otherwise. */
function postBatch_(config, items) {
  var body =
    '{"messages":[' +
    items
      .map(function (item) {
        return item.json;
      })
      .join(',') +
    ']}';
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
    return { ok: false, status: null, error: String(error) };
  }
  var code = response.getResponseCode();
  if (code < 200 || code >= 300) {
    return {
      ok: false,
      status: code,
      error: 'HTTP ' + code + ': ' + response.getContentText().slice(0, 300),
    };
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

function countOutcomes_(results, items, outcomes) {
  results.forEach(function (result) {
    outcomes[result.outcome] = (outcomes[result.outcome] || 0) + 1;
    if (result.outcome === 'rejected') {
      var item = items[result.index];
      console.warn(
        'The service rejected message ' + (item ? item.entry.message.getId() : result.index) +
          ': ' + JSON.stringify(result.errors)
      );
    }
  });
}

function forwardedLabel_(name) {
  if (!name || name === '-') return null;
  return GmailApp.getUserLabelByName(name) || GmailApp.createLabel(name);
}

/**
 * Label each thread, once, whose collected mail all lies before `doneCount` and none of
 * which was given up.
 */
function labelDeliveredThreads_(run, doneCount) {
  if (!run.label) return;
  for (var i = 0; i < doneCount; i++) {
    var entry = run.pending[i];
    var threadId = entry.threadId;
    if (run.labelled[threadId] || run.failedThreads[threadId]) continue;
    if (run.lastIndexOfThread[threadId] >= doneCount) continue;
    run.labelled[threadId] = true;
    entry.thread.addLabel(run.label);
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
