/** Which checkpoints a new pod of a workload can take, and which retention removes. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  beyondRetention,
  incompatibility,
  latestCompatible,
  type Manifest,
  type WorkloadIdentity,
} from '../../../src/lib/storage/index.js';

const web: WorkloadIdentity = {
  namespace: 'prod',
  owner: { kind: 'Deployment', name: 'web' },
  container: 'server',
  image: 'registry.example.com/web@sha256:aaaa',
  gpus: { count: 1, model: 'NVIDIA H100 80GB HBM3' },
  arch: 'x64',
};

function manifest(id: string, minute: number, identity: WorkloadIdentity | undefined): Manifest {
  return {
    schemaVersion: 1,
    checkpointId: id,
    version: randomUUID(),
    createdAt: `2026-11-30T10:${String(minute).padStart(2, '0')}:00.000Z`,
    node: 'n',
    runtime: 'containerd',
    target: { namespace: 'prod', pod: id },
    workload: {},
    criu: { version: '4.2', leaveRunning: true },
    ...(identity ? { identity } : {}),
    durations: {},
    sizeBytes: 0,
    files: [],
  };
}

describe('workload identity: latest compatible checkpoint and retention', () => {
  it('takes the newest checkpoint of the same workload that matches image, architecture and GPUs', () => {
    const all = [
      manifest('old', 1, web),
      manifest('newer-other-image', 3, { ...web, image: 'registry.example.com/web@sha256:bbbb' }),
      manifest('middle', 2, web),
      manifest('other-workload', 4, { ...web, owner: { kind: 'Deployment', name: 'api' } }),
      manifest('no-identity', 5, undefined),
    ];
    const { manifest: found, passedOver } = latestCompatible(all, web);
    assert.equal(found?.checkpointId, 'middle');
    assert.deepEqual(passedOver, [
      'newer-other-image: image registry.example.com/web@sha256:bbbb, the pod runs registry.example.com/web@sha256:aaaa',
    ]);
  });

  it('says what differs: GPU count and model, architecture; a tag is the same image only by digest', () => {
    assert.match(incompatibility(web, { ...web, gpus: { count: 2 } })!, /1 GPU\(s\), the pod has 2/);
    assert.match(incompatibility(web, { ...web, gpus: { count: 1, model: 'NVIDIA A100' } })!, /GPU model/);
    assert.equal(
      incompatibility(web, { ...web, gpus: { count: 1 } }),
      undefined,
      'an unknown model is no difference',
    );
    assert.match(incompatibility(web, { ...web, arch: 'arm64' })!, /architecture x64, the node is arm64/);
    assert.equal(incompatibility(web, { ...web, image: 'other.example.com/web:2@sha256:aaaa' }), undefined);
    assert.equal(incompatibility(web, { ...web, ordinal: 1 }), 'another workload');
  });

  it('retention keeps the newest N of a workload and touches no other workload', () => {
    const all = [
      manifest('a', 1, web),
      manifest('b', 2, web),
      manifest('c', 3, web),
      manifest('x', 0, { ...web, container: 'sidecar' }),
    ];
    assert.deepEqual(
      beyondRetention(all, web, 2).map((m) => m.checkpointId),
      ['a'],
    );
    assert.deepEqual(
      beyondRetention(all, web, 0).map((m) => m.checkpointId),
      ['c', 'b', 'a'],
    );
  });
});
