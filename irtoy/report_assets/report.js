// The report page's behaviour: pan and zoom on every drawing (svg-pan-zoom), switching a stage
// between its drawings (by layer, one layer opened, all nodes), the node details panel, the
// search box and the links between fused kernels and their generated source.
const NODES = JSON.parse(document.getElementById('node-data').textContent);
const KERNELS = JSON.parse(document.getElementById('kernel-data').textContent);
const details = document.getElementById('details');

// Pan and zoom for a drawing's box, made the first time the box is shown: svg-pan-zoom
// measures the drawing, which a hidden box does not have. The drawing opens fitted to the
// page's width, or at the size graphviz drew it if that is narrower, and showing its top;
// its box is no taller than that (at most 75% of the window, at least room for the buttons).
function panZoom(box) {
  if (box.panZoom) return box.panZoom;
  const waiting = box.querySelector(':scope > template');
  if (waiting) { box.replaceChildren(waiting.content); markMatches(); }
  const svg = box.querySelector('svg');
  const view = svg.viewBox.baseVal;                       // graphviz's size in points, 4/3 pixels each
  const width = Math.min(box.clientWidth, view.width * 4 / 3);
  box.style.maxWidth = width + 'px';
  box.style.height = Math.max(100, Math.min(view.height * width / view.width, 0.75 * window.innerHeight)) + 'px';
  // `contain` scales the drawing to fill the box: to the box's width, since the box is no taller
  const pz = svgPanZoom(svg, {controlIconsEnabled: true, mouseWheelZoomEnabled: false,
                              dblClickZoomEnabled: false, fit: false, contain: true, center: true, minZoom: 0.05, maxZoom: 40});
  pz.pan({x: pz.getPan().x, y: 0});
  // A plain wheel scrolls the page; Ctrl + wheel (and a touchpad's pinch) zooms at the pointer.
  box.addEventListener('wheel', e => {
    if (!(e.ctrlKey || e.metaKey)) return;
    e.preventDefault();
    const r = svg.getBoundingClientRect();
    pz.zoomAtPointBy(e.deltaY < 0 ? 1.25 : 0.8, {x: e.clientX - r.left, y: e.clientY - r.top});
  }, {passive: false});
  box.panZoom = pz;
  return pz;
}

// Show one drawing of a stage (its box id) and hide the others.
function showDrawing(boxId) {
  const box = document.getElementById(boxId);
  const section = box.closest('.stage');
  section.querySelectorAll('div.graph').forEach(b => { b.hidden = b !== box; });
  section.querySelectorAll('.views button').forEach(b => {
    const pressed = b.dataset.show === boxId || (boxId.startsWith(b.dataset.show + '-'));
    b.setAttribute('aria-pressed', pressed);
  });
  panZoom(box);
  return box;
}

// Pan a drawing so that element `el` of it is in the middle of its box.
function centerOn(el) {
  const box = el.closest('div.graph');
  const pz = panZoom(box);
  const r = el.getBoundingClientRect(), b = box.getBoundingClientRect();
  pz.panBy({x: b.left + b.width / 2 - (r.left + r.width / 2), y: b.top + b.height / 2 - (r.top + r.height / 2)});
}

function showDetails(stage, id) {
  const facts = (NODES[stage] || {})[id];
  if (!facts) return;
  document.querySelectorAll('g.node.selected').forEach(g => g.classList.remove('selected'));
  document.querySelectorAll(`#stage-${stage} g.node[id$="-node${id}"]`).forEach(g => g.classList.add('selected'));
  const rows = [['stage', stage], ['node', facts.id], ['op', facts.op], ['type', facts.type || ''],
                ['role', facts.role], ['source', facts.src], ['scope', facts.scope], ['name', facts.name],
                ['inputs', facts.inputs.join(', ')], ['value', facts.value || '']]
    .concat(Object.entries(facts.attrs));
  document.getElementById('details-body').innerHTML = '<b>' + facts.id + ' ' + facts.op + '</b><table>' +
    rows.filter(r => r[1] !== '').map(r => '<tr><td>' + r[0] + '</td><td>' + String(r[1]).replace(/</g, '&lt;') +
    '</td></tr>').join('') + '</table>';
  details.hidden = false;
}

