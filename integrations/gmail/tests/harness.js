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

  getName() {
    return this.name;
  }
}

class FakeMessage {
  constructor({ id, thread, raw, date, inInbox = true, draft = false, fixture = null }) {
    Object.assign(this, { id, thread, raw, date, inInbox, draft, fixture });
  }

  getId() {
    return this.id;
  }

  getDate() {
    return new Date(this.date);
  }

  getRawContent() {
    return this.raw;
  }

  isInInbox() {
    return this.inInbox;
  }

  isDraft() {
    return this.draft;
  }

  getThread() {
    return this.thread;
  }
}

class FakeThread {
  constructor(id) {
    this.id = id;
    this.messages = [];
    this.labels = new Set();
  }

  getId() {
    return this.id;
  }

  getMessages() {
    return [...this.messages].sort((a, b) => a.date - b.date);
  }

  addLabel(label) {
    this.labels.add(label.getName());
    return this;
  }

  getLabels() {
    return [...this.labels].map((name) => new FakeLabel(name));
  }
}

/** GmailApp over an in-memory mailbox; `search` understands `in:inbox after:<seconds>`. */
class Mailbox {
  constructor() {
    this.threads = new Map();
    this.labels = new Map();
    this.searches = [];
  }

  /** Add a message: {id, threadId?, fixture? | raw?, date (ms), inInbox?, draft?}. */
  add({ id, threadId = id, fixture = null, raw = null, date, inInbox = true, draft = false }) {
    if (!this.threads.has(threadId)) this.threads.set(threadId, new FakeThread(threadId));
    const thread = this.threads.get(threadId);
    const content = raw === null ? readFixture(fixture) : raw;
    const message = new FakeMessage({ id, thread, raw: content, date, inInbox, draft, fixture });
    thread.messages.push(message);
    return message;
  }

  messages() {
    return [...this.threads.values()].flatMap((thread) => thread.messages);
  }

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

/** UrlFetchApp: every call is a real HTTP request, made synchronously in a child process. */
function urlFetchApp(requests) {
  return {
    fetch(url, params = {}) {
      const method = (params.method || 'get').toUpperCase();
      const headers = { ...(params.headers || {}) };
      if (params.contentType) headers['Content-Type'] = params.contentType;
      const payload = params.payload === undefined ? undefined : String(params.payload);
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
      requests.push({ url, method, headers, payload, status: result.status, error: result.error });
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

module.exports = { FIXTURES, Mailbox, fixtureMailbox, fixtureNames, loadScript, readFixture };
