// farmd dashboard: one small single-page app over farmd's /api/v1 (no framework, no CDN).
//
// Views (URL fragment): #/sweeps (live progress, polled), #/sweep/ID (jobs), #/agents,
// #/gallery?where=..&order_by=..&sweep=..&limit=.. (the query language of
// `farmctl renders`), #/render/ID?sweep=S (one render). The token comes from the login
// form or once from "#token=..." in the fragment (never a query string: fragments are not
// sent to the server or kept in access logs); it stays in sessionStorage and goes out only
// in the Authorization header. Images are fetched with that header and shown as blob URLs,
// so no token ever appears in a URL. Every piece of data is put in the page with
// textContent (never innerHTML): render parameters are user text.
'use strict';

const kTokenKey = 'farm_token';
const kPollMs = 1000;
const kImageConcurrency = 4;

let poll_timer = null;     // the current view's refresh timer
let view_generation = 0;   // bumps on every navigation; stale async work checks it
let blob_urls = [];        // object URLs of the current view, revoked on navigation

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function Token() { return sessionStorage.getItem(kTokenKey) || ''; }

function AuthHeaders() {
  const token = Token();
  return token ? { Authorization: 'Bearer ' + token } : {};
}

async function Api(path, { method = 'GET', body } = {}) {
  const headers = AuthHeaders();
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store', credentials: 'omit',
  });
  let answer = null;
  try { answer = await response.json(); } catch { /* not JSON */ }
  if (!response.ok) {
    const message = answer && answer.error ? answer.error.message : response.statusText;
    if (response.status === 401) ShowLogin('farmd refused the token: ' + message);
    throw new ApiError(response.status, message);
  }
  return answer;
}

// Fetches an image with the token and returns an object URL (revoked on navigation).
async function ImageUrl(path) {
  const response = await fetch(path, { headers: AuthHeaders(), cache: 'no-store', credentials: 'omit' });
  if (!response.ok) throw new ApiError(response.status, 'image ' + response.status);
  const url = URL.createObjectURL(await response.blob());
  blob_urls.push(url);
  return url;
}

// Loads images a few at a time so a large gallery does not queue hundreds of requests.
function LoadImages(jobs, generation) {
  let next = 0;
  const Worker = async () => {
    while (next < jobs.length && generation === view_generation) {
      const { path, img, fallback } = jobs[next++];
      try {
        img.src = await ImageUrl(path);
      } catch (error) {
        if (fallback) fallback(error);
      }
    }
  };
  for (let i = 0; i < kImageConcurrency; ++i) Worker();
}

