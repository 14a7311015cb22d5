// A stand-in for the service's webhook, run in a worker thread so it keeps answering while
// the script under test blocks the main thread on a synchronous UrlFetchApp call. It
// checks the signature exactly as API.md defines it and answers like the service.
'use strict';

const crypto = require('node:crypto');
const http = require('node:http');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

function serve({ secret, failRequests = [] }) {
  const received = [];
  const stored = new Set();
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const timestamp = request.headers['x-servicedesk-timestamp'] || '';
      const expected =
        'sha256=' +
        crypto.createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
      const signatureValid =
        request.headers['x-servicedesk-signature'] === expected &&
        Math.abs(Date.now() / 1000 - Number(timestamp)) <= 300;
      const number = received.length + 1;
      let messages = [];
      try {
        messages = JSON.parse(body.toString('utf8')).messages;
      } catch (error) {
        messages = null;
      }
      received.push({
        number,
        method: request.method,
        contentType: request.headers['content-type'],
        signatureValid,
        messages,
      });
      const reply = (status, payload) => {
        response.writeHead(status, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify(payload));
      };
      if (failRequests.includes(number)) return reply(500, { detail: 'Boom.', code: 'server_error' });
      if (!signatureValid) return reply(401, { detail: 'Bad signature.', code: 'invalid_signature' });
      if (!Array.isArray(messages)) return reply(400, { detail: 'Bad body.', code: 'parse_error' });
      const results = messages.map((item, index) => {
        const outcome = stored.has(item.id) ? 'duplicate' : 'created';
        stored.add(item.id);
        return { index, id: item.id, outcome, request_id: 1, message_id: index + 1 };
      });
      return reply(200, { results, summary: {} });
    });
  });
  server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
  parentPort.on('message', (message) => {
    if (message === 'received') parentPort.postMessage({ received });
    if (message === 'stop') server.close(() => process.exit(0));
  });
}

if (!isMainThread) serve(workerData);

/** Start the fake webhook; resolves to {url, received(), stop()}. */
function startFakeWebhook(options) {
  const worker = new Worker(__filename, { workerData: options });
  const next = () => new Promise((resolve) => worker.once('message', resolve));
  return next().then(({ port }) => ({
    url: `http://127.0.0.1:${port}/api/v1/inbound/emails/`,
    async received() {
      const answer = next();
      worker.postMessage('received');
      return (await answer).received;
    },
    async stop() {
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage('stop');
      await exited;
    },
  }));
}

module.exports = { startFakeWebhook };
