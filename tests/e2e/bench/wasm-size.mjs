// What a wasm module's size is made of, by crate: node bench/wasm-size.mjs MODULE.wasm [N]
//
// MODULE must keep its name section (wasm-opt -g; the shipped build strips it). Each
// function's body is attributed to the crate of its (demangled) name: the first path
// segment, or for `<T as Trait>::f` the crate of T; a library's generic code that names
// one of the workspace's crates (a Yew component's `view`) is a row `LIBRARY for CRATE`
// of its own. Then the largest single functions. For each row: its code bytes, and
// its bodies gzipped (level 9) and brotli'd (quality 11) on their own, which estimates its
// share of the compressed module (the parts compress a little worse apart than together:
// the total of the parts is printed against the whole). Data and the other sections are
// rows of their own. Prints a Markdown table of the N largest rows (default 25).
import { readFileSync } from 'node:fs';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const [file, top = '25'] = process.argv.slice(2);
if (!file) throw new Error('usage: node bench/wasm-size.mjs MODULE.wasm [N]');
const bytes = readFileSync(file);

let at = 8;
function leb() {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[at++];
    result += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (!(b & 0x80)) return result;
  }
}
const names = new Map();
const bodies = [];
let importedFunctions = 0;
const sections = {};
while (at < bytes.length) {
  const id = bytes[at++];
  const size = leb();
  const end = at + size;
  if (id === 2) {
    for (let n = leb(); n > 0; n--) {
      // (`at += leb()` would add to `at` as it was before the length was read.)
      const moduleLen = leb();
      at += moduleLen;
      const fieldLen = leb();
      at += fieldLen;
      const kind = bytes[at++];
      if (kind === 0) { importedFunctions++; leb(); }
      else if (kind === 1) { at++; const flags = leb(); leb(); if (flags & 1) leb(); }
      else if (kind === 2) { const flags = leb(); leb(); if (flags & 1) leb(); }
      else if (kind === 3) { at += 2; }
      else if (kind === 4) { at++; leb(); }
    }
  } else if (id === 10) {
    for (let n = leb(), i = 0; i < n; i++) {
      const len = leb();
      bodies.push({ index: importedFunctions + i, body: bytes.subarray(at, at + len) });
      at += len;
    }
  } else if (id === 0) {
    const nameLen = leb();
    const name = bytes.subarray(at, at + nameLen).toString();
    at += nameLen;
    if (name === 'name') {
      while (at < end) {
        const sub = bytes[at++];
        const subSize = leb();
        const subEnd = at + subSize;
        if (sub === 1) {
          for (let n = leb(); n > 0; n--) {
            const index = leb();
            const len = leb();
            names.set(index, bytes.subarray(at, at + len).toString());
            at += len;
          }
        }
        at = subEnd;
      }
    }
    sections[`custom section "${name}"`] = bytes.subarray(end - size, end);
  } else {
    const label = { 1: 'types', 2: 'imports', 3: 'functions', 4: 'tables', 5: 'memory', 6: 'globals', 7: 'exports', 8: 'start', 9: 'elements', 11: 'data (constants, strings)', 12: 'data count' }[id] ?? `section ${id}`;
    sections[label] = bytes.subarray(end - size, end);
  }
  at = end;
}
if (names.size === 0) throw new Error(`${file} has no function names: build it with wasm-opt -g`);

/** Legacy Rust mangling (`_ZN…E`) to a path; other names as they are. */
function demangle(name) {
  if (!name.startsWith('_ZN')) return name;
  const parts = [];
  let i = 3;
  while (i < name.length && name[i] !== 'E') {
    let len = 0;
    while (/[0-9]/.test(name[i])) len = len * 10 + Number(name[i++]);
    parts.push(name.slice(i, i + len));
    i += len;
  }
  if (/^h[0-9a-f]{16}$/.test(parts.at(-1) ?? '')) parts.pop();
  return parts
    .join('::')
    .replace(/^_\$/, '$')
    .replace(/\$LT\$/g, '<').replace(/\$GT\$/g, '>').replace(/\$RF\$/g, '&').replace(/\$BP\$/g, '*')
    .replace(/\$C\$/g, ',').replace(/\$SP\$/g, '@').replace(/\$u20\$/g, ' ').replace(/\$u27\$/g, "'")
    .replace(/\$u5b\$/g, '[').replace(/\$u5d\$/g, ']').replace(/\$u7b\$/g, '{').replace(/\$u7d\$/g, '}')
    .replace(/\$u3b\$/g, ';').replace(/\$u2b\$/g, '+').replace(/\$u22\$/g, '"').replace(/\.\./g, '::');
}

