// Runs Code.gs under Node with small stand-ins for the Apps Script services it uses:
// GmailApp (a mailbox of real .eml fixtures), UrlFetchApp (real, synchronous HTTP
// through a child process), Utilities, PropertiesService, LockService and ScriptApp.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { execFileSync } = require('node:child_process');

const SCRIPT = path.join(__dirname, '..', 'Code.gs');
const FETCH_CHILD = path.join(__dirname, 'fetch_child.js');
const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'messages_app', 'tests', 'emails');

function fixtureNames() {
  return fs
    .readdirSync(FIXTURES)
    .filter((name) => name.endsWith('.eml'))
    .sort();
}

function readFixture(name) {
  // Gmail hands the script the message as text; the corpus is 7-bit or UTF-8 except
  // for one 8-bit KOI8-R mail, which arrives as Gmail would give it: re-encoded text.
  return fs.readFileSync(path.join(FIXTURES, name), 'utf8');
}

class FakeLabel {
  constructor(name) {
    this.name = name;
  }

  getName() { return this.name; }
}

/** The header block of raw mail as [name, value] pairs, continuation lines unfolded. */
function parseHeaders(raw) {
  const end = raw.search(/\r?\n\r?\n/);
  const block = end === -1 ? raw : raw.slice(0, end);
  return block
    .replace(/\r?\n[ \t]+/g, ' ')
    .split(/\r?\n/)
    .filter((line) => line.includes(':'))
    .map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
    });
}

class FakeAttachment {
  constructor({ name, contentType, size }) {
    Object.assign(this, { name, contentType, size });
  }

  getName() { return this.name; }
  getContentType() { return this.contentType; }
  getSize() { return this.size; }
}

/**
 * GmailMessage. Headers come from the raw text; the decoded parts (plain and HTML body,
 * attachments) from `view`, which buildMail() writes alongside the raw text it builds.
 */
class FakeMessage {
  constructor({ id, thread, raw, date, inInbox = true, draft = false, fixture = null, view }) {
    Object.assign(this, { id, thread, raw, date, inInbox, draft, fixture, view: view || null });
    this.headers = parseHeaders(raw);
  }

  getHeader(name) {
    const found = this.headers.find(([key]) => key.toLowerCase() === name.toLowerCase());
    return found ? found[1] : '';
  }

  getFrom() { return this.getHeader('From'); }
  getSubject() { return this.getHeader('Subject'); }

  decoded() {
    if (!this.view) throw new Error(`message ${this.id}: the harness has no decoded parts for it`);
    return this.view;
  }

  getPlainBody() { return this.decoded().plain; }
  getBody() { return this.decoded().html; }

  getAttachments(options = {}) {
    const { includeInlineImages = true, includeAttachments = true } = options;
    return this.decoded()
      .attachments.filter((a) => (a.inline ? includeInlineImages : includeAttachments))
      .map((a) => new FakeAttachment(a));
  }

  getId() { return this.id; }
  getDate() { return new Date(this.date); }
  getRawContent() { return this.raw; }
  isInInbox() { return this.inInbox; }
  isDraft() { return this.draft; }
  getThread() { return this.thread; }
}

class FakeThread {
  constructor(id) {
    this.id = id;
    this.messages = [];
    this.labels = new Set();
  }

  getId() { return this.id; }
  getMessages() { return [...this.messages].sort((a, b) => a.date - b.date); }

  addLabel(label) {
    this.labels.add(label.getName());
    return this;
  }

  getLabels() { return [...this.labels].map((name) => new FakeLabel(name)); }
}

/** GmailApp over an in-memory mailbox; `search` understands `in:inbox after:<seconds>`. */
class Mailbox {
  constructor() {
    this.threads = new Map();
    this.labels = new Map();
    this.searches = [];
  }

  /** Add a message: {id, threadId?, fixture? | raw? | mail, date (ms), inInbox?, draft?}. */
  add({ id, threadId = id, fixture = null, raw = null, mail = null, date, inInbox, draft }) {
    if (!this.threads.has(threadId)) this.threads.set(threadId, new FakeThread(threadId));
    const thread = this.threads.get(threadId);
    let content = raw;
    if (mail) content = mail.raw;
    else if (raw === null) content = readFixture(fixture);
    const view = mail ? mail.view : null;
    const message = new FakeMessage({
      id,
      thread,
      raw: content,
      date,
      inInbox,
      draft,
      fixture,
      view,
    });
    thread.messages.push(message);
    return message;
  }

  messages() { return [...this.threads.values()].flatMap((thread) => thread.messages); }

  labelledThreadIds(name) {
    return [...this.threads.values()]
      .filter((thread) => thread.labels.has(name))
      .map((thread) => thread.id)
      .sort();
  }

