/**
 * One picture to draw, as plain data (so that it can be sent to a worker thread), and the function
 * that draws it. Drawing is pure: a task always gives the same bytes, wherever it runs.
 */
import { drawIjbRow, ijbIdentity, type DrawnIjbRow } from './ijb-write';
import type { PlannedMedia } from './ijb-plan';
import { drawTrainImage, trainIdentity, type TrainImageTruth } from './train-set';
import type { FaceIdentity } from './face';

export type DrawTask = { kind: 'train'; seed: number; label: number; k: number } | { kind: 'ijb'; seed: number; subjectIndex: number; media: PlannedMedia; frame: number };

export type DrawResult = { kind: 'train'; jpeg: Uint8Array; truth: Omit<TrainImageTruth, 'imageId'> } | ({ kind: 'ijb' } & DrawnIjbRow);

/** Identities are drawn once per thread and reused for all their pictures. */
const identities = new Map<string, FaceIdentity>();

function identityOf(task: DrawTask): FaceIdentity {
  const key = task.kind === 'train' ? `train:${task.seed}:${task.label}` : `ijb:${task.seed}:${task.subjectIndex}`;
  let id = identities.get(key);
  if (!id) {
    if (identities.size > 10_000) identities.clear();
    id = task.kind === 'train' ? trainIdentity(task.seed, task.label) : ijbIdentity(task.seed, task.subjectIndex);
    identities.set(key, id);
  }
  return id;
}

export function runDrawTask(task: DrawTask): DrawResult {
  const identity = identityOf(task);
  if (task.kind === 'train') {
    const drawn = drawTrainImage(task.seed, identity, task.label, task.k);
    return { kind: 'train', jpeg: drawn.jpeg, truth: drawn.truth };
  }
  return { kind: 'ijb', ...drawIjbRow(task.seed, identity, task.media, task.frame) };
}