const PRIMITIVES = /^(bool|char|str|f32|f64|[iu](8|16|32|64|128|size))$/;
const WORKSPACE = ['cairn_protocol', 'cairn_client', 'cairn'];

/**
 * The row of a function: the crate of its path; primitive types' impls count as `core`;
 * a library's generic code instantiated with one of the workspace's types (a Yew
 * component's `view`, a serde visitor) as `LIBRARY for CRATE`.
 */
function rowOf(path) {
  const crate = crateOf(path);
  if (WORKSPACE.includes(crate) || crate === 'wasm-bindgen glue shims') return crate;
  const user = WORKSPACE.find((w) => path.includes(`${w}[`) || path.includes(`${w}::`));
  return user ? `${crate} for ${user}` : crate;
}

function crateOf(path) {
  let p = path;
  for (;;) {
    const before = p;
    p = p.replace(/^[<&*\[(\s]+/, '').replace(/^(mut|const|dyn|impl)\s+/, '');
    if (p === before) break;
  }
  const m = /^([A-Za-z_][A-Za-z0-9_]*)/.exec(p);
  if (!m) return '(other)';
  if (PRIMITIVES.test(m[1])) return 'core';
  if (m[1].startsWith('__wbg') || m[1].startsWith('__wbindgen') || m[1].startsWith('__externref')) return 'wasm-bindgen glue shims';
  return m[1];
}

const groups = new Map();
for (const { index, body } of bodies) {
  const name = names.get(index);
  const crate = name === undefined ? 'functions without a name' : rowOf(demangle(name));
  const g = groups.get(crate) ?? { parts: [], bytes: 0, functions: 0 };
  g.parts.push(body);
  g.bytes += body.length;
  g.functions++;
  groups.set(crate, g);
}
for (const [label, body] of Object.entries(sections)) {
  if (label === 'custom section "name"') continue; // not shipped
  groups.set(label, { parts: [body], bytes: body.length, functions: 0 });
}
const gz = (b) => gzipSync(b, { level: 9 }).length;
const br = (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 24 } }).length;
const rows = [...groups].map(([name, g]) => {
  const all = Buffer.concat(g.parts);
  return { name, bytes: g.bytes, functions: g.functions, gz: gz(all), br: br(all) };
});
rows.sort((a, b) => b.gz - a.gz);
const total = rows.reduce((t, r) => ({ bytes: t.bytes + r.bytes, gz: t.gz + r.gz, br: t.br + r.br }), { bytes: 0, gz: 0, br: 0 });
const kib = (n) => (n / 1024).toFixed(1);
console.log('| crate or section | functions | bytes | gzipped alone | brotli alone | share of gzipped |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of rows.slice(0, Number(top))) {
  console.log(`| ${r.name} | ${r.functions || ''} | ${kib(r.bytes)} KiB | ${kib(r.gz)} KiB | ${kib(r.br)} KiB | ${((100 * r.gz) / total.gz).toFixed(1)} % |`);
}
const rest = rows.slice(Number(top));
if (rest.length) {
  const sum = (k) => rest.reduce((t, r) => t + r[k], 0);
  console.log(`| ${rest.length} others | | ${kib(sum('bytes'))} KiB | ${kib(sum('gz'))} KiB | ${kib(sum('br'))} KiB | ${((100 * sum('gz')) / total.gz).toFixed(1)} % |`);
}
const shipped = Buffer.concat(Object.entries(sections).filter(([l]) => l !== 'custom section "name"').map(([, b]) => b));
console.log(`| **sum of the parts** | ${bodies.length} | ${kib(total.bytes)} KiB | ${kib(total.gz)} KiB | ${kib(total.br)} KiB | |`);
console.log(`\n(${file}: ${kib(bytes.length)} KiB with its name section; code + other sections compressed together as one: see the build's own .gz/.br copies for the shipped module. Non-code sections alone: ${kib(gz(shipped))} KiB gzipped.)`);

// The largest functions, crate hashes left out.
const short = (name) => demangle(name).replace(/\[[0-9a-f]{13,16}\]/g, '');
const largest = bodies.map(({ index, body }) => ({ name: short(names.get(index) ?? '(no name)'), bytes: body.length, gz: gz(body) }));
largest.sort((a, b) => b.bytes - a.bytes);
console.log('\n| largest functions | bytes | gzipped alone |');
console.log('|---|---:|---:|');
for (const f of largest.slice(0, 15)) {
  const name = f.name.length > 140 ? `${f.name.slice(0, 137)}...` : f.name;
  console.log(`| \`${name.replace(/\|/g, '\\|')}\` | ${kib(f.bytes)} KiB | ${kib(f.gz)} KiB |`);
}
