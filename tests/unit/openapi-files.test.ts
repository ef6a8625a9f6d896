import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { renderOpenApiFiles } from '../../scripts/openapi.js';

describe('npm run openapi', () => {
  it('has written the current document and client types: the committed files equal what it generates', async () => {
    for (const file of await renderOpenApiFiles()) {
      const onDisk = readFileSync(file.path, 'utf8');
      assert.ok(onDisk === file.content, `${file.path} is stale: run npm run openapi`);
    }
  });
});
