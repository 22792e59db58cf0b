const NODES = JSON.parse(document.getElementById('node-data').textContent);
const KERNELS = JSON.parse(document.getElementById('kernel-data').textContent);
const details = document.getElementById('details');
function show(stage, id) {
  const facts = (NODES[stage] || {})[id];
  if (!facts) return;
  document.querySelectorAll('g.node.selected').forEach(g => g.classList.remove('selected'));
  const g = document.getElementById(stage + '-node' + id);
  if (g) g.classList.add('selected');
  const rows = [['stage', stage], ['node', facts.id], ['op', facts.op], ['type', facts.type || ''],
                ['role', facts.role], ['source', facts.src], ['scope', facts.scope], ['name', facts.name],
                ['inputs', facts.inputs.join(', ')], ['value', facts.value || '']]
    .concat(Object.entries(facts.attrs));
  details.innerHTML = '<b>' + facts.id + ' ' + facts.op + '</b><table>' +
    rows.filter(r => r[1] !== '').map(r => '<tr><td>' + r[0] + '</td><td>' + String(r[1]).replace(/</g, '&lt;') +
    '</td></tr>').join('') + '</table>';
  details.hidden = false;
}
document.querySelectorAll('.graph.full g.node').forEach(g => {
  const m = g.id.match(/^(.*)-node(\d+)$/);
  if (m) g.addEventListener('click', () => show(m[1], m[2]));
});
document.getElementById('search').addEventListener('input', e => {
  const q = e.target.value.trim().toLowerCase();
  let found = 0, first = null;
  document.querySelectorAll('.graph.full g.node').forEach(g => {
    const m = g.id.match(/^(.*)-node(\d+)$/);
    const f = m && (NODES[m[1]] || {})[m[2]];
    const hay = f ? [f.id, f.op, f.name, f.src, f.scope, f.type].join(' ').toLowerCase() : '';
    const hit = q !== '' && hay.includes(q);
    g.classList.toggle('match', hit);
    if (hit) { found++; if (!first) first = g; }
  });
  document.getElementById('matches').textContent = q ? found + ' nodes' : '';
  if (first) first.scrollIntoView({block: 'center', inline: 'center'});
});
document.querySelectorAll('#graph-fused g.cluster').forEach(c => {
  const m = c.id.match(/^fused-cluster(\d+)$/);
  if (!m) return;
  const kernel = KERNELS[Number(m[1])];
  const target = document.querySelector(`[data-kernels~="source-kernel${kernel}"]`);
  if (target) c.addEventListener('click', () => target.scrollIntoView({block: 'center'}));
});
document.querySelectorAll('a.to-cluster').forEach(a => a.addEventListener('click', () => {
  const box = document.querySelector(a.getAttribute('href'));
  if (box) { box.classList.add('flash'); setTimeout(() => box.classList.remove('flash'), 1500); }
}));
document.querySelectorAll('.group-toggle').forEach(box => box.addEventListener('change', () => {
  const stage = box.dataset.stage;
  document.getElementById('grouped-' + stage).hidden = !box.checked;
  document.getElementById('graph-' + stage).hidden = box.checked;
}));