  search(query, start = 0, max = 500) {
    this.searches.push({ query, start, max });
    const after = /after:(\d+)/.exec(query);
    const sinceMillis = after ? Number(after[1]) * 1000 : 0;
    const inboxOnly = /in:inbox/.test(query);
    const matching = [...this.threads.values()].filter((thread) =>
      thread.messages.some((m) => m.date >= sinceMillis && (!inboxOnly || m.inInbox))
    );
    const newest = (thread) => Math.max(...thread.messages.map((m) => m.date));
    matching.sort((a, b) => newest(b) - newest(a));
    return matching.slice(start, start + max);
  }

  getUserLabelByName(name) {
    return this.labels.get(name) || null;
  }

  createLabel(name) {
    const label = new FakeLabel(name);
    this.labels.set(name, label);
    return label;
  }
}

function scriptProperties(initial) {
  const values = { ...initial };
  const store = {
    values,
    getProperty: (key) => (Object.prototype.hasOwnProperty.call(values, key) ? values[key] : null),
    setProperty: (key, value) => {
      values[key] = String(value);
      return store;
    },
    deleteProperty: (key) => {
      delete values[key];
      return store;
    },
    getProperties: () => ({ ...values }),
  };
  return store;
}

// Apps Script's quota: 50 MB per POST (read generously here; the script reads it strictly).
const URL_FETCH_POST_LIMIT = 50 * 1024 * 1024;

/** UrlFetchApp: every call is a real HTTP request, made synchronously in a child process. */
function urlFetchApp(requests) {
  return {
    fetch(url, params = {}) {
      const method = (params.method || 'get').toUpperCase();
      const headers = { ...(params.headers || {}) };
      if (params.contentType) headers['Content-Type'] = params.contentType;
      const payload = params.payload === undefined ? undefined : String(params.payload);
      if (payload !== undefined && Buffer.byteLength(payload, 'utf8') > URL_FETCH_POST_LIMIT) {
        throw new Error('Exception: Limit Exceeded: URLFetch POST Size.');
      }
      const output = execFileSync(process.execPath, [FETCH_CHILD], {
        input: JSON.stringify({
          url,
          method,
          headers,
          body: payload === undefined ? undefined : Buffer.from(payload, 'utf8').toString('base64'),
          followRedirects: params.followRedirects !== false,
        }),
        maxBuffer: 256 * 1024 * 1024,
      });
      const result = JSON.parse(output.toString('utf8'));
      // The body's size only: a run can post hundreds of megabytes.
      const bytes = payload === undefined ? 0 : Buffer.byteLength(payload, 'utf8');
      requests.push({ url, method, headers, bytes, status: result.status, error: result.error });
      if (result.error) throw new Error(`Exception: Address unavailable: ${url} (${result.error})`);
      const text = Buffer.from(result.body, 'base64').toString('utf8');
      if (!params.muteHttpExceptions && result.status >= 400) {
        throw new Error(`Exception: Request failed for ${url} returned code ${result.status}.`);
      }
      return {
        getResponseCode: () => result.status,
        getContentText: () => text,
        getHeaders: () => result.headers,
      };
    },
  };
}

const Utilities = {
  Charset: { UTF_8: 'UTF-8', US_ASCII: 'US-ASCII' },
  computeHmacSha256Signature(value, key, charset = 'UTF-8') {
    const encoding = charset === 'US-ASCII' ? 'ascii' : 'utf8';
    const digest = crypto
      .createHmac('sha256', Buffer.from(key, encoding))
      .update(Buffer.from(value, encoding))
      .digest();
    // Apps Script answers Java bytes: signed, -128..127.
    return Array.from(digest, (byte) => (byte > 127 ? byte - 256 : byte));
  },
  base64Encode(data, charset = 'UTF-8') {
    if (Array.isArray(data)) return Buffer.from(data.map((byte) => byte & 0xff)).toString('base64');
    return Buffer.from(String(data), charset === 'US-ASCII' ? 'ascii' : 'utf8').toString('base64');
  },
};

function scriptApp() {
  const triggers = [];
  return {
    triggers,
    newTrigger(handler) {
      const trigger = { handler, minutes: null, getHandlerFunction: () => handler };
      const builder = {
        timeBased: () => builder,
        everyMinutes: (minutes) => {
          trigger.minutes = minutes;
          return builder;
        },
        create: () => {
          triggers.push(trigger);
          return trigger;
        },
      };
      return builder;
    },
    getProjectTriggers: () => [...triggers],
    deleteTrigger: (trigger) => triggers.splice(triggers.indexOf(trigger), 1),
  };
}

/** Load Code.gs into a fresh context with the stand-ins; returns the script and its world. */
function loadScript({ mailbox = new Mailbox(), properties = {}, lockHeld = false } = {}) {
  const requests = [];
  const logs = [];
  const log = (level) => (...args) => logs.push({ level, message: args.join(' ') });
  const store = scriptProperties(properties);
  const app = scriptApp();
  const sandbox = {
    GmailApp: mailbox,
    UrlFetchApp: urlFetchApp(requests),
    Utilities,
    PropertiesService: { getScriptProperties: () => store },
    LockService: {
      getScriptLock: () => ({ tryLock: () => !lockHeld, releaseLock: () => {} }),
    },
    ScriptApp: app,
    console: { log: log('log'), info: log('info'), warn: log('warn'), error: log('error') },
  };
  vm.createContext(sandbox);
  vm.runInContext(fs.readFileSync(SCRIPT, 'utf8'), sandbox, { filename: 'Code.gs' });
  return { script: sandbox, mailbox, properties: store, requests, logs, triggers: app.triggers };
}

