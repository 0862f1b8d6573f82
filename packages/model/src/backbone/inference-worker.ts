/**
 * Worker-thread side of IResNetWorkerPool: one tfjs backend and one folded IResNet per thread
 * (the wasm backend has no threads of its own under Node, so threads are how extraction uses
 * every core).
 */
import { parentPort } from 'node:worker_threads';
import { initBackend } from '../backend';
import { IResNetInference } from './inference';
import type { WorkerReply, WorkerRequest } from './worker-pool';

let model: IResNetInference | undefined;

function reply(message: WorkerReply, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(message, transfer);
}

parentPort!.on('message', async (msg: WorkerRequest) => {
  try {
    if (msg.type === 'init') {
      await initBackend({ backend: msg.backend, log: null });
      model = IResNetInference.fromWeights({ config: msg.config, tensors: new Map(msg.tensors), counters: new Map() });
      reply({ type: 'ready', id: msg.id });
    } else if (msg.type === 'embed') {
      if (!model) throw new Error('worker used before init');
      const out = model.embed(msg.images, msg.count);
      reply({ type: 'embedded', id: msg.id, embedding: out.embedding, norm: out.norm }, [out.embedding.buffer as ArrayBuffer, out.norm.buffer as ArrayBuffer]);
    } else {
      model?.dispose();
      model = undefined;
      reply({ type: 'closed', id: msg.id });
    }
  } catch (e) {
    reply({ type: 'failed', id: msg.id, message: e instanceof Error ? e.message : String(e) });
  }
});
