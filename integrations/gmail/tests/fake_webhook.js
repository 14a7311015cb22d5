// A stand-in for the service's webhook, run in a worker thread so it keeps answering while
// the script under test blocks the main thread on a synchronous UrlFetchApp call. It
// checks the signature exactly as API.md defines it and answers like the service: 413
// for a body over the cap (48 MiB) or more items than the batch cap, `duplicate` for an
// id it stored before, `rejected` for an item of neither form.
'use strict';

const crypto = require('node:crypto');
const http = require('node:http');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

const MiB = 1024 * 1024;
// Item fields longer than this are kept as their length and sha256 (memory, and the
// structured clone that carries them to the test).
const KEEP_CHARS = 256 * 1024;

function keep(value) {
  if (typeof value !== 'string' || value.length <= KEEP_CHARS) return value;
  return { length: value.length, sha256: crypto.createHash('sha256').update(value).digest('hex') };
}

function summarize(item) {
  if (item === null || typeof item !== 'object') return item;
  const kept = {};
  for (const [key, value] of Object.entries(item)) kept[key] = keep(value);
  if (typeof item.raw === 'string') {
    const bytes = Buffer.from(item.raw, 'base64');
    kept.rawBytes = bytes.length;
    kept.rawSha256 = crypto.createHash('sha256').update(bytes).digest('hex');
  }
  return kept;
}

function serve({
  secret,
  failRequests = [],
  statusFor = {},
  refuseIds = {},
  maxBodyBytes = 48 * MiB,
  maxBatch = 100,
}) {
  const received = [];
  const stored = new Set();
  const storedOrder = [];
  const server = http.createServer((request, response) => {
    const chunks = [];
    let bytes = 0;
    request.on('data', (chunk) => {
      bytes += chunk.length;
      // Past the cap the body is read and dropped, as the service's server does.
      if (bytes <= maxBodyBytes) chunks.push(chunk);
    });
    request.on('end', () => {
      const number = received.length + 1;
      const record = {
        number,
        method: request.method,
        contentType: request.headers['content-type'],
        bytes,
        signatureValid: false,
        messages: null,
        status: null,
      };
      received.push(record);
      const reply = (status, payload) => {
        record.status = status;
        response.writeHead(status, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify(payload));
      };
      if (failRequests.includes(number))
        return reply(500, { detail: 'Boom.', code: 'server_error' });
      if (statusFor[number]) return reply(statusFor[number], { detail: 'As told.', code: 'test' });
      if (bytes > maxBodyBytes) {
        return reply(413, { detail: `Over ${maxBodyBytes} bytes.`, code: 'payload_too_large' });
      }
      const body = Buffer.concat(chunks);
      const timestamp = request.headers['x-servicedesk-timestamp'] || '';
      const expected =
        'sha256=' +
        crypto.createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
      record.signatureValid =
        request.headers['x-servicedesk-signature'] === expected &&
        Math.abs(Date.now() / 1000 - Number(timestamp)) <= 300;
      let messages = null;
      try {
        messages = JSON.parse(body.toString('utf8')).messages;
      } catch (error) {
        messages = null;
      }
      record.messages = Array.isArray(messages) ? messages.map(summarize) : null;
      if (!record.signatureValid) {
        return reply(401, { detail: 'Bad signature.', code: 'invalid_signature' });
      }
      if (!Array.isArray(messages) || !messages.length) {
        return reply(400, { detail: 'Bad body.', code: 'parse_error' });
      }
      if (messages.length > maxBatch) {
        return reply(413, { detail: 'Too many.', code: 'too_many_messages' });
      }
      const refused = messages.find((item) => refuseIds[item && item.id]);
      if (refused) return reply(refuseIds[refused.id], { detail: 'Refused.', code: 'refused' });
      const results = messages.map((item, index) => {
        if (!item || (typeof item.raw !== 'string' && typeof item.user_email !== 'string')) {
          return { index, id: null, outcome: 'rejected', errors: { non_field_errors: ['?'] } };
        }
        const outcome = stored.has(item.id) ? 'duplicate' : 'created';
        if (outcome === 'created') storedOrder.push(item.id);
        stored.add(item.id);
        return { index, id: item.id, outcome, request_id: 1, message_id: index + 1 };
      });
      return reply(200, { results, summary: {} });
    });
  });
  server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
  parentPort.on('message', (message) => {
    if (message === 'received') parentPort.postMessage({ received });
    if (message === 'stored') parentPort.postMessage({ stored: storedOrder });
    if (message === 'stop') server.close(() => process.exit(0));
  });
}

if (!isMainThread) serve(workerData);

/** Start the fake webhook; resolves to {url, received(), stored(), stop()}. */
function startFakeWebhook(options) {
  const worker = new Worker(__filename, { workerData: options });
  const next = () => new Promise((resolve) => worker.once('message', resolve));
  const ask = async (what) => {
    const answer = next();
    worker.postMessage(what);
    return (await answer)[what];
  };
  return next().then(({ port }) => ({
    url: `http://127.0.0.1:${port}/api/v1/inbound/emails/`,
    /** Every request: {number, bytes, status, signatureValid, messages (long fields summarised)}. */
    received: () => ask('received'),
    /** Ids the webhook stored, in the order it first stored them. */
    stored: () => ask('stored'),
    async stop() {
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage('stop');
      await exited;
    },
  }));
}

module.exports = { MiB, startFakeWebhook };
