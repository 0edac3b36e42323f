import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  describeCredentialFile,
  missingCredentialHint,
  rejectedCredentialHint,
  searchedPlaces,
} from '../../../../src/source/oras/credential-hints.js';

test('a missing credential: where orasfly looked, DEBUG, and every way to log in', () => {
  const h = missingCredentialHint(
    'r.example:5000',
    searchedPlaces(undefined, false),
    'docker-credential-x: get failed',
  );
  assert.match(h, /^no credential for r\.example:5000 was found \(looked in the containers auth files/);
  assert.match(h, /DEBUG=orasfly:auth lists the files/);
  assert.match(h, /docker-credential-x: get failed/);
  for (const how of [
    '`docker login r.example:5000`',
    '`podman login r.example:5000`',
    '`apptainer registry login --username USER oras://r.example:5000`',
    '`--username USER --password-stdin`',
  ])
    assert.ok(h.includes(how), how);
  assert.match(
    searchedPlaces(['/a.json', '/b.json'], true),
    /^the credentials option, the registry config \/a\.json, \/b\.json/,
  );
  assert.match(searchedPlaces([], false), /no file/);
});

test('a rejected credential names its source; files are named by what wrote them', () => {
  assert.match(
    rejectedCredentialHint('r', 'the docker config /h/.docker/config.json (docker login)'),
    /from the docker config .* was rejected; log in again with/,
  );
  assert.equal(
    describeCredentialFile({ path: '/h/.apptainer/docker-config.json', format: 'docker' }, false),
    'the Apptainer login file /h/.apptainer/docker-config.json (apptainer registry login)',
  );
  assert.equal(
    describeCredentialFile({ path: '/h/.docker/config.json', format: 'docker' }, false),
    'the docker config /h/.docker/config.json (docker login)',
  );
  assert.equal(
    describeCredentialFile({ path: '/run/auth.json', format: 'containers' }, false),
    'the containers auth file /run/auth.json (podman/skopeo login)',
  );
  assert.equal(describeCredentialFile({ path: '/x.json', format: 'containers' }, true), 'the registry config /x.json');
});