// El('td', {class: 'num'}, 'text', child, ...): attributes set as attributes, children
// appended as text nodes or elements.
function El(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function Fmt(value, digits = 3) {
  if (value === null || value === undefined) return '–';
  if (typeof value === 'number' && !Number.isInteger(value)) return value.toFixed(digits);
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return String(value);
}

function SetStatus(text, error = false) {
  const status = document.getElementById('status');
  status.textContent = text;
  status.classList.toggle('error', error);
}

function ShowLogin(message) {
  document.getElementById('login').hidden = false;
  const error = document.getElementById('login-error');
  error.hidden = !message;
  error.textContent = message || '';
}

function HideLogin() { document.getElementById('login').hidden = true; }

// ---- routing ----------------------------------------------------------------------------

function ParseRoute() {
  const hash = location.hash.replace(/^#\/?/, '');
  const question = hash.indexOf('?');
  const path = question < 0 ? hash : hash.slice(0, question);
  const params = new URLSearchParams(question < 0 ? '' : hash.slice(question + 1));
  const parts = path.split('/').filter(Boolean);
  return { name: parts[0] || 'sweeps', id: parts[1], params };
}

// "#token=..." (from `farmctl dashboard`-style links): keep it, then drop it from the URL.
function TakeTokenFromFragment() {
  const match = location.hash.match(/^#(?:.*&)?token=([^&]*)/);
  if (!match) return;
  sessionStorage.setItem(kTokenKey, decodeURIComponent(match[1]));
  history.replaceState(null, '', location.pathname + '#/sweeps');
}

function Navigate() {
  clearTimeout(poll_timer);
  poll_timer = null;
  ++view_generation;
  for (const url of blob_urls) URL.revokeObjectURL(url);
  blob_urls = [];
  const route = ParseRoute();
  for (const link of document.querySelectorAll('nav a')) {
    const nav = link.dataset.nav;
    link.classList.toggle('active', nav === route.name || (nav === 'sweeps' && route.name === 'sweep') ||
                                    (nav === 'gallery' && route.name === 'render'));
  }
  const view = document.getElementById('view');
  view.replaceChildren();
  view.dataset.view = route.name;
  if (!Token()) {
    ShowLogin('');
    return;
  }
  HideLogin();
  const views = { sweeps: SweepsView, sweep: SweepView, agents: AgentsView, gallery: GalleryView,
                  render: RenderView };
  (views[route.name] || SweepsView)(view, route, view_generation);
}

// Runs `refresh` now and every kPollMs while the view is current.
function Poll(refresh, generation) {
  const Tick = async () => {
    if (generation !== view_generation) return;
    try {
      await refresh();
      SetStatus('updated ' + new Date().toLocaleTimeString());
    } catch (error) {
      SetStatus(error.message, true);
    }
    if (generation === view_generation) poll_timer = setTimeout(Tick, kPollMs);
  };
  Tick();
}

// ---- sweeps -----------------------------------------------------------------------------

const kStates = ['queued', 'leased', 'succeeded', 'failed', 'cancelled', 'skipped'];

function SweepsView(view, route, generation) {
  const body = El('tbody');
  view.append(El('h2', {}, 'Sweeps'),
              El('table', { id: 'sweeps' },
                 El('thead', {}, El('tr', {}, El('th', {}, 'id'), El('th', {}, 'name'),
                                    El('th', {}, 'state'), El('th', {}, 'progress'),
                                    El('th', {}, 'done'), ...kStates.map((s) => El('th', {}, s)),
                                    El('th', {}, 'priority'), El('th', {}, ''))),
                 body));
  const rows = new Map();  // sweep id -> {row, cells}
  Poll(async () => {
    const { sweeps } = await Api('/api/v1/sweeps');
    const shown = sweeps.slice(0, 25);
    const details = await Promise.all(shown.map((s) => Api('/api/v1/sweeps/' + s.id)));
    if (generation !== view_generation) return;
    details.forEach((sweep, index) => {
      let entry = rows.get(sweep.id);
      if (!entry) {
        entry = SweepRow(sweep);
        rows.set(sweep.id, entry);
      }
      if (body.children[index] !== entry.row) body.insertBefore(entry.row, body.children[index] || null);
      UpdateSweepRow(entry, sweep);
    });
  }, generation);
}

function SweepRow(sweep) {
  const cells = {
    state: El('td', { class: 'state' }),
    fill: El('span'),
    failed_fill: El('span', { class: 'failed' }),
    cancelled_fill: El('span', { class: 'cancelled' }),
    done: El('td', { class: 'num done' }),
    counts: kStates.map((state) => El('td', { class: 'num count-' + state })),
    priority: El('input', { type: 'number', class: 'priority', step: 1, title: 'higher runs first' }),
    actions: El('td'),
  };
  const SetPriority = async () => {
    try {
      await Api('/api/v1/sweeps/' + sweep.id + '/priority',
                { method: 'POST', body: { priority: Number(cells.priority.value) } });
      SetStatus('sweep ' + sweep.id + ': priority ' + cells.priority.value);
    } catch (error) {
      SetStatus('priority: ' + error.message, true);
    }
  };
  const cancel = El('button', {
    type: 'button', class: 'cancel', onclick: async () => {
      if (!confirm('Cancel sweep ' + sweep.id + ' (' + sweep.name + ')?')) return;
      try {
        await Api('/api/v1/sweeps/' + sweep.id + '/cancel', { method: 'POST' });
      } catch (error) {
        SetStatus('cancel: ' + error.message, true);
      }
    },
  }, 'cancel');
  cells.cancel = cancel;
  cells.actions.append(cancel);
  const row = El('tr', { 'data-sweep': sweep.id },
                 El('td', { class: 'num' }, sweep.id),
                 El('td', {}, El('a', { href: '#/sweep/' + sweep.id }, sweep.name)),
                 cells.state,
                 El('td', {}, El('span', { class: 'bar' }, cells.fill, cells.failed_fill, cells.cancelled_fill)),
                 cells.done, ...cells.counts,
                 El('td', {}, cells.priority,
                    El('button', { type: 'button', class: 'set-priority', onclick: SetPriority }, 'set')),
                 cells.actions);
  cells.priority.value = sweep.priority;
  return { row, cells, priority_shown: sweep.priority };
}

function UpdateSweepRow(entry, sweep) {
  const { cells } = entry;
  const jobs = sweep.jobs || {};
  const total = sweep.jobs_total || 0;
  const done = (jobs.succeeded || 0) + (jobs.failed || 0) + (jobs.cancelled || 0) + (jobs.skipped || 0);
  cells.state.textContent = sweep.state;
  cells.state.className = 'state state-' + sweep.state;
  cells.done.textContent = done + ' / ' + total;
  const Share = (n) => (total ? (100 * n / total) + '%' : '0');
  cells.fill.style.width = Share(jobs.succeeded || 0);
  cells.failed_fill.style.width = Share(jobs.failed || 0);
  cells.cancelled_fill.style.width = Share((jobs.cancelled || 0) + (jobs.skipped || 0));
  kStates.forEach((state, i) => { cells.counts[i].textContent = jobs[state] || 0; });
  // Keep what the user is typing; follow the server otherwise.
  if (document.activeElement !== cells.priority && entry.priority_shown !== sweep.priority) {
    cells.priority.value = sweep.priority;
  }
  entry.priority_shown = sweep.priority;
  const finished = ['succeeded', 'failed', 'cancelled'].includes(sweep.state);
  cells.cancel.disabled = finished;
}

function SweepView(view, route, generation) {
  const id = route.id;
  const title = El('h2', {}, 'Sweep ' + id);
  const summary = El('p', { class: 'hint' });
  const body = El('tbody');
  view.append(title, summary,
              El('p', {}, El('a', { href: '#/gallery?sweep=' + encodeURIComponent(id) }, 'renders of this sweep')),
              El('table', { id: 'jobs' },
                 El('thead', {}, El('tr', {}, ['job', 'kind', 'state', 'attempts', 'priority', 'error / waiting', '']
                   .map((h) => El('th', {}, h)))), body));
  Poll(async () => {
    const [sweep, { jobs }] = await Promise.all([Api('/api/v1/sweeps/' + id),
                                                 Api('/api/v1/jobs?sweep=' + id + '&limit=500')]);
    if (generation !== view_generation) return;
    title.textContent = 'Sweep ' + sweep.id + ': ' + sweep.name;
    summary.textContent = sweep.state + ' · ' + kStates.map((s) => s + ' ' + (sweep.jobs[s] || 0)).join(' · ') +
                          (jobs.length >= 500 ? ' · first 500 jobs shown' : '');
    body.replaceChildren(...jobs.map((job) => {
      const open = job.state === 'queued' || job.state === 'leased';
      return El('tr', { 'data-job': job.id },
                El('td', { class: 'num' }, job.id), El('td', {}, job.kind),
                El('td', { class: 'state-' + job.state }, job.state),
                El('td', { class: 'num' }, job.attempt_count), El('td', { class: 'num' }, job.priority),
                El('td', { class: 'hint' }, job.last_error || job.waiting_reason || ''),
                El('td', {}, open ? El('button', {
                  type: 'button', onclick: async () => {
                    try { await Api('/api/v1/jobs/' + job.id + '/cancel', { method: 'POST' }); } catch (error) {
                      SetStatus('cancel: ' + error.message, true);
                    }
                  },
                }, 'cancel') : ''));
    }));
  }, generation);
}

// ---- agents -----------------------------------------------------------------------------

function AgentsView(view, route, generation) {
  const body = El('tbody');
  view.append(El('h2', {}, 'Agents'),
              El('table', { id: 'agents' },
                 El('thead', {}, El('tr', {}, ['agent', 'host', 'device', 'state', 'slots', 'memory',
                                               'version', 'last seen', 'models held']
                   .map((h) => El('th', {}, h)))), body));
  Poll(async () => {
    const { agents } = await Api('/api/v1/agents');
    if (generation !== view_generation) return;
    body.replaceChildren(...agents.map((agent) => {
      const slots = agent.slots || 0;
      const busy = agent.busy_slots || 0;
      const boxes = El('span', { class: 'slots', title: busy + ' of ' + slots + ' slots busy' });
      for (let i = 0; i < slots; ++i) boxes.append(El('span', { class: i < busy ? 'busy' : '' }));
      const models = (agent.models || []).map((m) => El('code', { title: m }, m.slice(0, 10)));
      return El('tr', { 'data-agent': agent.id },
                El('td', {}, agent.id), El('td', {}, agent.hostname), El('td', {}, agent.device),
                El('td', { class: 'state-' + agent.state }, agent.state),
                El('td', {}, boxes, ' ', busy + '/' + slots),
                El('td', { class: 'num' }, agent.memory_bytes ? (agent.memory_bytes / 2 ** 30).toFixed(1) + ' GiB' : '–'),
                El('td', {}, agent.version),
                El('td', {}, agent.last_seen_at_ms ? new Date(agent.last_seen_at_ms).toLocaleTimeString() : '–'),
                El('td', { class: 'models' }, models.length ? models : 'none'));
    }));
  }, generation);
}

// ---- gallery ----------------------------------------------------------------------------

const kGalleryColumns = 'id,sweep,param_hash,score,face_found,sampler,cfg,steps,seed,pose,tone,status';

function GalleryView(view, route, generation) {
  const params = route.params;
  const where = El('input', { name: 'where', value: params.get('where') || '', spellcheck: 'false',
                              placeholder: 'sampler = "Euler a" AND cfg >= 6 AND pose IN ("front", "side")' });
  const order = El('input', { name: 'order_by', value: params.get('order_by') || 'score desc', size: 16 });
  const sweep = El('input', { name: 'sweep', value: params.get('sweep') || '', size: 6, placeholder: 'all' });
  const limit = El('input', { name: 'limit', type: 'number', value: params.get('limit') || 200, min: 1, max: 5000 });
  const form = El('form', { class: 'filter', id: 'gallery-filter' },
                  El('label', {}, 'where', where), El('label', {}, 'order by', order),
                  El('label', {}, 'sweep', sweep), El('label', {}, 'limit', limit),
                  El('button', { type: 'submit' }, 'Filter'));
  const count = El('p', { id: 'gallery-count', class: 'hint' }, 'loading…');
  const error = El('pre', { id: 'gallery-error', class: 'error', hidden: true });
  const grid = El('div', { class: 'gallery', id: 'gallery' });
  view.append(El('h2', {}, 'Renders'), form,
              El('p', { class: 'hint' }, 'Filters use the query language of ', El('code', {}, 'farmctl renders --where'),
                 ': AND, OR, NOT, ( ), = != < <= > >=, IN (…), LIKE, IS [NOT] NULL.'),
              error, count, grid);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const input of [where, order, sweep, limit]) if (input.value.trim()) next.set(input.name, input.value.trim());
    const hash = '#/gallery?' + next.toString();
    if (location.hash === hash) Navigate(); else location.hash = hash;
  });
  LoadGallery({ where: where.value, order_by: order.value, sweep: sweep.value, limit: limit.value },
              { count, error, grid }, generation);
}