function closeDetails() {
  details.hidden = true;
  document.querySelectorAll('g.node.selected').forEach(g => g.classList.remove('selected'));
}
document.getElementById('close-details').addEventListener('click', closeDetails);
document.addEventListener('keydown', e => { if (e.key === 'Escape') closeDetails(); });

// A click that ends a drag (panning) is not a click on what lies under the pointer.
let pressedAt = null;
document.addEventListener('mousedown', e => { pressedAt = {x: e.clientX, y: e.clientY}; });
function wasDrag(e) {
  return pressedAt && Math.abs(e.clientX - pressedAt.x) + Math.abs(e.clientY - pressedAt.y) > 4;
}

// Clicks in drawings: a node shows its details; a layer's box opens it, an opened layer's
// frame closes it; a kernel's box in the fused drawing goes to its generated source.
document.addEventListener('click', e => {
  const target = e.target.closest('.graph g.node, .graph g.cluster');
  if (!target || wasDrag(e)) return;
  const stage = target.closest('.stage').dataset.stage;
  let m;
  if ((m = target.id.match(/-node(\d+)$/))) showDetails(stage, m[1]);
  else if ((m = target.id.match(/-g-group(\d+)$/))) showDrawing(`grouped-${stage}-${m[1]}`);
  else if (target.id.match(/-g\d+-group\d+$/)) showDrawing(`grouped-${stage}`);
  else if ((m = target.id.match(/^fused-(g\d+-)?cluster(\d+)$/))) {
    const source = document.querySelector(`[data-kernels~="source-kernel${KERNELS[Number(m[2])]}"]`);
    if (source) source.scrollIntoView({block: 'center'});
  }
});
document.querySelectorAll('.views button').forEach(b => b.addEventListener('click', () => showDrawing(b.dataset.show)));

// The search box marks matching nodes in every drawing shown so far, and the layer boxes
// holding them; it counts the matches of every drawn stage, shown or not.
const search = document.getElementById('search');
function matches(facts, q) {
  return q !== '' && [facts.id, facts.op, facts.name, facts.src, facts.scope, facts.type]
    .join(' ').toLowerCase().includes(q);
}
function markMatches() {
  const q = search.value.trim().toLowerCase();
  document.querySelectorAll('.graph g.match').forEach(g => g.classList.remove('match'));
  let found = 0;
  for (const [stage, nodes] of Object.entries(NODES)) {
    for (const [id, facts] of Object.entries(nodes)) {
      if (!matches(facts, q)) continue;
      found++;
      document.querySelectorAll(`#stage-${stage} g.node[id$="-node${id}"]`).forEach(g => g.classList.add('match'));
      if (facts.group !== undefined) document.getElementById(`${stage}-g-group${facts.group}`)?.classList.add('match');
    }
  }
  document.getElementById('matches').textContent = q ? found + ' nodes' : '';
}
search.addEventListener('input', () => {
  markMatches();
  const first = [...document.querySelectorAll('div.graph:not([hidden]) g.match')][0];
  if (first) { first.closest('div.graph').scrollIntoView({block: 'center'}); centerOn(first); }
});

// Each kernel named in the generated source links to its box in the fused drawing.
// (The fused drawing may still wait in its template: show it first, then find the box.)
document.querySelectorAll('a.to-cluster').forEach(a => a.addEventListener('click', () => {
  showDrawing('graph-fused');
  const box = document.querySelector(a.getAttribute('href'));
  if (!box) return;
  centerOn(box);
  box.classList.add('flash');
  setTimeout(() => box.classList.remove('flash'), 1500);
}));

document.querySelectorAll('div.graph:not([hidden])').forEach(panZoom);
// A box narrows with the window (its height stays); svg-pan-zoom measures it again.
window.addEventListener('resize', () => document.querySelectorAll('div.graph').forEach(b => b.panZoom?.resize()));
