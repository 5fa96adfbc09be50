// The sample workspace as `npm start` prepares it (scripts/start.js), shared with the UI scenario that
// follows the sample's README (test/ui/sampleReadme.test.ts): the files of sample/ plus the large
// module generated at start (scripts/startOptions.js generateLargeFile). The sample folder is passed
// in: the UI scenario runs bundled, away from this file.
const fs = require('fs');
const path = require('path');
const { generateLargeFile } = require('./startOptions');

/** Workspace-relative paths (forward slashes) of the files under `dir`, hidden folders included. */
function listFiles(dir, rel = '') {
  const out = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(dir, r));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

/**
 * What the try-out workspace holds at start: path -> contents.
 * @param {string} sampleDir the repository's sample/ folder
 * @returns {Record<string, Buffer>}
 */
function sampleContents(sampleDir) {
  const contents = {};
  for (const rel of listFiles(sampleDir)) contents[rel] = fs.readFileSync(path.join(sampleDir, rel));
  const large = generateLargeFile();
  contents[large.path] = Buffer.from(large.text);
  return contents;
}

/**
 * Writes `rels` of `contents` under `target` (every file when `rels` is left out), creating folders.
 * @param {Record<string, Buffer>} contents
 * @param {string} target
 * @param {string[]} [rels]
 */
function writeSampleFiles(contents, target, rels = Object.keys(contents)) {
  for (const rel of rels) {
    const file = path.join(target, ...rel.split('/'));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, contents[rel]);
  }
}

/**
 * A fresh copy of the sample workspace, as a first `npm start` (or `--fresh`) makes it: `target` is
 * emptied, then filled. Returns the paths written, sorted.
 * @param {string} sampleDir
 * @param {string} target
 * @returns {string[]}
 */
function copySampleWorkspace(sampleDir, target) {
  fs.rmSync(target, { recursive: true, force: true });
  const contents = sampleContents(sampleDir);
  writeSampleFiles(contents, target);
  return Object.keys(contents).sort();
}

module.exports = { sampleContents, writeSampleFiles, copySampleWorkspace };
