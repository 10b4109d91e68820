// Reads Markdown files the way a renderer does and checks their Mermaid
// blocks with Mermaid's own parser. hangtui's Go tests run it (see
// internal/mdcheck); CI installs it with `npm ci` (.ci/run).
//
//   node check.mjs FILE...
//
// Prints one JSON object: {"files": [{"file", "fences", "mermaid": [{"line",
// "ok", "type", "error", "chars"}]}]} and exits 1 when a Mermaid block does
// not parse or is larger than Mermaid's default maxTextSize (50,000
// characters, which GitHub keeps), 2 on bad usage.
//
// Mermaid's parser needs a DOM for DOMPurify: jsdom provides one. No
// browser is involved, so the diagrams are parsed (syntax, node and link
// references, styles) but not laid out.
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';
import MarkdownIt from 'markdown-it';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node check.mjs FILE...');
  process.exit(2);
}

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false });

const MAX_TEXT = 50000;
const md = new MarkdownIt({ html: true });
const out = { files: [] };
let failed = false;
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const tokens = md.parse(text, {});
  const res = { file, fences: 0, mermaid: [] };
  for (const tok of tokens) {
    if (tok.type !== 'fence') continue;
    res.fences++;
    if (tok.info.trim().split(/\s+/)[0] !== 'mermaid') continue;
    const m = { line: tok.map ? tok.map[0] + 1 : 0, chars: tok.content.length, ok: true };
    try {
      if (tok.content.length > MAX_TEXT) {
        throw new Error(`diagram has ${tok.content.length} characters, more than Mermaid's maxTextSize ${MAX_TEXT}`);
      }
      const r = await mermaid.parse(tok.content);
      m.type = r.diagramType;
    } catch (e) {
      m.ok = false;
      m.error = String(e && e.message ? e.message : e);
      failed = true;
    }
    res.mermaid.push(m);
  }
  out.files.push(res);
}
console.log(JSON.stringify(out));
process.exit(failed ? 1 : 0);