async function LoadGallery(filter, { count, error, grid }, generation) {
  const query = new URLSearchParams({ columns: kGalleryColumns });
  for (const [key, value] of Object.entries(filter)) if (String(value).trim()) query.set(key, String(value).trim());
  let answer;
  try {
    answer = await Api('/api/v1/renders?' + query.toString());
  } catch (e) {
    if (generation !== view_generation) return;
    count.textContent = '';
    error.hidden = false;
    error.textContent = e.message;  // the query library's caret message, kept monospace
    return;
  }
  if (generation !== view_generation) return;
  SetStatus('updated ' + new Date().toLocaleTimeString());
  const renders = answer.renders;
  count.textContent = renders.length + (answer.truncated ? '+ renders (limit reached)' : ' renders');
  count.dataset.count = renders.length;
  const images = [];
  grid.replaceChildren(...renders.map((r) => {
    const img = El('img', { alt: 'render ' + r.id });
    const link = '#/render/' + r.id + '?sweep=' + r.sweep;
    const card = El('div', { class: 'card', 'data-render': r.id, onclick: () => { location.hash = link; } },
                    img,
                    El('div', { class: 'score' }, 'score ', Fmt(r.score), r.face_found === false ? ' (no face)' : ''),
                    El('div', { class: 'meta' }, [r.sampler, 'cfg ' + Fmt(r.cfg), r.steps + ' steps'].join(' · ')),
                    El('div', { class: 'meta' }, ['seed ' + r.seed, r.pose, r.tone].filter(Boolean).join(' · ')),
                    El('div', { class: 'meta' }, '#' + r.id + ' · sweep ' + r.sweep + ' · ' + (r.status || '')));
    images.push({
      path: '/api/v1/renders/' + r.id + '/image?sweep=' + r.sweep, img,
      fallback: () => img.replaceWith(El('div', { class: 'noimg' }, 'no image')),
    });
    return card;
  }));
  LoadImages(images, generation);
}

