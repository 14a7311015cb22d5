// One real HTTP request for the UrlFetchApp stand-in, run in a child process so that the
// script under test can call it synchronously, as Apps Script does. Reads
// {url, method, headers, body} as JSON on stdin, writes {status, headers, body} or
// {error} on stdout.
'use strict';

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  input += chunk;
});
process.stdin.on('end', async () => {
  const request = JSON.parse(input);
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body === undefined ? undefined : Buffer.from(request.body, 'base64'),
      redirect: request.followRedirects ? 'follow' : 'manual',
      signal: AbortSignal.timeout(request.timeoutMs || 60000),
    });
    const body = Buffer.from(await response.arrayBuffer()).toString('base64');
    process.stdout.write(
      JSON.stringify({ status: response.status, headers: Object.fromEntries(response.headers), body })
    );
  } catch (error) {
    process.stdout.write(JSON.stringify({ error: String(error && (error.cause || error)) }));
  }
});
