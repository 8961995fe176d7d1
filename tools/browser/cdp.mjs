// A small Chrome DevTools Protocol client for headless Chromium: no npm packages. Talks
// over the browser's --remote-debugging-pipe by default (any Node, Debian 12's 18 too), or
// over a DevTools port and Node's global WebSocket (transport: 'websocket').
//
//   import { LaunchChromium } from './cdp.mjs';
//   const browser = await LaunchChromium({ timeoutMs: 30000 });
//   try {
//     const page = await browser.NewPage();           // console errors collected from here on
//     await page.Navigate('file:///tmp/report.html');
//     const title = await page.Evaluate('document.title');
//     await page.Screenshot('/tmp/shot.png');
//     if (page.errors.length) ...
//   } finally {
//     await browser.Close();                            // always kills chromium
//   }
//
// Every wait has a deadline: a page that never loads or a browser that never answers ends
// in a rejected promise, never a hang.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const kDefaultChromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser',
                          '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

// The first Chromium binary that exists: $CHROMIUM, then the usual Debian/Ubuntu paths.
// Returns null when none is installed (callers skip or fail with that reason).
export function FindChromium() {
  const candidates = [process.env.CHROMIUM, ...kDefaultChromium].filter(Boolean);
  for (const candidate of candidates) {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch { /* try the next */ }
  }
  return null;
}