// ---- one render -------------------------------------------------------------------------

function RenderView(view, route, generation) {
  const id = route.id;
  const sweep = route.params.get('sweep') || '';
  const suffix = sweep ? '?sweep=' + encodeURIComponent(sweep) : '';
  view.append(El('h2', {}, 'Render ' + id), El('p', { class: 'hint', id: 'render-loading' }, 'loading…'));
  (async () => {
    let render;
    try {
      render = await Api('/api/v1/renders/' + encodeURIComponent(id) + suffix);
    } catch (error) {
      if (generation === view_generation) view.append(El('pre', { class: 'error' }, error.message));
      return;
    }
    if (generation !== view_generation) return;
    view.querySelector('#render-loading').remove();
    const row = render.render || {};
    const main = El('img', { class: 'main', alt: 'render ' + id });
    const images = [{ path: '/api/v1/renders/' + id + '/image' + suffix, img: main,
                      fallback: () => main.replaceWith(El('p', { class: 'hint' }, 'no image stored')) }];
    const params = El('table', { id: 'render-params' },
                      El('tbody', {}, Object.entries(row).filter(([, v]) => v !== null && v !== '')
                        .map(([k, v]) => El('tr', {}, El('th', {}, k), El('td', {}, Fmt(v, 4))))));
    const results = El('table', { id: 'render-results' },
                       El('thead', {}, El('tr', {}, ['sweep', 'score', 'euclidean', 'faces', 'agent', 'seconds', 'image']
                         .map((h) => El('th', {}, h)))),
                       El('tbody', {}, (render.results || []).map((r) => El('tr', {},
                         El('td', {}, El('a', { href: '#/render/' + id + '?sweep=' + r.sweep }, r.sweep)),
                         El('td', { class: 'num' }, Fmt(r.score, 4)), El('td', { class: 'num' }, Fmt(r.euclidean, 4)),
                         El('td', { class: 'num' }, Fmt(r.faces_found)), El('td', {}, r.agent || '–'),
                         El('td', { class: 'num' }, Fmt(r.seconds, 2)),
                         El('td', {}, El('code', {}, (r.image_sha256 || '').slice(0, 12)))))));
    const stages = El('div', { class: 'stages' }, (render.stages || []).map((stage) => {
      const img = El('img', { alt: stage });
      images.push({ path: '/api/v1/renders/' + id + '/image?stage=' + encodeURIComponent(stage), img,
                    fallback: () => img.replaceWith(El('span', { class: 'hint' }, 'missing')) });
      return El('figure', {}, img, El('figcaption', {}, stage));
    }));
    view.append(
      El('div', { class: 'detail' },
         El('div', { class: 'image' }, main),
         El('div', {}, El('h2', {}, 'Parameters'), params)),
      El('h2', {}, 'Scores by sweep'), results,
      El('h2', {}, 'Stages'), (render.stages || []).length ? stages : El('p', { class: 'hint' }, 'no stage images kept'),
      El('h2', {}, 'Reproduce'), El('pre', { class: 'reproduce', id: 'reproduce' }, render.reproduce || ''),
      ...(render.parameters ? [El('h2', {}, 'Parameters text (as in the PNG, for a Stable Diffusion front end)'),
                               El('pre', { class: 'parameters', id: 'parameters' }, render.parameters)] : []),
      El('details', {}, El('summary', {}, 'canonical parameter record'),
         El('pre', {}, JSON.stringify(render.params || {}, null, 2))));
    LoadImages(images, generation);
  })();
}

// ---- start ------------------------------------------------------------------------------

document.getElementById('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = document.getElementById('token-input').value.trim();
  if (!value) return;
  sessionStorage.setItem(kTokenKey, value);
  document.getElementById('token-input').value = '';
  Navigate();
});
document.getElementById('forget-token').addEventListener('click', () => {
  sessionStorage.removeItem(kTokenKey);
  Navigate();
});
window.addEventListener('hashchange', () => {
  TakeTokenFromFragment();
  Navigate();
});
TakeTokenFromFragment();
Navigate();