function wrap(text, width = 76) {
  const lines = [];
  for (let i = 0; i < text.length; i += width) lines.push(text.slice(i, i + width));
  return lines.join('\r\n');
}

/**
 * A MIME mail (multipart/mixed: plain and HTML text, then attachments in base64) and the
 * decoded view Gmail gives of it. `attachments`: [{name, contentType, size}] of
 * pseudo-random bytes (`seed` keeps them distinct); `plainPadding` adds that many
 * characters to the plain text, for mail whose text alone is large.
 */
function buildMail({
  from,
  subject,
  messageId,
  inReplyTo = null,
  plain = 'Hello,\nplease see below.\n',
  html = null,
  plainPadding = 0,
  attachments = [],
  seed = subject,
}) {
  const digest = crypto.createHash('sha256').update(String(seed)).digest('hex');
  const boundary = `b-${digest.slice(0, 24)}`;
  const text = plainPadding ? plain + 'x'.repeat(plainPadding) + '\n' : plain;
  const htmlText = html === null ? `<p>${plain.trim().replace(/\n/g, '<br>')}</p>` : html;
  const head = [
    `From: ${from}`,
    'To: Service Desk <support@example.com>',
    `Subject: ${subject}`,
    `Message-ID: ${messageId}`,
    ...(inReplyTo ? [`In-Reply-To: ${inReplyTo}`, `References: ${inReplyTo}`] : []),
    'Date: Mon, 23 Nov 2026 09:00:00 +0000',
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
  ];
  const alternative = `${boundary}-alt`;
  const parts = [
    `--${boundary}\r\nContent-Type: multipart/alternative; boundary="${alternative}"\r\n\r\n` +
      `--${alternative}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Transfer-Encoding: 8bit\r\n\r\n${text.replace(/\n/g, '\r\n')}\r\n` +
      `--${alternative}\r\nContent-Type: text/html; charset=utf-8\r\n` +
      `Content-Transfer-Encoding: 8bit\r\n\r\n${htmlText}\r\n--${alternative}--`,
  ];
  attachments.forEach((attachment, index) => {
    const bytes = Buffer.alloc(attachment.size);
    let block = crypto.createHash('sha256').update(`${seed}:${index}`).digest();
    for (let offset = 0; offset < bytes.length; offset += block.length) {
      block.copy(bytes, offset);
      block = crypto.createHash('sha256').update(block).digest();
    }
    parts.push(
      `--${boundary}\r\nContent-Type: ${attachment.contentType}; name="${attachment.name}"\r\n` +
        `Content-Disposition: attachment; filename="${attachment.name}"\r\n` +
        `Content-Transfer-Encoding: base64\r\n\r\n${wrap(bytes.toString('base64'))}`
    );
  });
  const raw = `${head.join('\r\n')}\r\n\r\n${parts.join('\r\n')}\r\n--${boundary}--\r\n`;
  return {
    raw,
    view: {
      plain: text,
      html: htmlText,
      attachments: attachments.map((a) => ({ ...a, inline: false })),
    },
  };
}

/** A mailbox holding every fixture once, received `spacingMs` apart, the last at `endMs`. */
function fixtureMailbox({ endMs = Date.now(), spacingMs = 60 * 1000, prefix = 'gmail' } = {}) {
  const mailbox = new Mailbox();
  const names = fixtureNames();
  names.forEach((name, index) => {
    mailbox.add({
      id: `${prefix}-${String(index).padStart(3, '0')}`,
      threadId: `${prefix}-thread-${name.replace(/\.eml$/, '')}`,
      fixture: name,
      date: endMs - (names.length - 1 - index) * spacingMs,
    });
  });
  return mailbox;
}

/** WEBHOOK_URL and WEBHOOK_SECRET from the environment, for the replay scripts. */
function liveWebhook() {
  const url = process.env.WEBHOOK_URL;
  const secret = process.env.WEBHOOK_SECRET;
  if (!url || !secret) {
    console.error('Set WEBHOOK_URL and WEBHOOK_SECRET.');
    process.exit(2);
  }
  return { WEBHOOK_URL: url, WEBHOOK_SECRET: secret };
}

// In the order they are defined above: the fixtures, the fake Gmail, the script, mail.
module.exports = {
  FIXTURES,
  fixtureNames,
  readFixture,
  Mailbox,
  loadScript,
  buildMail,
  fixtureMailbox,
  liveWebhook,
};