function WithTimeout(promise, ms, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

// One WebSocket to the browser endpoint; page sessions share it (flattened sessions, so
// messages carry a sessionId instead of being wrapped in Target.sendMessageToTarget).
export class CdpConnection {
  constructor(socket, timeoutMs) {
    this.socket_ = socket;
    this.timeout_ms_ = timeoutMs;
    this.next_id_ = 1;
    this.pending_ = new Map();     // id -> {resolve, reject, method}
    this.listeners_ = new Set();   // (method, params, sessionId) => void
    this.closed_ = false;
    socket.addEventListener('message', (event) => this.OnMessage(event.data));
    socket.addEventListener('close', () => this.OnClose(new Error('DevTools socket closed')));
    socket.addEventListener('error', (event) => {
      const why = event?.error?.message ?? event?.message;
      this.OnClose(new Error('DevTools socket error' + (why ? `: ${why}` : '')));
    });
  }

  static async Connect(url, timeoutMs = 30000) {
    if (typeof WebSocket !== 'function') {
      throw new Error('no global WebSocket: run node with --experimental-websocket (Node 20+)');
    }
    const socket = new WebSocket(url);
    await WithTimeout(new Promise((resolve, reject) => {
      socket.addEventListener('open', resolve, { once: true });
      socket.addEventListener('error', () => reject(new Error(`cannot connect to ${url}`)),
                              { once: true });
    }), timeoutMs, `connect ${url}`);
    return new CdpConnection(socket, timeoutMs);
  }

  // Sends one command; resolves with its result, rejects with the protocol error text.
  Send(method, params = {}, sessionId = undefined, timeoutMs = this.timeout_ms_) {
    if (this.closed_) return Promise.reject(new Error(`${method}: DevTools connection closed`));
    const id = this.next_id_++;
    const message = { id, method, params };
    if (sessionId) message.sessionId = sessionId;
    const answer = new Promise((resolve, reject) => {
      this.pending_.set(id, { resolve, reject, method });
    });
    this.socket_.send(JSON.stringify(message));
    return WithTimeout(answer, timeoutMs, method).finally(() => this.pending_.delete(id));
  }

  // Calls listener(method, params, sessionId) for every event; returns an unsubscribe function.
  OnEvent(listener) {
    this.listeners_.add(listener);
    return () => this.listeners_.delete(listener);
  }

  // Resolves with the params of the first `method` event (of `sessionId` when given) for
  // which predicate(params) holds.
  WaitForEvent(method, { sessionId, predicate = () => true, timeoutMs = this.timeout_ms_ } = {}) {
    let unsubscribe = () => {};
    const seen = new Promise((resolve) => {
      unsubscribe = this.OnEvent((m, params, sid) => {
        if (m === method && (!sessionId || sid === sessionId) && predicate(params)) resolve(params);
      });
    });
    return WithTimeout(seen, timeoutMs, `waiting for ${method}`).finally(() => unsubscribe());
  }

  Close() {
    if (!this.closed_) {
      try { this.socket_.close(); } catch { /* already gone */ }
    }
    this.OnClose(new Error('DevTools connection closed'));
  }

  OnMessage(data) {
    let message;
    try {
      message = JSON.parse(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'));
    } catch {
      return;
    }
    if (message.id !== undefined) {
      const waiter = this.pending_.get(message.id);
      if (!waiter) return;
      if (message.error) {
        waiter.reject(new Error(`${waiter.method}: ${message.error.message}` +
                                (message.error.data ? ` (${message.error.data})` : '')));
      } else {
        waiter.resolve(message.result ?? {});
      }
      return;
    }
    for (const listener of [...this.listeners_]) {
      try { listener(message.method, message.params ?? {}, message.sessionId); } catch { /* a listener's bug */ }
    }
  }

  OnClose(error) {
    if (this.closed_) return;
    this.closed_ = true;
    for (const waiter of this.pending_.values()) waiter.reject(error);
    this.pending_.clear();
  }
}

function DescribeRemoteObject(object) {
  if (!object) return '';
  if (object.value !== undefined) return String(object.value);
  return object.description ?? object.unserializableValue ?? object.type ?? '';
}

// One tab. Collects console errors, uncaught exceptions, failed loads and browser log
// errors into `errors` (strings) from the moment it is created.
export class CdpPage {
  constructor(connection, targetId, sessionId) {
    this.connection_ = connection;
    this.target_id_ = targetId;
    this.session_id_ = sessionId;
    this.errors = [];
    this.console = [];   // every console message: {type, text}
    this.unsubscribe_ = connection.OnEvent((method, params, sid) => {
      if (sid !== sessionId) return;
      this.Collect(method, params);
    });
  }

  get sessionId() { return this.session_id_; }
  get targetId() { return this.target_id_; }

  Send(method, params = {}, timeoutMs = undefined) {
    return this.connection_.Send(method, params, this.session_id_, timeoutMs);
  }

  WaitForEvent(method, options = {}) {
    return this.connection_.WaitForEvent(method, { ...options, sessionId: this.session_id_ });
  }

  // Calls listener(method, params) for every event of this page; returns an unsubscribe function.
  OnEvent(listener) {
    return this.connection_.OnEvent((method, params, sid) => {
      if (sid === this.session_id_) listener(method, params);
    });
  }

  async Enable() {
    await Promise.all([this.Send('Page.enable'), this.Send('Runtime.enable'),
                       this.Send('Log.enable'), this.Send('Network.enable')]);
  }

  // Navigates and waits for the load event (all images and subresources fetched).
  async Navigate(url, { timeoutMs = 30000 } = {}) {
    const loaded = this.WaitForEvent('Page.loadEventFired', { timeoutMs });
    const answer = await this.Send('Page.navigate', { url }, timeoutMs);
    if (answer.errorText) {
      loaded.catch(() => {});
      throw new Error(`navigate ${url}: ${answer.errorText}`);
    }
    await loaded;
  }

  // Evaluates a JavaScript expression (promises awaited) and returns its JSON value.
  // A thrown exception rejects with its text.
  async Evaluate(expression, { timeoutMs = undefined } = {}) {
    const answer = await this.Send('Runtime.evaluate', {
      expression, returnByValue: true, awaitPromise: true,
    }, timeoutMs);
    if (answer.exceptionDetails) {
      const details = answer.exceptionDetails;
      throw new Error(`evaluate failed: ${DescribeRemoteObject(details.exception) || details.text}`);
    }
    return answer.result?.value;
  }

  // Polls `expression` until it is truthy; returns its value.
  async WaitFor(expression, { timeoutMs = 10000, intervalMs = 100 } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await this.Evaluate(expression);
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${expression}`);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  async SetViewport(width, height, { deviceScaleFactor = 1 } = {}) {
    await this.Send('Emulation.setDeviceMetricsOverride',
                    { width, height, deviceScaleFactor, mobile: false });
  }

  // Writes a PNG of the page to `file`; fullPage captures beyond the viewport.
  async Screenshot(file, { fullPage = true, maxHeight = 16384 } = {}) {
    const params = { format: 'png', captureBeyondViewport: fullPage };
    if (fullPage) {
      const metrics = await this.Send('Page.getLayoutMetrics');
      const size = metrics.cssContentSize ?? metrics.contentSize;
      params.clip = { x: 0, y: 0, width: Math.ceil(size.width),
                      height: Math.min(Math.ceil(size.height), maxHeight), scale: 1 };
    }
    const answer = await this.Send('Page.captureScreenshot', params, 60000);
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(file, Buffer.from(answer.data, 'base64'));
  }

  async Close() {
    this.unsubscribe_();
    try { await this.connection_.Send('Target.closeTarget', { targetId: this.target_id_ }, undefined, 5000); } catch { /* browser gone */ }
  }

  Collect(method, params) {
    switch (method) {
      case 'Runtime.consoleAPICalled': {
        const text = (params.args ?? []).map(DescribeRemoteObject).join(' ');
        this.console.push({ type: params.type, text });
        if (params.type === 'error' || params.type === 'assert') this.errors.push(`console.${params.type}: ${text}`);
        break;
      }
      case 'Runtime.exceptionThrown': {
        const details = params.exceptionDetails ?? {};
        const where = details.url ? ` at ${details.url}:${(details.lineNumber ?? 0) + 1}` : '';
        this.errors.push(`uncaught exception${where}: ${DescribeRemoteObject(details.exception) || details.text}`);
        break;
      }
      case 'Log.entryAdded':
        if (params.entry?.level === 'error') {
          this.errors.push(`${params.entry.source} error: ${params.entry.text}` +
                           (params.entry.url ? ` (${params.entry.url})` : ''));
        }
        break;
      case 'Network.loadingFailed':
        if (!params.canceled) this.errors.push(`load failed (${params.type ?? 'resource'}): ${params.errorText}`);
        break;
      default:
        break;
    }
  }
}

export class Browser {
  constructor(child, connection, userDataDir, ownsUserDataDir) {
    this.child_ = child;
    this.connection = connection;
    this.user_data_dir_ = userDataDir;
    this.owns_user_data_dir_ = ownsUserDataDir;
    this.closed_ = false;
  }

  get pid() { return this.child_.pid; }

  // Opens a blank tab, attaches a flattened session and enables the domains that report errors.
  async NewPage() {
    const { targetId } = await this.connection.Send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.connection.Send('Target.attachToTarget', { targetId, flatten: true });
    const page = new CdpPage(this.connection, targetId, sessionId);
    await page.Enable();
    return page;
  }

  // Kills chromium (its whole process group) and removes the temporary profile. Safe to call
  // more than once and from exit handlers.
  async Close() {
    if (this.closed_) return;
    this.closed_ = true;
    try { await this.connection?.Send('Browser.close', {}, undefined, 2000); } catch { /* killed below */ }
    this.connection?.Close();
    await KillProcess(this.child_);
    if (this.owns_user_data_dir_) {
      fs.rmSync(this.user_data_dir_, { recursive: true, force: true, maxRetries: 3 });
    }
  }
}

async function KillProcess(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const Signal = (signal) => {
    // Chromium forks helpers (zygote, GPU, renderer): signal the group it leads.
    try { process.kill(-child.pid, signal); } catch { try { child.kill(signal); } catch { /* gone */ } }
  };
  Signal('SIGTERM');
  const quick = await Promise.race([exited.then(() => true),
                                    new Promise((resolve) => setTimeout(() => resolve(false), 2000))]);
  if (!quick) {
    Signal('SIGKILL');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000))]);
  }
}

// Reads "DevTools listening on ws://..." from stderr, or the DevToolsActivePort file
// (port on line 1, browser path on line 2) in the profile directory.
function WaitForDevToolsUrl(child, userDataDir, timeoutMs) {
  return new Promise((resolve, reject) => {
    let stderr = '';
    let done = false;
    const finish = (error, url) => {
      if (done) return;
      done = true;
      clearInterval(poll);
      clearTimeout(timer);
      child.stderr.off('data', onData);
      child.off('exit', onExit);
      if (error) reject(error); else resolve(url);
    };
    const onData = (chunk) => {
      stderr += chunk.toString();
      const match = stderr.match(/DevTools listening on (ws:\/\/\S+)/);
      if (match) finish(null, match[1]);
    };
    const onExit = (code, signal) => {
      finish(new Error(`chromium exited (${signal ?? code}) before DevTools was ready:\n${stderr.slice(-2000)}`));
    };
    const poll = setInterval(() => {
      try {
        const [port, browserPath] = fs.readFileSync(path.join(userDataDir, 'DevToolsActivePort'), 'utf8').split('\n');
        if (port && browserPath) finish(null, `ws://127.0.0.1:${port.trim()}${browserPath.trim()}`);
      } catch { /* not written yet */ }
    }, 100);
    const timer = setTimeout(() => {
      finish(new Error(`chromium did not report a DevTools port within ${timeoutMs} ms:\n${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.stderr.on('data', onData);
    child.on('exit', onExit);
  });
}

// The DevTools protocol over --remote-debugging-pipe (fd 3: to chromium, fd 4: from it;
// one JSON message per NUL-terminated chunk), for a Node without a global WebSocket (Debian
// 12 ships Node 18). Looks like the part of WebSocket that CdpConnection uses.
class PipeSocket {
  constructor(toBrowser, fromBrowser) {
    this.to_ = toBrowser;
    this.listeners_ = { message: [], close: [], error: [] };
    let pending = '';
    fromBrowser.setEncoding('utf8');
    fromBrowser.on('data', (chunk) => {
      pending += chunk;
      let end;
      while ((end = pending.indexOf('\0')) >= 0) {
        const data = pending.slice(0, end);
        pending = pending.slice(end + 1);
        for (const listener of this.listeners_.message) listener({ data });
      }
    });
    fromBrowser.on('close', () => { for (const listener of this.listeners_.close) listener({}); });
    fromBrowser.on('error', () => { for (const listener of this.listeners_.error) listener({}); });
    toBrowser.on('error', () => { for (const listener of this.listeners_.error) listener({}); });
  }
  addEventListener(type, listener) { this.listeners_[type]?.push(listener); }
  send(text) { this.to_.write(text + '\0'); }
  close() { this.to_.end(); }
}

// Starts headless Chromium with a throw-away profile and connects.
// Options: chromium (path; default FindChromium()), timeoutMs (launch and per-command
// deadline), windowSize ('1280,900'), extraArgs, userDataDir (kept when given), transport:
//   'pipe' (default): --remote-debugging-pipe. Works on any Node and has no message limit.
//   'websocket': a free DevTools port (read from stderr or DevToolsActivePort) and Node's
//     global WebSocket (node --experimental-websocket on Node 20). Node's client refuses a
//     message of a few MiB once inflated ("Max decompressed message size exceeded"), so a
//     full-page screenshot of a long page fails over it.
export async function LaunchChromium(options = {}) {
  const chromium = options.chromium ?? FindChromium();
  if (!chromium) throw new Error('chromium not found (install Debian\'s `chromium` or set CHROMIUM)');
  const timeoutMs = options.timeoutMs ?? 30000;
  const transport = options.transport ?? 'pipe';
  const ownsUserDataDir = !options.userDataDir;
  const userDataDir = options.userDataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'farm-chromium-'));
  const args = [
    '--headless=new',
    transport === 'pipe' ? '--remote-debugging-pipe' : '--remote-debugging-port=0',
    `--user-data-dir=${userDataDir}`,
    '--no-first-run', '--no-default-browser-check', '--disable-gpu', '--disable-extensions',
    '--disable-background-networking', '--disable-sync', '--disable-dev-shm-usage',
    '--disable-component-update', '--mute-audio', '--hide-scrollbars',
    `--window-size=${options.windowSize ?? '1280,900'}`,
    ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
    ...(options.extraArgs ?? []),
    'about:blank',
  ];
  // detached: chromium leads its own process group so Close() can kill every helper.
  const stdio = transport === 'pipe' ? ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'ignore', 'pipe'];
  const child = spawn(chromium, args, { stdio, detached: true });
  const browser = new Browser(child, null, userDataDir, ownsUserDataDir);
  try {
    if (transport === 'pipe') {
      child.stderr.resume();
      browser.connection = new CdpConnection(new PipeSocket(child.stdio[3], child.stdio[4]), timeoutMs);
      // The first answer proves the browser is up.
      await browser.connection.Send('Browser.getVersion', {}, undefined, timeoutMs);
    } else {
      const url = await WaitForDevToolsUrl(child, userDataDir, timeoutMs);
      child.stderr.resume();   // keep draining so chromium never blocks on a full pipe
      browser.connection = await CdpConnection.Connect(url, timeoutMs);
    }
    return browser;
  } catch (error) {
    await browser.Close();
    throw error;
  }
}
